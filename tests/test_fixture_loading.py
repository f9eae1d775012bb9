"""The fast paths of fixture loading reach exactly what the slow ones reach:
the same messages or ParseDict's exact error, the same store, byte for byte,
and the same error naming the same record."""

from __future__ import annotations

import copy
import io
import json
import random
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_broker_protos.central_system.v1.central_system_pb2 import CentralSystem
from ocpp_broker_protos.connection.v1.connection_pb2 import ConnectionInfo
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.progress import Progress
from ocpp_broker_protos.reference import (
    ApiError,
    FixtureError,
    Store,
    fixtures,
    load_fixture_file,
    load_fixtures,
    rfc3339,
)
from ocpp_broker_protos.reference.records import RecordParser, transaction_row
from ocpp_broker_protos.reference.transaction_loading import Batch, _times, load_rows, row_of
from ocpp_broker_protos.reference.transactions import TransactionLog, frame
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction
from tests.test_fixtures import TXN

ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**32, 1.0, 1.5, "1", "x", "", "\ud800", "é", [], {},
]  # fmt: skip
ODD_TIMES = [
    "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.5Z", "2026-01-01T10:00:00.123456789Z",
    "2026-01-01T10:00:00.000000001Z", "2026-01-01T10:00:00.1234567891Z", "2026-01-01T10:00:00+01:00",
    "2026-01-01t10:00:00z", "2026-02-29T00:00:00Z",
    "2024-02-29T23:59:59.999Z", "2026-01-01T23:59:60Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.5Z", "2026-1-01T10:00:00Z",
    "2026-01-01T10:00:00.Z", "2026-01-01T10:00:00.12a4Z", "2026-01-01 10:00:00Z",
    "\uff12\uff10\uff12\uff16-01-01T10:00:00Z",
    "2026-01-01T10:00:00.٣Z", "2026-01-01T24:00:00Z", "yesterday", "",
]  # fmt: skip


def parsed(message_type: type, record: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", RecordParser(message_type).parse(record).SerializeToString()
    except json_format.ParseError as error:
        return "error", str(error)


def expected(message_type: type, record: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", json_format.ParseDict(record, message_type()).SerializeToString()
    except json_format.ParseError as error:
        return "error", str(error)


@pytest.mark.parametrize("message_type", [CentralSystem, Mapping, ConnectionInfo, Transaction])
def test_every_odd_value_in_every_field_parses_as_parse_dict_would(message_type):
    fields = message_type.DESCRIPTOR.fields
    for field in fields:
        for name in (field.name, field.json_name):
            for value in [*ODD_VALUES, *ODD_TIMES]:
                record = {name: value}
                assert parsed(message_type, record) == expected(message_type, record), record


PLAIN = {
    CentralSystem: {"id": 3, "name": "C", "websocket_url": "wss://c.example/ocpp", "description": "é"},
    Mapping: {"station_id": "CP-1", "central_system_id": 1, "weight": 2, "is_master": True, "is_enabled": False},
    ConnectionInfo: {"station_id": "CP-1", "central_system_id": 1, "connected": True},
}


@pytest.mark.parametrize("message_type", list(PLAIN))
def test_a_section_read_column_by_column_gives_what_record_by_record_gives(message_type):
    parser = RecordParser(message_type)
    plain, taken = PLAIN[message_type], 0
    for field in message_type.DESCRIPTOR.fields:
        for name in (field.name, field.json_name):
            for value in [*ODD_VALUES, *ODD_TIMES]:
                records = [plain, {name: value}, {}, {k: v for k, v in plain.items() if k != field.name}]
                outcomes = [parsed(message_type, record) for record in records]
                messages = parser.parse_all(copy.deepcopy(records))
                if messages is not None:  # taken a column at a time: exactly the same messages
                    taken += 1
                    assert [("ok", m.SerializeToString()) for m in messages] == outcomes, records
                columns = parser.columns(records)
                assert (columns is None) == (messages is None)
                if columns is not None and messages is not None:
                    assert [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)] == [
                        json_format.MessageToDict(
                            m, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
                        )
                        for m in messages
                    ]
    assert taken >= len(message_type.DESCRIPTOR.fields) * 2  # the plain values, at least
    assert parser.parse_all([]) == []


def test_both_spellings_of_one_field_and_unknown_fields_go_as_in_parse_dict():
    for record in ({"station_id": "A", "stationId": "B"}, {"colour": "red"}, {"[ext]": 1}):
        assert parsed(Mapping, record) == expected(Mapping, record)
    assert parsed(Mapping, {"colour": "red"})[0] == "error"


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(-62_135_596_800, 253_402_300_799),
    nanos=st.integers(0, 999_999_999),
    digits=st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
)
def test_timestamps_read_as_parse_dict_reads_them(seconds, nanos, digits):
    text = json_format.MessageToDict(Transaction(started_at=Timestamp(seconds=seconds)))["startedAt"][:-1]
    if digits:
        text += "." + f"{nanos:09d}"[:digits]
    record = {**TXN, "started_at": text + "Z"}
    assert parsed(Transaction, record) == expected(Transaction, record)
    assert transaction_row(record) == row_of(json_format.ParseDict(record, Transaction()))
    # The column reader, alone and amid other times.
    started = json_format.ParseDict(record, Transaction()).started_at
    assert _times([text + "Z"]) == ([started.seconds], [started.nanos])
    assert _times(["2026-01-01T10:00:00Z", text + "Z"]) == ([1_767_261_600, started.seconds], [0, started.nanos])


