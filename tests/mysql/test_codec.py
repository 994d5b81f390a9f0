"""The sans-IO core: framing, encodings, packets and binary values, without sockets."""

from __future__ import annotations

import datetime
import hashlib
import struct
from decimal import Decimal
from pathlib import Path

import pytest

from shardline.errors import InvalidArgument, MalformedPacket, MySQLError, PacketTooLarge, ShardlineError
from shardline.mysql import auth
from shardline.mysql.binary import (
    binary_row_encoder,
    build_execute,
    build_prepare_ok,
    parse_binary_row,
    parse_execute,
    parse_prepare_ok,
    retarget_execute,
)
from shardline.mysql.client_protocol import ClientHandshake, ResponseScanner
from shardline.mysql.constants import CAPABILITIES, MAX_PAYLOAD_CHUNK, ColumnFlag, ServerStatus
from shardline.mysql.framing import PacketReader, frame, frame_all, resequence, split_packets
from shardline.mysql.handshake import (
    Handshake,
    HandshakeResponse,
    build_auth_switch_request,
    parse_auth_switch_request,
)
from shardline.mysql.responses import (
    build_eof,
    build_error,
    build_ok,
    is_eof,
    parse_eof,
    parse_error,
    parse_ok,
)
from shardline.mysql.resultset import (
    build_column,
    build_text_row,
    concat_result_sets,
    count_rows,
    decode_responses,
    parse_column,
    parse_text_row,
    result_set_payloads,
)
from shardline.mysql.server_protocol import Authenticated, CommandPacket, Refused, ServerProtocol
from shardline.mysql.sqlstate import sqlstate_for
from shardline.mysql.users import UserStore
from shardline.mysql.wire import Reader, lenenc_bytes, lenenc_int
from shardline.sqltypes import Field, FieldType, Result

BIG = MAX_PAYLOAD_CHUNK


@pytest.mark.parametrize("size", [0, 1, BIG - 1, BIG, BIG + 1, 2 * BIG, 2 * BIG + 5])
def test_frame_splits_and_reader_reassembles(size: int) -> None:
    payload = bytes(i % 251 for i in range(size)) if size < 100 else b"\x07" * size
    data, next_seq = frame(payload, 3)
    packets = size // BIG + 1
    assert next_seq == 3 + packets
    assert len(data) == size + 4 * packets
    reader = PacketReader(max_payload=3 * BIG)
    out = []
    for i in range(0, len(data), 1 << 20):  # delivered in 1 MiB chunks
        out.extend(reader.feed(data[i : i + (1 << 20)]))
    assert out == [(3 + packets - 1, payload)]
    assert reader.buffered() == 0
    assert split_packets(data + frame(b"next", 0)[0]) == [payload, b"next"]


def test_reader_returns_several_packets_and_keeps_a_partial_one() -> None:
    data, _ = frame_all([b"a", b"bc", b"def"], 0)
    reader = PacketReader()
    assert reader.feed(data[:-2]) == [(0, b"a"), (1, b"bc")]
    assert reader.buffered() == 5
    assert reader.feed(data[-2:]) == [(2, b"def")]


def test_frame_all_numbers_packets_across_the_wrap_and_splits_big_payloads() -> None:
    payloads = [b"x" * (n % 7) for n in range(300)] + [b"y" * (BIG + 1), b"z"]
    data, next_seq = frame_all(payloads, 250)
    one_by_one, seq = [], 250
    for payload in payloads:
        framed, seq = frame(payload, seq)
        one_by_one.append(framed)
    assert data == b"".join(one_by_one) and next_seq == seq
    assert data[3] == 250 and data[4 * 6 + sum(n % 7 for n in range(6)) + 3] == 0  # the 7th packet wraps to 0
    assert split_packets(data) == payloads


def test_reader_refuses_an_oversized_packet_from_its_header() -> None:
    reader = PacketReader(max_payload=100)
    with pytest.raises(PacketTooLarge) as info:
        reader.feed(b"\x65\x00\x00\x00")  # announces 101 bytes; none of them sent yet
    assert (info.value.code, info.value.sqlstate) == (1153, "08S01")
    split = PacketReader(max_payload=BIG + 10)
    with pytest.raises(PacketTooLarge):
        split.feed(b"\xff\xff\xff\x00" + b"x" * BIG + b"\x0b\x00\x00\x01")


