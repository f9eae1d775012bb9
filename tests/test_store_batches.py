"""The store's batch methods: the rules of one create each, all or none."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_broker_protos import errors
from ocpp_broker_protos.connection.v1.connection_pb2 import ConnectionInfo
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.reference import ApiError, Store


@pytest.fixture
def store():
    store = Store()
    for name in ("A", "B"):
        store.create_central_system(name, "wss://cs.example/ocpp")
    store.create_mapping("CP-1", 1, is_master=True, is_enabled=True)
    store.create_connection(1, "CP-1")
    return store


def mapping(station: str, cs: int, master: bool = False, enabled: bool = True, weight: int = 0) -> Mapping:
    return Mapping(station_id=station, central_system_id=cs, is_master=master, is_enabled=enabled, weight=weight)


def test_a_batch_of_mappings_is_stored_in_key_order_and_indexed(store):
    assert store.add_mappings([mapping("CP-3", 2), mapping("CP-2", 1, master=True), mapping("CP-2", 2)]) == 3
    keys = [(m.station_id, m.central_system_id) for m in store.list_mappings()]
    assert keys == [("CP-1", 1), ("CP-2", 1), ("CP-2", 2), ("CP-3", 2)]
    assert [m.station_id for m in store.list_mappings(central_system_id=2)] == ["CP-2", "CP-3"]
    page = store.mappings_page(central_system_id=1, page_size=1)
    assert (page.total_count, [m.station_id for m in page.items]) == (2, ["CP-1"])


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        ([mapping("CP-2", 1), mapping("bad id", 1)], errors.INVALID_FIELD),
        ([mapping("CP-2", 1), mapping("CP-2", 2, weight=-1)], errors.INVALID_FIELD),
        ([mapping("CP-2", 1), mapping("CP-2", 9)], errors.UNKNOWN_CENTRAL_SYSTEM),
        ([mapping("CP-2", 1), mapping("CP-1", 1)], errors.MAPPING_ALREADY_EXISTS),
        ([mapping("CP-2", 1), mapping("CP-2", 1)], errors.MAPPING_ALREADY_EXISTS),
        ([mapping("CP-2", 1), mapping("CP-1", 2, master=True)], errors.SECOND_ENABLED_MASTER),
        ([mapping("CP-2", 1, master=True), mapping("CP-2", 2, master=True)], errors.SECOND_ENABLED_MASTER),
    ],
)
def test_a_bad_mapping_rejects_the_whole_batch(store, batch, reason):
    before = store.snapshot()
    with pytest.raises(ApiError) as raised:
        store.add_mappings(batch)
    assert raised.value.reason == reason
    assert store.snapshot() == before


def test_a_batch_of_connections_is_stored(store):
    store.add_mappings([mapping("CP-2", 1), mapping("CP-3", 1, enabled=False)])
    added = [
        ConnectionInfo(station_id="CP-3", central_system_id=1, connected=False),
        ConnectionInfo(station_id="CP-2", central_system_id=1, connected=True),
    ]
    assert store.add_connections(added) == 2
    assert [(c.station_id, c.connected) for c in store.worker_connections(1)] == [
        ("CP-1", True),
        ("CP-2", True),
        ("CP-3", False),
    ]


@pytest.mark.parametrize(
    ("connection", "reason"),
    [
        (ConnectionInfo(station_id="CP-1", central_system_id=1, connected=True), errors.CONNECTION_ALREADY_EXISTS),
        (ConnectionInfo(station_id="CP-2", central_system_id=1, connected=True), errors.CONNECTION_ALREADY_EXISTS),
        (ConnectionInfo(station_id="CP-3", central_system_id=1, connected=True), errors.NO_ENABLED_MAPPING),
        (ConnectionInfo(station_id="CP-4", central_system_id=1, connected=False), errors.MAPPING_NOT_FOUND),
        (ConnectionInfo(station_id="CP-2", central_system_id=9, connected=True), errors.CENTRAL_SYSTEM_NOT_FOUND),
        (ConnectionInfo(station_id="bad id", central_system_id=1, connected=True), errors.INVALID_FIELD),
    ],
)
def test_a_bad_connection_rejects_the_whole_batch(store, connection, reason):
    store.add_mappings([mapping("CP-2", 1), mapping("CP-3", 1, enabled=False)])
    before = store.snapshot()
    with pytest.raises(ApiError) as raised:
        store.add_connections([ConnectionInfo(station_id="CP-2", central_system_id=1, connected=True), connection])
    assert raised.value.reason == reason
    assert store.snapshot() == before


@pytest.mark.parametrize("copy", [True, False])
def test_a_batch_of_mappings_is_copied_unless_told_otherwise(store, copy):
    given = mapping("CP-2", 1, weight=3)
    store.add_mappings([given], copy=copy)
    given.weight = 9
    assert store.list_mappings(station_id="CP-2")[0].weight == (3 if copy else 9)


def _outcome(store: Store, call: Callable[[], object]) -> tuple[str | None, object]:
    try:
        call()
    except ApiError as error:
        return error.reason, store.snapshot()
    return None, store.snapshot()


def _fresh_store() -> Store:
    store = Store()
    for name in ("A", "B"):
        store.create_central_system(name, "wss://cs.example/ocpp")
    store.create_mapping("CP-1", 1, is_master=True, is_enabled=True)
    store.create_mapping("CP-2", 2, is_master=False, is_enabled=False)
    store.create_connection(1, "CP-1")
    return store


STATIONS = st.sampled_from(["CP-1", "CP-2", "CP-3"])
CENTRAL_SYSTEMS = st.integers(1, 3)  # 3 does not exist


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(STATIONS, CENTRAL_SYSTEMS, st.booleans(), st.booleans()), max_size=5))
def test_a_batch_of_mappings_does_what_its_mappings_do_one_by_one(rows):
    # Valid fields only: a batch checks every field before any rule, so
    # with a bad field its first error may differ from one by one's.
    batch = [mapping(station, cs, master, enabled) for station, cs, master, enabled in rows]
    one_by_one, in_a_batch = _fresh_store(), _fresh_store()

    def each() -> None:
        for m in batch:
            one_by_one.create_mapping(m.station_id, m.central_system_id, m.weight, m.is_master, m.is_enabled)

    reason, state = _outcome(one_by_one, each)
    if reason is not None:
        state = _fresh_store().snapshot()  # all or none
    assert _outcome(in_a_batch, lambda: in_a_batch.add_mappings(batch)) == (reason, state)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(STATIONS, CENTRAL_SYSTEMS, st.booleans()), max_size=5))
def test_a_batch_of_connections_does_what_its_connections_do_one_by_one(rows):
    batch = [ConnectionInfo(station_id=station, central_system_id=cs, connected=on) for station, cs, on in rows]
    one_by_one, in_a_batch = _fresh_store(), _fresh_store()

    def each() -> None:
        for c in batch:
            one_by_one.add_connection(c.central_system_id, c.station_id, c.connected)

    reason, state = _outcome(one_by_one, each)
    if reason is not None:
        state = _fresh_store().snapshot()
    assert _outcome(in_a_batch, lambda: in_a_batch.add_connections(batch)) == (reason, state)