@pytest.mark.parametrize("text", ODD_TIMES)
def test_the_column_time_reader_takes_and_refuses_what_the_one_record_reader_does(text):
    one = rfc3339.parse(text)
    assert _times([text]) == (None if one is None else ([one[0]], [one[1]]))
    assert _times([text, "2026-01-01T10:00:00.5Z"]) == (
        None if one is None else ([one[0], 1_767_261_600], [one[1], 500_000_000])
    )


def fleet(stations: int, per_station: int, seed: int = 3, prefix: str = "CP") -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for s in range(stations):
        start = 1_700_000_000 + rng.randrange(86_400)
        for k in range(per_station):
            seconds = start + k * 9_000
            record: dict[str, Any] = {
                "id": f"{prefix}{s:04d}-{k:03d}-{rng.getrandbits(32):08x}",
                "station_id": f"{prefix}-{s:04d}",
                "connector_id": str(k % 3 + 1),
                "central_system_id": s % 4 + 1,
                "started_at": json_format.MessageToDict(
                    Transaction(started_at=Timestamp(seconds=seconds, nanos=rng.choice([0, 250_000_000, 123_456_789])))
                )["startedAt"],
            }
            if k < per_station - 3:
                record["ended_at"] = json_format.MessageToDict(
                    Transaction(ended_at=Timestamp(seconds=seconds + 3_600))
                )["endedAt"]
            records.append(record)
    rng.shuffle(records)
    return records


def state(log: TransactionLog) -> tuple[Any, ...]:
    # The index of every (station, central system) pair, made if not yet made.
    for station, cs in log._pairs:
        for active in (False, True):
            if (station, cs, active) not in log._indexes:
                log._pair_index(station, cs, active)
    # Keys in index order (an index may sort itself on first read), empty ones left out.
    indexes = {k: [v.key_at(i) for i in range(len(v))] for k, v in log._indexes.items() if len(v)}
    return (log._framed, log._open, log._pairs, indexes)


def _at(seconds: int, nanos: int = 0) -> str:
    return str(json_format.MessageToDict(Transaction(started_at=Timestamp(seconds=seconds, nanos=nanos)))["startedAt"])


# Seconds on both sides of the 5-byte varints (1978 to 3058) that the column
# path encodes from cached pieces, and far outside them.
EDGE_SECONDS = [2**28 - 1, 2**28, 2**28 + 127, 2**28 + 128, 1_767_225_600, 2**35 - 129, 2**35 - 1, 2**35, 1, -1]


@pytest.mark.parametrize(
    "seconds",
    [EDGE_SECONDS[2:-4], [s for s in EDGE_SECONDS if 2**28 <= s < 2**35], EDGE_SECONDS],
    ids=["inside", "inside-edges", "mixed"],
)
def test_column_loading_encodes_timestamps_of_any_era_as_serialize_does(seconds):
    records = [
        {
            "id": f"T-{i}",
            "station_id": f"CP-{i}",
            "connector_id": "1",
            "central_system_id": 1,
            "started_at": _at(start, nanos),
            **({"ended_at": _at(max(start, end), nanos)} if i % 3 else {}),
        }
        for i, (start, end, nanos) in enumerate(
            (s, e, n) for s in seconds for e in seconds for n in (0, 1, 999_999_999, 500_000_000)
        )
    ]
    by_add, by_columns = TransactionLog(), TransactionLog()
    by_add.add([json_format.ParseDict(r, Transaction()) for r in records])
    batch = Batch(by_columns)
    assert batch.add_records(records)
    batch.commit()
    assert state(by_add) == state(by_columns)