def test_resequence_renumbers_packets() -> None:
    data, _ = frame_all([b"a", b"bc"], 1)
    renumbered, next_seq = resequence(data, 5)
    assert renumbered == b"\x01\x00\x00\x05a\x02\x00\x00\x06bc" and next_seq == 7


@pytest.mark.parametrize("value", [0, 250, 251, 0xFFFF, 0x10000, 0xFFFFFF, 0x1000000, 2**64 - 1])
def test_lenenc_int_round_trip(value: int) -> None:
    encoded = lenenc_int(value)
    r = Reader(encoded)
    assert r.lenenc_int() == value and r.at_end()


def test_lenenc_bytes_and_truncation() -> None:
    assert Reader(lenenc_bytes(b"x" * 300)).lenenc_bytes() == b"x" * 300
    with pytest.raises(MalformedPacket):
        Reader(b"\x05abc").lenenc_bytes()
    with pytest.raises(MalformedPacket):
        Reader(b"\xff").lenenc_int()


def test_handshake_round_trip() -> None:
    scramble = auth.new_scramble()
    assert len(scramble) == 20 and b"\0" not in scramble
    greeting = Handshake("10.11.19-MariaDB-shardline", 42, scramble, int(CAPABILITIES), 45, 2)
    assert Handshake.parse(greeting.build()) == greeting
    response = HandshakeResponse(
        int(CAPABILITIES), 1 << 24, 45, "app", b"\x01" * 20, "db", "mysql_native_password", {"_client": "x"}
    )
    assert HandshakeResponse.parse(response.build()) == response


def test_ssl_request_and_old_protocol_are_recognized() -> None:
    ssl = HandshakeResponse.parse((int(CAPABILITIES) | 1 << 11).to_bytes(4, "little") + bytes(28))
    assert ssl.ssl_request
    with pytest.raises(MalformedPacket):
        HandshakeResponse.parse(bytes(32))


def test_auth_switch_request_round_trip() -> None:
    packet = build_auth_switch_request("mysql_native_password", b"s" * 20)
    assert parse_auth_switch_request(packet) == ("mysql_native_password", b"s" * 20)


def test_native_password_matches_its_definition() -> None:
    scramble = b"0123456789abcdefghij"
    stage1 = hashlib.sha1(b"secret").digest()
    expected = bytes(
        a ^ b
        for a, b in zip(stage1, hashlib.sha1(scramble + hashlib.sha1(stage1).digest()).digest(), strict=True)
    )
    assert auth.native_password_scramble("secret", scramble) == expected
    assert auth.native_password_verify("secret", scramble, expected)
    assert not auth.native_password_verify("other", scramble, expected)
    assert auth.native_password_scramble("", scramble) == b""
    assert auth.caching_sha2_verify("secret", scramble, auth.caching_sha2_scramble("secret", scramble))
    assert not auth.caching_sha2_verify("secret", scramble, expected)


def test_ok_err_eof_round_trip() -> None:
    ok = parse_ok(build_ok(3, 2**40, ServerStatus.IN_TRANS | ServerStatus.AUTOCOMMIT, 1, "Rows matched: 3"))
    assert (ok.affected_rows, ok.insert_id, ok.status, ok.warnings, ok.info) == (
        3,
        2**40,
        3,
        1,
        "Rows matched: 3",
    )
    assert parse_ok(build_ok(0, 0, 2)).info == ""
    eof = build_eof(ServerStatus.MORE_RESULTS_EXISTS, 2)
    assert is_eof(eof) and parse_eof(eof) == (ServerStatus.MORE_RESULTS_EXISTS, 2)
    err = parse_error(build_error(MySQLError(1146, "42S02", "Table 't' doesn't exist")))
    assert (err.code, err.sqlstate, err.message) == (1146, "42S02", "Table 't' doesn't exist")


def test_sqlstate_of_common_codes() -> None:
    assert sqlstate_for(1062) == "23000"
    assert sqlstate_for(1146) == "42S02"
    assert sqlstate_for(1045) == "28000"
    assert sqlstate_for(1213) == "40001"
    assert sqlstate_for(1064) == "42000"
    assert sqlstate_for(9999) == "HY000"


