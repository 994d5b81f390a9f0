"""unicode_loose_md5 puts values that compare equal case- and accent-insensitively on one keyspace id."""

import hashlib

from shardline.vindexes.registry import create_vindex


def test_equal_under_a_unicode_ci_collation_means_equal_keyspace_id():
    vindex = create_vindex("unicode_loose_md5", "u")
    same = vindex.map(["Ana", "ANA", "ana  ", "Aña", "ÀNA", b"ana"])
    assert len(set(same)) == 1
    assert same[0] == hashlib.md5(b"ana").digest()


def test_different_text_means_different_keyspace_id():
    vindex = create_vindex("unicode_loose_md5", "u")
    ids = vindex.map(["ana", "anna", " ana", "ana b", "straße", "strasse"])
    assert len(set(ids[:5])) == 5
    assert ids[4] == ids[5]  # ß case-folds to ss, as the unicode_ci collations compare them
    assert all(len(k) == 16 for k in ids)
