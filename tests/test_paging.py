"""Paging and worker views of every list, through a real channel (AIP-158)."""

from __future__ import annotations

import functools
import itertools
import struct
import zlib
from typing import Any

import grpc
import pytest

from ocpp_broker_protos import errors
from ocpp_broker_protos.connection.v1.connection_pb2 import (
    WORKER_VIEW_BASIC,
    WORKER_VIEW_FULL,
    WORKER_VIEW_UNSPECIFIED,
    GetWorkerRequest,
)
from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
from ocpp_broker_protos.reference import Store, paging, validation
from tests.paged_lists import (
    CENTRAL_SYSTEMS,
    MAPPINGS,
    UNPAGED_BEFORE,
    WORKER_CONNECTIONS,
    WORKERS,
    PagedList,
    items_of,
    walk,
)
from tests.rpc_checks import expect_bad_page_token, expect_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT
STATIONS = [f"CP-{n:03d}" for n in range(23)]


def build_fleet(store: Store) -> None:
    """4 central systems; 23 stations mapped to 1-3 of them, most connected."""
    ids = [store.create_central_system(f"CS-{n}", f"wss://cs{n}.example/ocpp").id for n in range(4)]
    for n, station in enumerate(STATIONS):
        for rank in range(1 + n % 3):
            cs = ids[(n + rank) % 3]  # the fourth central system has no mappings
            store.create_mapping(station, cs, weight=rank, is_master=rank == 0, is_enabled=n % 5 != 4)
            if n % 5 != 4 and n % 7 != 6:
                store.create_connection(cs, station)
                if n % 4 == 1:
                    store.disconnect_station(cs, station)


@pytest.fixture
def fleet(ocpp_server):
    build_fleet(ocpp_server.store)
    return ocpp_server


# (list, filters): every filter of every list, and every view.
SCENARIOS: list[tuple[PagedList, dict[str, Any]]] = [
    (CENTRAL_SYSTEMS, {}),
    (MAPPINGS, {}),
    (MAPPINGS, {"station_id": "CP-008"}),
    (MAPPINGS, {"central_system_id": 2}),
    (MAPPINGS, {"station_id": "CP-008", "central_system_id": 3}),
    (MAPPINGS, {"station_id": "CP-NONE"}),
    (MAPPINGS, {"central_system_id": 4}),
    (WORKERS, {}),
    (WORKERS, {"view": WORKER_VIEW_BASIC}),
    (WORKERS, {"view": WORKER_VIEW_FULL}),
    (WORKER_CONNECTIONS, {"central_system_id": 1}),
    (WORKER_CONNECTIONS, {"central_system_id": 2}),
    (WORKER_CONNECTIONS, {"central_system_id": 4}),
]


def scenario_id(scenario: tuple[PagedList, dict[str, Any]]) -> str:
    paged, filters = scenario
    return "-".join([paged.name, *(f"{k}={v}" for k, v in filters.items())])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_a_seed_shaped_request_gets_the_whole_list_as_before(fleet, ocpp_channel, scenario):
    paged, filters = scenario
    response = paged.call(ocpp_channel, **filters)
    whole = paged.whole(fleet.store, **filters)
    assert list(getattr(response, paged.items)) == whole
    assert response.next_page_token == ""
    assert response.total_count == len(whole)
    keys = [paged.key(item) for item in whole]
    assert keys == sorted(keys)


@pytest.mark.parametrize("page_size", [1, 2, 3, 5])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_walks_at_small_page_sizes_are_complete_and_ordered(fleet, ocpp_channel, scenario, page_size):
    paged, filters = scenario
    whole = paged.whole(fleet.store, **filters)
    responses = walk(ocpp_channel, paged, page_size, **filters)
    assert items_of(paged, responses) == whole
    for n, response in enumerate(responses, start=1):
        page = getattr(response, paged.items)
        # total_count counts the matches, not the page.
        assert response.total_count == len(whole)
        # Every page but the last is full; a token follows exactly when items follow.
        assert len(page) == min(page_size, len(whole) - (n - 1) * page_size)
        assert (response.next_page_token != "") == (n * page_size < len(whole))


# The filters that leave fewer than four items.
SHORT = (
    {"station_id": "CP-008"},
    {"station_id": "CP-008", "central_system_id": 3},
    {"station_id": "CP-NONE"},
    {"central_system_id": 4},
)
LONG_SCENARIOS = [s for s in SCENARIOS if s[1] not in SHORT]