def test_column_definition_round_trip() -> None:
    f = Field("name", FieldType.VAR_STRING, "t", "tbl", "db", "org", 45, 400, ColumnFlag.NOT_NULL, 0)
    assert parse_column(build_column(f)) == f
    with pytest.raises(MalformedPacket):
        parse_column(build_column(f)[:-5])


def test_text_row_round_trip() -> None:
    row = (b"1", None, b"", b"x" * 70000)
    assert parse_text_row(build_text_row(row), 4) == row
    with pytest.raises(MalformedPacket):
        parse_text_row(build_text_row(row)[:10], 4)


def test_result_set_decodes_with_multi_results() -> None:
    fields = [Field("a", FieldType.LONG), Field("b")]
    more = ServerStatus.AUTOCOMMIT | ServerStatus.MORE_RESULTS_EXISTS
    payloads = result_set_payloads(fields, [build_text_row((b"1", b"x")), build_text_row((None, b"y"))], more)
    payloads.append(build_ok(2, 9, ServerStatus.AUTOCOMMIT))
    results, status = decode_responses(payloads)
    assert status == ServerStatus.AUTOCOMMIT
    assert results == [
        Result(fields, [(b"1", b"x"), (None, b"y")]),
        Result(rows_affected=2, insert_id=9),
    ]


def _response(fields: list[Field], rows: list[tuple[bytes | None, ...]], warnings: int = 0,
              status: int = ServerStatus.AUTOCOMMIT) -> bytes:
    payloads = result_set_payloads(fields, [build_text_row(r) for r in rows], status, warnings)
    return frame_all(payloads, 1)[0]


def test_concat_result_sets_relays_every_rows_with_renumbered_packets() -> None:
    fields = [Field("id", FieldType.LONG), Field("c")]
    big = b"z" * (BIG + 10)  # a row split over two packets; its second packet starts with no header byte
    low = _response(fields, [(b"1", b"a"), (b"2", None)], warnings=1)
    empty = _response(fields, [], warnings=2)
    high = _response(fields, [(b"9", big)] + [(str(i).encode(), b"x") for i in range(300)],
                     status=ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS)
    data = concat_result_sets([low, empty, high])
    assert data is not None
    results, status = decode_responses(split_packets(data))
    assert results == [Result(fields, [(b"1", b"a"), (b"2", None), (b"9", big)]
                              + [(str(i).encode(), b"x") for i in range(300)], warnings=3)]
    assert status == ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS  # the last response's final EOF
    assert resequence(data, 1)[0] == data  # sequence ids from 1, wrapping past 255, one per packet


def test_concat_result_sets_declines_what_is_not_one_result_set() -> None:
    fields = [Field("a", FieldType.LONG)]
    rows = _response(fields, [(b"1",)])
    ok = frame(build_ok(1, 0, ServerStatus.AUTOCOMMIT), 1)[0]
    more = _response(fields, [(b"2",)], status=ServerStatus.AUTOCOMMIT | ServerStatus.MORE_RESULTS_EXISTS)
    assert concat_result_sets([rows, ok]) is None
    assert concat_result_sets([more + ok, rows]) is None
    assert concat_result_sets([rows, rows[:-3]]) is None  # cut short: no final EOF
    assert concat_result_sets([rows, _response([fields[0], Field("b")], [(b"1", b"2")])]) is None  # 1 and 2 columns


def test_count_rows_counts_a_result_sets_rows_as_received() -> None:
    fields = [Field("id", FieldType.LONG), Field("c")]
    big = b"z" * (BIG + 10)  # one row over two packets
    assert count_rows(_response(fields, [(b"9", big)] + [(str(i).encode(), b"x") for i in range(300)])) == 301
    assert count_rows(_response(fields, [])) == 0
    assert count_rows(frame(build_ok(3, 0, ServerStatus.AUTOCOMMIT), 1)[0]) == 0  # not a result set


