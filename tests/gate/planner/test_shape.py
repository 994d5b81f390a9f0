"""Statement shapes: the plain literals masked by kind, everything else kept; and the property the fast path
relies on: where the shape masks exactly the literals the normalizer replaces, every statement of that shape
normalizes to the same text, so it has the same plan."""

from __future__ import annotations

import random
import re
import time
from decimal import Decimal

import pytest

from shardline.errors import MySQLError
from shardline.gate.planner import normalize
from shardline.gate.planner.normalize import literal_spans
from shardline.gate.planner.shape import statement_shape
from tests.e2e.differential.corpus import corpus


def test_plain_literals_are_masked_by_kind():
    sql = "SELECT c FROM sbtest1 WHERE id=5034 AND k = 'x y' AND p > 1.50"
    shape, values, spans = statement_shape(sql)
    assert shape == "SELECT c FROM sbtest1 WHERE id=\0i AND k = \0s AND p > \0d"
    assert values == [5034, "x y", Decimal("1.50")]
    assert [sql[start:end] for start, end in spans] == ["5034", "'x y'", "1.50"]


@pytest.mark.parametrize("sql", [
    "SELECT t1.a2 FROM t1",  # digits inside names
    "SELECT `col 7` FROM `t 8`",  # quoted identifiers
    "SELECT a FROM t /* 5 */ WHERE b = c -- 6\n",  # comments
    "SELECT a FROM t # 7\n",
    "SELECT 'it''s', 'a\\'b', X'41', N'z', _utf8mb4'q', 0x1F, 1e5, .5, \"dq 9\"",  # escapes, prefixes, hex, floats
])
def test_everything_but_plain_literals_stays_as_written(sql: str):
    shape, values, _ = statement_shape(sql)
    assert shape == sql and values == []


def test_a_number_touching_a_name_or_dot_is_not_masked():
    shape, values, _ = statement_shape("SELECT t.5, 5x, 5.5.5, a-1")
    assert shape == "SELECT t.5, 5x, 5.5.5, a-\0i"
    assert values == [1]


def _mutated(sql: str, spans: list[tuple[int, int]], rng: random.Random) -> str:
    """``sql`` with each masked literal replaced by another literal of its kind (and usually another length)."""
    out, pos = [], 0
    for start, end in spans:
        text = sql[start:end]
        if text.startswith("'"):
            replacement = "'" + "".join(rng.choice("abc XYZ09%_-") for _ in range(rng.randint(0, 12))) + "'"
        elif "." in text:
            replacement = f"{rng.randint(0, 99999)}.{rng.randint(0, 999)}"
        else:
            replacement = str(rng.randint(0, 10 ** rng.randint(1, 12)))
        out += [sql[pos:start], replacement]
        pos = end
    return "".join(out) + sql[pos:]


def _corpus_statements() -> list[str]:
    statements = [query.sql for seed in (1, 2) for script in corpus(seed) for query in script.queries]
    statements += [
        "SELECT c FROM sbtest1 WHERE id BETWEEN 10 AND 109 ORDER BY c LIMIT 5, 10",
        "SELECT * FROM t WHERE a = 5 ORDER BY 1 GROUP BY 2",
        "SELECT CAST(a AS DECIMAL(10,2)), DATE '2024-01-31' FROM t WHERE b IN (1, 2, 'x')",
        "SELECT a FROM t WHERE b = 'x' 'y' AND c = -4 AND d = 3 - 1",
        "SELECT SUM(a) OVER (ORDER BY b ROWS 3 PRECEDING) FROM t WHERE c = 7",
    ]
    return statements


def test_statements_of_one_shape_normalize_alike():
    rng = random.Random(7)
    checked = 0
    for sql in _corpus_statements():
        shape, _, spans = statement_shape(sql)
        try:
            if spans != literal_spans(sql):
                continue  # the fast path never uses such a shape
        except MySQLError:
            continue  # a syntax error (the corpus has some on purpose): never relayed, never learned
        normalized = normalize(sql)[0]
        for _ in range(3):
            other = _mutated(sql, spans, rng)
            other_shape, _, other_spans = statement_shape(other)
            assert other_shape == shape, other
            assert other_spans == literal_spans(other), other
            assert normalize(other)[0] == normalized, other
        checked += 1
    assert checked > 1000  # the corpus is large; most of it qualifies


def test_shapes_that_differ_from_the_normalizer_are_detected():
    sql = "SELECT * FROM t WHERE a = 5 ORDER BY 1"  # ORDER BY 1 stays in the plan: the shape masks it
    assert statement_shape(sql)[2] != literal_spans(sql)
    assert re.sub(r"\0.", "?", statement_shape(sql)[0]) == "SELECT * FROM t WHERE a = ? ORDER BY ?"


# The regular expression the scanner replaced (3–4 µs a point select against its 1): the scanner must mask what it
# masked, everywhere, Unicode digits, word characters and spaces included.
_REFERENCE = re.compile(
    r"""
    (?=[`"/\#\-'0-9])
    (?:(?P<kept>`[^`]*(?:`|\Z)|"(?:[^"\\]|\\.)*(?:"|\\?\Z)|/\*.*?(?:\*/|\Z)|\#[^\n]*|--\s[^\n]*)
    |(?<![\w$@'])(?P<string>'[^'\\]*')(?!')
    |(?<![\w$@.])(?P<number>\d+(?:\.\d+)?)(?![\w$.])
    |(?P<other_string>'(?:[^'\\]|\\.|'')*(?:'|\\?\Z)))
    """,
    re.VERBOSE | re.DOTALL,
)


def _reference_shape(sql: str) -> tuple[str, list, list[tuple[int, int]]]:
    parts, values, spans, pos = [], [], [], 0
    for match in _REFERENCE.finditer(sql):
        kind = match.lastgroup
        if kind == "number":
            text = match.group(kind)
            values.append(Decimal(text) if "." in text else int(text))
            mark = "\0d" if "." in text else "\0i"
        elif kind == "string":
            values.append(match.group(kind)[1:-1])
            mark = "\0s"
        else:
            continue
        parts += [sql[pos:match.start()], mark]
        spans.append(match.span())
        pos = match.end()
    return ("".join(parts) + sql[pos:] if parts else sql), values, spans


def test_the_scan_masks_what_the_regular_expression_masked():
    rng = random.Random(11)
    alphabet = list("`\"/#-'0123456789.$@_ aZ\\*\n\t\x1c") + ["\u0663", "é", "\u00a0", "½", "²", "\u2028"]
    for _ in range(100_000):
        sql = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert statement_shape(sql) == _reference_shape(sql), repr(sql)
    for sql in _corpus_statements():
        assert statement_shape(sql) == _reference_shape(sql), sql


@pytest.mark.parametrize("unit", ["/* ", "'\\\\", '"\\\\', "` ", "'a\\\\", "' "])
def test_unterminated_quotes_and_comments_are_scanned_in_linear_time(unit: str):
    small, large = "SELECT " + unit * 2_000, "SELECT " + unit * 32_000

    def seconds(sql: str) -> float:  # the best of 3: a busy machine only ever adds time
        times = []
        for _ in range(3):
            started = time.perf_counter()
            statement_shape(sql)
            times.append(time.perf_counter() - started)
        return min(times)

    assert seconds(large) < max(0.05, 40 * seconds(small))  # 16 times the text; quadratic would be 256 times