@pytest.mark.parametrize("scenario", LONG_SCENARIOS, ids=scenario_id)
def test_page_size_may_change_between_pages_and_zero_means_the_rest(fleet, ocpp_channel, scenario):
    paged, filters = scenario
    whole = paged.whole(fleet.store, **filters)
    assert len(whole) >= 4  # a third page follows
    first = paged.call(ocpp_channel, page_size=2, **filters)
    second = paged.call(ocpp_channel, page_size=1, page_token=first.next_page_token, **filters)
    rest = paged.call(ocpp_channel, page_size=0, page_token=second.next_page_token, **filters)
    assert rest.next_page_token == ""
    assert items_of(paged, [first, second, rest]) == whole


@pytest.mark.parametrize("paged", UNPAGED_BEFORE, ids=lambda p: p.name)
def test_the_last_full_page_has_no_token(fleet, ocpp_channel, paged):
    filters = {"central_system_id": 1} if paged is WORKER_CONNECTIONS else {}
    total = len(paged.whole(fleet.store, **filters))
    assert total >= 4
    exact = paged.call(ocpp_channel, page_size=total, **filters)
    assert (len(getattr(exact, paged.items)), exact.next_page_token) == (total, "")
    short = paged.call(ocpp_channel, page_size=total - 1, **filters)
    assert short.next_page_token != ""
    last = paged.call(ocpp_channel, page_size=1, page_token=short.next_page_token, **filters)
    assert (len(getattr(last, paged.items)), last.next_page_token) == (1, "")


@pytest.fixture
def crowded(ocpp_server):
    """1003 central systems, and 1003 stations mapped to and connected to the first."""
    store = ocpp_server.store
    ids = [store.create_central_system(f"CS-{n}", "wss://cs.example/ocpp").id for n in range(1003)]
    for n in range(1003):
        store.create_mapping(f"CP-{n:04d}", ids[0], is_enabled=True)
        store.create_connection(ids[0], f"CP-{n:04d}")
    return ocpp_server


@pytest.mark.parametrize("paged", UNPAGED_BEFORE, ids=lambda p: p.name)
@pytest.mark.parametrize("page_size", [1001, 2**31 - 1])
def test_page_size_is_capped_at_1000(crowded, ocpp_channel, paged, page_size):
    filters: dict[str, Any] = {"central_system_id": 1} if paged is WORKER_CONNECTIONS else {}
    if paged is WORKERS:
        filters["view"] = WORKER_VIEW_BASIC  # the full first worker alone holds 1003 connections
    first = paged.call(ocpp_channel, page_size=page_size, **filters)
    assert len(getattr(first, paged.items)) == 1000
    assert first.total_count == 1003
    rest = paged.call(ocpp_channel, page_size=0, page_token=first.next_page_token, **filters)
    assert (len(getattr(rest, paged.items)), rest.next_page_token, rest.total_count) == (3, "", 1003)
    # Without any paging field the whole list still comes in one response.
    assert len(getattr(paged.call(ocpp_channel, **filters), paged.items)) == 1003


@pytest.mark.parametrize(
    ("paged", "request_fields", "fields"),
    [
        (CENTRAL_SYSTEMS, {"page_size": -1}, {"page_size"}),
        (MAPPINGS, {"page_size": -(2**31)}, {"page_size"}),
        (MAPPINGS, {"page_size": -1, "station_id": "bad id", "central_system_id": -1}, None),
        (WORKERS, {"page_size": -1}, {"page_size"}),
        (WORKERS, {"page_size": -1, "view": 7}, {"page_size", "view"}),
        (WORKER_CONNECTIONS, {"page_size": -1, "central_system_id": 1}, {"page_size"}),
        (WORKER_CONNECTIONS, {"page_size": -1, "central_system_id": 0}, {"page_size", "central_system_id"}),
        # A bad field is reported before a bad token.
        (WORKER_CONNECTIONS, {"page_size": -1, "central_system_id": 1, "page_token": "junk"}, {"page_size"}),
    ],
)
def test_a_negative_page_size_is_invalid(fleet, ocpp_channel, paged, request_fields, fields):
    expected = fields if fields is not None else {"page_size", "station_id", "central_system_id"}
    expect_error(lambda: paged.call(ocpp_channel, **request_fields), INVALID, errors.INVALID_FIELD, expected, fleet)


def _tampered(token: str, at: int = -1) -> str:
    raw = bytearray(bytes.fromhex(token))
    raw[at] ^= 0x01
    return raw.hex()