TYPED_VALUES = [
    (Field("t", FieldType.TINY), b"-128"),
    (Field("tu", FieldType.TINY, flags=ColumnFlag.UNSIGNED), b"255"),
    (Field("s", FieldType.SHORT), b"-32768"),
    (Field("su", FieldType.SHORT, flags=ColumnFlag.UNSIGNED), b"65535"),
    (Field("m", FieldType.INT24), b"-8388608"),
    (Field("i", FieldType.LONG), b"-2147483648"),
    (Field("iu", FieldType.LONG, flags=ColumnFlag.UNSIGNED), b"4294967295"),
    (Field("b", FieldType.LONGLONG), b"-9223372036854775808"),
    (Field("bu", FieldType.LONGLONG, flags=ColumnFlag.UNSIGNED), b"18446744073709551615"),
    (Field("z", FieldType.LONG, column_length=6, flags=ColumnFlag.ZEROFILL | ColumnFlag.UNSIGNED), b"000042"),
    (Field("y", FieldType.YEAR, column_length=4, flags=ColumnFlag.UNSIGNED), b"2155"),
    (Field("f", FieldType.FLOAT), b"-1.5"),
    (Field("d", FieldType.DOUBLE), b"3.141592653589793"),
    (Field("d2", FieldType.DOUBLE), b"1e-16"),
    (Field("dec", FieldType.NEWDECIMAL), b"-12345678.91"),
    (Field("date", FieldType.DATE), b"2026-11-25"),
    (Field("zero", FieldType.DATE), b"0000-00-00"),
    (Field("dt", FieldType.DATETIME), b"9999-12-31 23:59:59"),
    (Field("dt0", FieldType.DATETIME), b"2026-01-02 00:00:00"),
    (Field("dt6", FieldType.DATETIME, decimals=6), b"2026-11-25 09:08:07.123456"),
    (Field("ts3", FieldType.TIMESTAMP, decimals=3), b"2038-01-19 03:14:07.999"),
    (Field("tm", FieldType.TIME), b"-838:59:59"),
    (Field("tm0", FieldType.TIME), b"00:00:00"),
    (Field("tm6", FieldType.TIME, decimals=6), b"-12:34:56.000789"),
    (Field("vc", FieldType.VAR_STRING), "héllo".encode()),
    (Field("bl", FieldType.BLOB), b"\x00\xff" * 200),
    (Field("bit", FieldType.BIT), b"\x02\xaa"),
    (Field("js", FieldType.JSON), b'{"k": 1}'),
    (Field("n", FieldType.LONG), None),
]


def test_binary_row_round_trip_for_every_type() -> None:
    fields = [f for f, _ in TYPED_VALUES]
    row = tuple(v for _, v in TYPED_VALUES)
    assert parse_binary_row(binary_row_encoder(fields)(row), fields) == row


def test_one_binary_row_encoder_serves_every_row_of_a_result() -> None:
    fields = [f for f, v in TYPED_VALUES if v is not None]
    encode = binary_row_encoder(fields)
    full = tuple(v for _, v in TYPED_VALUES if v is not None)
    holes = tuple(None if i % 3 == 0 else v for i, v in enumerate(full))
    for row in (full, holes, full):  # with no NULL at all, then NULLs, then none again
        assert parse_binary_row(encode(row), fields) == row


def test_binary_row_rejects_text_that_does_not_fit_the_type() -> None:
    with pytest.raises(InvalidArgument, match="column 'i'"):
        binary_row_encoder([Field("s", FieldType.VAR_STRING), Field("i", FieldType.LONG)])((b"ok", b"1.5x"))
    with pytest.raises(InvalidArgument):
        binary_row_encoder([Field("t", FieldType.TINY)])((b"300",))
    with pytest.raises(InvalidArgument):
        binary_row_encoder([Field("i", FieldType.LONG)])((b"abc",))


def test_prepare_ok_round_trip() -> None:
    assert parse_prepare_ok(build_prepare_ok(7, 3, 2, 1)) == (7, 3, 2, 1)


PARAMS = [
    None, 0, -1, 2**63 - 1, 2**64 - 1, 1.5, Decimal("-0.001"), "héllo", b"\x00\xff", True,
    datetime.date(2026, 11, 25), datetime.datetime(2026, 11, 25, 9, 8, 7, 123),
    datetime.datetime(2026, 11, 25), datetime.timedelta(days=-2, seconds=5), datetime.timedelta(0),
]  # fmt: skip