def test_column_and_row_loading_reach_the_state_add_reaches():
    records = fleet(40, 30)
    by_add = TransactionLog()
    by_add.add([json_format.ParseDict(r, Transaction()) for r in records])
    by_rows = TransactionLog()
    load_rows(by_rows, map(transaction_row, records))
    by_columns = TransactionLog()
    batch = Batch(by_columns)
    assert batch.add_records(records[:500])
    assert batch.add_records(records[500:])
    assert batch.commit() == len(records)
    assert state(by_add) == state(by_rows) == state(by_columns)
    # Hand-assembled bytes are what SerializeToString gives.
    for record in records[:50]:
        message = json_format.ParseDict(record, Transaction())
        assert by_columns._framed[message.id.encode()] == frame(message)
    # A log that already holds some takes more, through both paths, also
    # for pairs whose index is made and for new pairs of known stations.
    more = fleet(5, 4, seed=9, prefix="XP") + [
        {**record, "id": f"{record['id']}-again-{offset}", "central_system_id": record["central_system_id"] + offset}
        for record in records[:60]
        for offset in (0, 1)
        if "ended_at" in record
    ]
    grown_by_add, grown_by_columns = copy.deepcopy(by_add), by_columns
    grown_by_add.add([json_format.ParseDict(r, Transaction()) for r in more])
    batch = Batch(grown_by_columns)
    assert batch.add_records(more)
    batch.commit()
    assert state(grown_by_add) == state(grown_by_columns)


@pytest.mark.parametrize(
    "change",
    [
        {"stationId": "CP-1"},
        {"started_at": "2026-01-01T10:00:00+00:00"},
        {"started_at": "1970-01-01T00:00:00Z"},
        {"central_system_id": "1"},
        {"id": "é-1"},
    ],
)
def test_a_record_off_the_plain_shape_goes_row_by_row_to_the_same_state(change):
    records = fleet(4, 5)
    records[7] = {**records[7], **change}
    if "stationId" in change:
        del records[7]["station_id"]
    batch = Batch(TransactionLog())
    assert not batch.add_records(records)
    via_dict = TransactionLog()
    via_dict.add([json_format.ParseDict(r, Transaction()) for r in records])
    assert load_fixtures({"transactions": records}).snapshot() == Store().snapshot() | {
        "transactions": via_dict.snapshot()
    }


@pytest.mark.parametrize("field", ["id", "station_id", "connector_id", "central_system_id", "started_at", "ended_at"])
def test_any_json_value_in_any_transaction_field_loads_as_parse_dict_would(field):
    for value in [*ODD_VALUES, *ODD_TIMES[:3]]:
        records = fleet(3, 4)
        records[5] = {**records[5], field: value}
        try:
            via_dict = TransactionLog()
            via_dict.add([json_format.ParseDict(r, Transaction()) for r in records])
            expected: object = Store().snapshot() | {"transactions": via_dict.snapshot()}
        except (json_format.ParseError, ApiError):
            expected = FixtureError
        try:
            got: object = load_fixtures({"transactions": records}).snapshot()
        except FixtureError:
            got = FixtureError
        assert got == expected, (field, value)


@pytest.mark.parametrize(
    ("position", "change", "message"),
    [
        (6_123, {"id": "0000-000"}, "transactions[6123]: transaction '0000-000' already exists"),
        (5_000, {"ended_at": "2000-01-01T00:00:00Z"}, "transactions[5000].ended_at: must not be before started_at"),
        (4_999, {"station_id": "bad id"}, "transactions[4999].station_id: may only contain"),
        (7_001, {"started_at": "later"}, "transactions[7001]: Failed to parse started_at field"),
    ],
)
def test_a_bad_record_deep_in_a_big_section_is_named_and_nothing_loads(position, change, message, monkeypatch):
    monkeypatch.setattr(fixtures, "_CHUNK", 1_000)  # so the record is chunks away from the first
    records = [
        {**TXN, "id": f"{i // 1000:04d}-{i % 1000:03d}", "station_id": f"CP-{i // 10}", "connector_id": str(i % 10),
         "started_at": f"2026-01-01T10:00:{i % 60:02d}Z", "ended_at": "2026-01-02T10:00:00Z"}
        for i in range(8_000)
    ]  # fmt: skip
    records[0]["id"] = "0000-000"
    records[position] = {**records[position], **change}
    with pytest.raises(FixtureError) as raised:
        load_fixtures({"transactions": records}, "big.json")
    assert str(raised.value).startswith(f"big.json: {message}"), str(raised.value)


def test_loading_reports_progress_on_its_stream_only_once_it_takes_a_while(tmp_path):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"transactions": fleet(30, 10)}))
    chatty, quiet = io.StringIO(), io.StringIO()
    load_fixture_file(path, progress=Progress("loading", stream=chatty, delay=0, interval=0))
    load_fixture_file(path, progress=Progress("loading", stream=quiet))  # done within a second
    lines = chatty.getvalue().splitlines()
    assert f"loading: {path}: transactions 300/300 (100%)" in "\n".join(lines)
    assert all(line.startswith("loading: ") for line in lines)
    assert quiet.getvalue() == ""