def garbage_tokens(valid: str) -> list[str]:
    return [
        "garbage",
        "AAAA",
        "!!!!",
        "é",
        "x" * 10_000,
        valid[:-1],  # truncated
        valid + "a",  # extended by half a byte
        valid + "00",  # extended by a byte
        *{valid.upper()} - {valid},  # not the canonical spelling (when it has a letter)
        " " + valid,  # bytes.fromhex would take it
        "00" * 40,
        _tampered(valid),  # one bit of the check flipped
        _tampered(valid, at=3),  # one bit of the key flipped: no longer the position it was issued for
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_a_token_that_does_not_decode_is_invalid_page_token(fleet, ocpp_channel, scenario):
    paged, filters = scenario
    # A token of this list and filters when they have a second page, else of
    # the list's first scenario: the garbage below starts from a real token.
    token = paged.call(ocpp_channel, page_size=1, **filters).next_page_token
    if not token:
        first_filters = next(f for p, f in SCENARIOS if p is paged)
        token = paged.call(ocpp_channel, page_size=1, **first_filters).next_page_token
    assert token
    for bad in garbage_tokens(token):
        expect_bad_page_token(
            functools.partial(paged.call, ocpp_channel, page_size=1, page_token=bad, **filters), fleet
        )


# (list, filters of the first page, filters of the replay)
REPLAYS = [
    (MAPPINGS, {}, {"station_id": "CP-008"}),
    (MAPPINGS, {}, {"central_system_id": 1}),
    (MAPPINGS, {"central_system_id": 1}, {"central_system_id": 2}),
    (MAPPINGS, {"central_system_id": 1}, {}),
    (MAPPINGS, {"station_id": "CP-008"}, {"station_id": "CP-011"}),
    (WORKERS, {"view": WORKER_VIEW_BASIC}, {"view": WORKER_VIEW_FULL}),
    (WORKERS, {"view": WORKER_VIEW_BASIC}, {}),
    (WORKERS, {}, {"view": WORKER_VIEW_BASIC}),
    (WORKER_CONNECTIONS, {"central_system_id": 1}, {"central_system_id": 2}),
]


@pytest.mark.parametrize(("paged", "first", "replay"), REPLAYS, ids=[f"{p.name}-{a}-{b}" for p, a, b in REPLAYS])
def test_a_token_replayed_with_other_filters_or_view_is_invalid_page_token(fleet, ocpp_channel, paged, first, replay):
    token = paged.call(ocpp_channel, page_size=1, **first).next_page_token
    assert token
    expect_bad_page_token(lambda: paged.call(ocpp_channel, page_size=1, page_token=token, **replay), fleet)


def test_unspecified_and_full_are_one_view_for_tokens(fleet, ocpp_channel):
    token = WORKERS.call(ocpp_channel, page_size=1).next_page_token
    following = WORKERS.call(ocpp_channel, page_size=1, page_token=token, view=WORKER_VIEW_FULL)
    assert [w.central_system_id for w in following.workers] == [2]


@pytest.mark.parametrize(
    ("paged", "source"),
    [(a, b) for a in UNPAGED_BEFORE for b in UNPAGED_BEFORE if a is not b],
    ids=lambda p: p.name,
)
def test_a_token_of_another_list_is_invalid_page_token(fleet, ocpp_channel, paged, source):
    first_filters = {"central_system_id": 1} if source is WORKER_CONNECTIONS else {}
    token = source.call(ocpp_channel, page_size=1, **first_filters).next_page_token
    filters = {"central_system_id": 1} if paged is WORKER_CONNECTIONS else {}
    expect_bad_page_token(lambda: paged.call(ocpp_channel, page_size=1, page_token=token, **filters), fleet)


def test_worker_connections_check_the_token_before_the_central_system(fleet, ocpp_channel):
    expect_bad_page_token(
        lambda: WORKER_CONNECTIONS.call(ocpp_channel, central_system_id=999, page_size=1, page_token="junk")
    )
    expect_error(
        lambda: WORKER_CONNECTIONS.call(ocpp_channel, central_system_id=999, page_size=1),
        grpc.StatusCode.NOT_FOUND,
        errors.CENTRAL_SYSTEM_NOT_FOUND,
    )


def test_a_walk_continues_after_the_tokens_item_is_deleted(fleet, ocpp_channel):
    whole = fleet.store.list_mappings()
    first = MAPPINGS.call(ocpp_channel, page_size=3)
    last = first.mappings[-1]
    fleet.store.delete_mapping(last.station_id, last.central_system_id)
    rest = MAPPINGS.call(ocpp_channel, page_token=first.next_page_token)
    assert list(first.mappings) + list(rest.mappings) == whole
    assert rest.total_count == len(whole) - 1


# -- worker views ---------------------------------------------------------------


@pytest.mark.parametrize("view", [WORKER_VIEW_UNSPECIFIED, WORKER_VIEW_BASIC, WORKER_VIEW_FULL])
def test_get_worker_views(fleet, ocpp_channel, view):
    stub = ConnectionServiceStub(ocpp_channel)
    for cs in fleet.store.list_central_systems():
        worker = stub.GetWorker(GetWorkerRequest(central_system_id=cs.id, view=view)).worker
        connections = fleet.store.worker_connections(cs.id)
        assert (worker.central_system_id, worker.central_system_name) == (cs.id, cs.name)
        assert worker.connections_count == len(connections)
        assert list(worker.connections) == ([] if view == WORKER_VIEW_BASIC else connections)


def test_list_workers_basic_view_counts_without_listing(fleet, ocpp_channel):
    full = WORKERS.call(ocpp_channel, view=WORKER_VIEW_FULL).workers
    basic = WORKERS.call(ocpp_channel, view=WORKER_VIEW_BASIC).workers
    assert [w.connections_count for w in basic] == [len(w.connections) for w in full]
    assert any(w.connections_count for w in basic)
    assert all(not w.connections for w in basic)
    assert list(WORKERS.call(ocpp_channel).workers) == list(full)


@pytest.mark.parametrize("view", [3, -1, 2**31 - 1])
def test_a_view_outside_the_enum_is_invalid(fleet, ocpp_channel, view):
    stub = ConnectionServiceStub(ocpp_channel)
    expect_error(lambda: WORKERS.call(ocpp_channel, view=view), INVALID, errors.INVALID_FIELD, {"view"}, fleet)
    expect_error(
        lambda: stub.GetWorker(GetWorkerRequest(central_system_id=1, view=view)),
        INVALID,
        errors.INVALID_FIELD,
        {"view"},
        fleet,
    )


KEY_SAMPLES: dict[type, list[Any]] = {
    int: [0, -1, 2**63 - 1, -(2**63)],
    str: ["", "é", "CP-1"],
    bytes: [b"", b"\x00\xff", b"k" * 200],
}


def _part(value: Any, last: bool) -> bytes:
    if isinstance(value, int):
        return struct.pack(">q", value)
    raw = value.encode() if isinstance(value, str) else value
    return raw if last else struct.pack(">H", len(raw)) + raw


@pytest.mark.parametrize(
    "listing", [paging.CENTRAL_SYSTEMS, paging.MAPPINGS, paging.WORKERS, paging.WORKER_CONNECTIONS, paging.TRANSACTIONS]
)
def test_a_token_is_the_versioned_layout_of_its_key_and_decodes_to_it(listing):
    binding = ("CP-1", 2, False)
    for key in itertools.product(*(KEY_SAMPLES[kind] for kind in listing.key_types)):
        token = listing.token(binding, key)
        assert listing.token_bytes(binding, key) == token.encode()
        raw = bytes.fromhex(token)
        assert raw.hex() == token
        parts = [_part(value, at == len(key) - 1) for at, value in enumerate(key)]
        body = struct.pack(">BB", paging.VERSION, listing.number) + b"".join(parts)
        assert raw == body + struct.pack(">I", zlib.crc32(repr(binding).encode() + body))
        assert listing.cursor(1, token, binding).after == key


def test_the_longest_keys_the_rules_let_in_make_tokens_the_decoder_takes():
    station = "Z" * validation.STATION_ID_MAX
    longest = {
        paging.CENTRAL_SYSTEMS: (2**31 - 1,),
        paging.MAPPINGS: (station, 2**31 - 1),
        paging.WORKERS: (2**31 - 1,),
        paging.WORKER_CONNECTIONS: (station,),
        # An id is any text of TRANSACTION_ID_MAX characters: 4 UTF-8 bytes each at most.
        paging.TRANSACTIONS: (b"\xff" * 9 + "\U0010ffff".encode() * validation.TRANSACTION_ID_MAX,),
    }
    binding = (station, 2**31 - 1, True)
    for listing, key in longest.items():
        token = listing.token(binding, key)
        assert len(token) <= paging.MAX_TOKEN_LENGTH
        assert listing.cursor(1, token, binding).after == key