def test_execute_round_trip_with_types_and_nulls() -> None:
    body = build_execute(9, PARAMS)[1:]
    params, types = parse_execute(body, len(PARAMS), None)
    expected = [1 if p is True else p for p in PARAMS]
    expected[12] = datetime.datetime(2026, 11, 25)  # sent as a date-only DATETIME, read back as a datetime
    assert params == expected
    assert types is not None and types[4] == FieldType.LONGLONG | 0x8000  # unsigned flag


def test_execute_without_types_reuses_the_bound_ones() -> None:
    first = build_execute(1, [5, "a"])[1:]
    _, types = parse_execute(first, 2, None)
    again = bytearray(first)
    again[10] = 0  # new-params-bound flag off: no types follow
    del again[11:15]
    assert parse_execute(bytes(again), 2, types)[0] == [5, "a"]
    with pytest.raises(MalformedPacket):
        parse_execute(bytes(again), 2, None)


def test_retarget_execute_keeps_the_values_and_adds_bound_types() -> None:
    first = build_execute(1, [5, "a", None])[1:]
    _, types = parse_execute(first, 3, None)
    moved = retarget_execute(first, 77, 3, types)
    assert moved[0] == 0x17 and struct.unpack_from("<I", moved, 1)[0] == 77
    assert moved[5:] == first[4:]  # types already there: the client's bytes as they are
    assert parse_execute(moved[1:], 3, None)[0] == [5, "a", None]
    again = bytearray(first)
    again[10] = 0  # the client relies on the types of its earlier execution
    del again[11:17]
    moved = retarget_execute(bytes(again), 78, 3, types)
    assert parse_execute(moved[1:], 3, None) == ([5, "a", None], types)  # the other connection gets the types
    assert retarget_execute(build_execute(4, [])[1:], 9, 0, None) == build_execute(9, [])


def test_execute_long_data_and_truncation() -> None:
    body = build_execute(1, [None, "x"])[1:]
    params, _ = parse_execute(body, 2, None, {0: b"long"})
    assert params == [None, "x"]  # NULL in the bitmap wins
    with pytest.raises(MalformedPacket):
        parse_execute(build_execute(1, [123456])[1:-3], 1, None)
    with pytest.raises(InvalidArgument):
        build_execute(1, [object()])


def _scan(chunks: list[bytes], prepare: bool = False) -> ResponseScanner:
    scanner = ResponseScanner()
    scanner.start(prepare)
    buf = b""
    pos = 0
    for chunk in chunks:
        buf += chunk
        pos = scanner.scan(buf, pos)
    assert pos == len(buf)
    return scanner


def test_scanner_finds_the_end_of_multi_results_byte_by_byte() -> None:
    fields = [Field("a")]
    more = ServerStatus.AUTOCOMMIT | ServerStatus.MORE_RESULTS_EXISTS
    payloads = result_set_payloads(fields, [build_text_row((b"\xfe" * 3,))], more)
    payloads.append(build_ok(0, 0, ServerStatus.IN_TRANS))
    data, _ = frame_all(payloads, 1)
    scanner = ResponseScanner()
    scanner.start()
    for i in range(1, len(data)):
        assert scanner.scan(data[:i], 0) <= i
        assert not scanner.done or i == len(data)
        scanner.start()
    done = _scan([data])
    assert done.done and done.status == ServerStatus.IN_TRANS and done.error is None


