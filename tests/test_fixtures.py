"""Fixture files: the documented example loads; every kind of bad record is
named in a clear error and nothing is half loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocpp_broker_protos.reference import FixtureError, load_fixture_file, load_fixtures
from ocpp_broker_protos.reference.demo import demo_store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fixtures.json"
CS = {"id": 1, "name": "Main", "websocket_url": "wss://csms.example/ocpp"}
MAPPING = {"station_id": "CP-1", "central_system_id": 1, "is_master": True, "is_enabled": True}
TXN = {
    "id": "T-1",
    "station_id": "CP-1",
    "connector_id": "1",
    "central_system_id": 1,
    "started_at": "2026-01-01T10:00:00Z",
}


def test_the_documented_example_loads_completely():
    store = load_fixture_file(EXAMPLE)
    assert [(cs.id, cs.name) for cs in store.list_central_systems()] == [(1, "Main CSMS"), (5, "Partner")]
    assert [(m.station_id, m.central_system_id, m.is_enabled) for m in store.list_mappings()] == [
        ("CP-1", 1, True),
        ("CP-1", 5, True),
        ("CP-2", 5, False),
    ]
    workers = {w.central_system_id: [(c.station_id, c.connected) for c in w.connections] for w in store.list_workers()}
    assert workers == {1: [("CP-1", True)], 5: [("CP-2", False)]}
    page = store.transactions_page()
    assert [t.id for t in page.transactions] == ["T-2", "T-1"]
    assert not page.transactions[0].HasField("ended_at")
    # Ids after fixtures continue past the highest one loaded.
    assert store.create_central_system("New", "ws://new.example").id == 6


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "the top level must be a JSON object"),
        ({"centrals": []}, "unknown section(s) centrals"),
        ({"mappings": {}}, "mappings must be an array"),
        ({"central_systems": [5]}, "central_systems[0]: must be a JSON object"),
        ({"central_systems": [{**CS, "id": "one"}]}, "central_systems[0]: Failed to parse id field"),
        ({"central_systems": [{**CS, "colour": "red"}]}, 'central_systems[0]: Message type "ocpp_broker_protos'),
        ({"central_systems": [{**CS, "websocket_url": "http://x"}]}, "central_systems[0].websocket_url: scheme"),
        ({"central_systems": [CS, {**CS, "name": "Other"}]}, "central_systems[1]: central system 1 already exists"),
        ({"central_systems": [CS, {**CS, "id": 2}]}, "central_systems[1]: central system name 'Main' is taken"),
        ({"central_systems": [{**CS, "id": 0}]}, "central_systems[0].id: must be positive"),
        ({"central_systems": [CS], "mappings": [{**MAPPING, "central_system_id": 9}]}, "mappings[0]: cannot map"),
        ({"central_systems": [CS], "mappings": [{**MAPPING, "station_id": "bad id"}]}, "mappings[0].station_id"),
        (
            {"central_systems": [CS], "mappings": [MAPPING, {**MAPPING}]},
            "mappings[1]: station 'CP-1' is already mapped",
        ),
        (
            {"central_systems": [CS], "connections": [{"station_id": "CP-1", "central_system_id": 1}]},
            "connections[0]: mapping of station 'CP-1' to central system 1 not found",
        ),
        (
            {
                "central_systems": [CS],
                "mappings": [{**MAPPING, "is_enabled": False}],
                "connections": [{"station_id": "CP-1", "central_system_id": 1, "connected": True}],
            },
            "connections[0]: station 'CP-1' has a disabled mapping",
        ),
        ({"transactions": [TXN, TXN]}, "transactions[1]: transaction 'T-1' already exists"),
        (
            {"transactions": [{**TXN, "ended_at": "2026-01-01T09:59:59Z"}]},
            "transactions[0].ended_at: must not be before",
        ),
        ({"transactions": [{**TXN, "started_at": "yesterday"}]}, "transactions[0]: Failed to parse started_at"),
        ({"transactions": [{**TXN, "started_at": None}]}, "transactions[0].started_at: must be set"),
        ({"transactions": [TXN, {**TXN, "id": "T-2"}]}, "transactions[1]: connector '1' of station 'CP-1' already"),
        ({"transactions": [{**TXN, "connector_id": "c" * 37}]}, "transactions[0].connector_id: must be at most 36"),
    ],
)
def test_bad_records_are_named(data, message):
    with pytest.raises(FixtureError) as raised:
        load_fixtures(data, "f.json")
    assert str(raised.value).startswith("f.json")
    assert message in str(raised.value)


def test_unreadable_and_truncated_files(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(FixtureError, match=r"missing\.json: cannot read"):
        load_fixture_file(missing)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(EXAMPLE.read_text()[:300])
    with pytest.raises(FixtureError, match=r"truncated\.json: not valid JSON: line \d+ column \d+"):
        load_fixture_file(truncated)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FixtureError, match=r"binary\.json: cannot read"):
        load_fixture_file(binary)


def test_demo_data_is_deterministic_and_realistic():
    first, second = demo_store(), demo_store()
    assert first.snapshot() == second.snapshot()
    assert len(first.list_central_systems()) == 3
    assert len({m.station_id for m in first.list_mappings()}) >= 24
    assert sum(w.connections_count for w in first.list_workers()) >= 10
    assert first.transaction_count() >= 2000
    assert first.transactions_page(active_only=True).total_count > 0