def test_scanner_reports_an_error_after_rows_and_skips_split_rows() -> None:
    big_row = build_text_row((b"x" * (BIG + 10),))
    payloads = result_set_payloads([Field("a")], [big_row], 2)[:-1]
    payloads.append(build_error(MySQLError(1317, "70100", "Query execution was interrupted")))
    data, _ = frame_all(payloads, 1)
    scanner = _scan([data[: BIG // 2], data[BIG // 2 :]])
    assert scanner.error is not None and scanner.error.code == 1317


def test_scanner_of_a_prepare_response() -> None:
    payloads = [build_prepare_ok(1, 1, 2), build_column(Field("?")), build_column(Field("?")), build_eof(2)]
    payloads += [build_column(Field("c")), build_eof(2)]
    data, _ = frame_all(payloads, 1)
    assert _scan([data], prepare=True).done
    no_columns, _ = frame_all([build_prepare_ok(1, 0, 0)], 1)
    assert _scan([no_columns], prepare=True).done


def test_scanner_refuses_oversized_packets() -> None:
    scanner = ResponseScanner(max_payload=10)
    scanner.start()
    with pytest.raises(PacketTooLarge):
        scanner.scan(b"\x0b\x00\x00\x01", 0)


def _exchange(server: ServerProtocol, client: ClientHandshake) -> list[object]:
    """Runs the connection phase between the two state machines in memory; returns the server's last events."""
    reader = PacketReader()
    ((seq, payload),) = reader.feed(server.greeting())
    events = server.receive_data(frame(client.receive(payload) or b"", seq + 1)[0])
    return events


def test_server_and_client_state_machines_in_memory() -> None:
    users = UserStore({"u": "pw"})
    server = ServerProtocol(7, "10.11.19-MariaDB-shardline", users, "10.0.0.1")
    client = ClientHandshake("u", "pw", "db")
    (event,) = _exchange(server, client)
    assert isinstance(event, Authenticated) and (event.user, event.database) == ("u", "db")
    ((seq, ok),) = PacketReader().feed(server.accept())
    assert seq == 2 and client.receive(ok) is None and client.done
    (command,) = server.receive_data(frame(b"\x03SELECT 1", 0)[0] + frame(b"\x0e", 0)[0][:2])
    assert isinstance(command, CommandPacket) and (command.kind, command.body) == (3, b"SELECT 1")
    server.begin(command)
    response = server.build_result(Result([Field("1", FieldType.LONGLONG)], [(b"1",)]))
    assert response[3] == 1
    scanner = _scan([response])
    assert scanner.done and scanner.status == ServerStatus.AUTOCOMMIT
    results, _ = decode_responses([p for _, p in PacketReader().feed(response)])
    assert results[0].rows == [(b"1",)]
    (ping,) = server.receive_data(frame(b"\x0e", 0)[0][2:])
    assert ping.kind == 0x0E


def test_server_state_machine_refuses_a_wrong_password() -> None:
    server = ServerProtocol(1, "v", UserStore({"u": "pw"}), "10.0.0.1")
    (event,) = _exchange(server, ClientHandshake("u", "bad"))
    assert isinstance(event, Refused) and event.error.code == 1045
    assert event.error.message == "Access denied for user 'u'@'10.0.0.1' (using password: YES)"
    ((seq, payload),) = PacketReader().feed(event.data)
    assert seq == 2 and parse_error(payload).sqlstate == "28000"


def test_server_state_machine_tracks_prepared_statements() -> None:
    server = ServerProtocol(1, "v", UserStore({"u": "pw"}))
    statement, response = server.prepare("SELECT ?, ?", 2, [Field("a"), Field("b")])
    assert len(PacketReader().feed(response)) == 1 + 2 + 1 + 2 + 1
    server.send_long_data(struct.pack("<IH", statement.id, 1) + b"lo")
    server.send_long_data(struct.pack("<IH", statement.id, 1) + b"ng")
    executed, params = server.execute(build_execute(statement.id, [1, "x"])[1:])
    assert executed is statement and params == [1, "long"]
    assert server.execute(build_execute(statement.id, [1, "x"])[1:])[1] == [1, "x"]  # long data was used up
    assert server.close_statement(struct.pack("<I", statement.id)) is statement
    with pytest.raises(ShardlineError) as info:
        server.execute(build_execute(statement.id, [1, "x"])[1:])
    assert info.value.code == 1243


def test_user_store_loads_json_and_refuses_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "users.json"
    good.write_text('{"app": "secret", "ro": ""}')
    store = UserStore.load(good)
    assert (store.password("app"), store.password("ro"), store.password("x")) == ("secret", "", None)
    for text in ("[1]", "{not json", '{"app": 5}'):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(InvalidArgument):
            UserStore.load(bad)
    with pytest.raises(InvalidArgument):
        UserStore.load(tmp_path / "missing.json")
