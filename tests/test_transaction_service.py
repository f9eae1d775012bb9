"""TransactionService paging, ordering and filters against a brute-force model."""

from __future__ import annotations

import functools
import itertools
import random

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1.central_system_pb2 import ListCentralSystemsRequest
from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub
from ocpp_broker_protos.reference import ApiError
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsRequest, Transaction
from tests.rpc_checks import expect_bad_page_token, expect_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT
STATIONS = ("CP-A", "CP-B", "CP-C")


def make_transactions(seed: int = 7, count: int = 1500) -> list[Transaction]:
    rng = random.Random(seed)
    made = []
    open_connectors: set[tuple[str, str]] = set()
    for n in range(count):
        station, connector = rng.choice(STATIONS), str(rng.randint(1, 3))
        # Few distinct start times, so ties on started_at are common.
        t = Transaction(
            id=f"T{rng.randrange(10**6):06d}-{n}",
            station_id=station,
            connector_id=connector,
            central_system_id=rng.randint(1, 3),
            started_at=Timestamp(seconds=1_700_000_000 + rng.randrange(50) * 60, nanos=rng.choice((0, 5))),
        )
        if (station, connector) in open_connectors or rng.random() < 0.8:
            t.ended_at.CopyFrom(Timestamp(seconds=t.started_at.seconds + 600))
        else:
            open_connectors.add((station, connector))
        made.append(t)
    return made


def model(transactions, station_id="", central_system_id=0, active_only=False):
    matching = [
        t
        for t in transactions
        if station_id in ("", t.station_id)
        and central_system_id in (0, t.central_system_id)
        and not (active_only and t.HasField("ended_at"))
    ]
    return sorted(matching, key=lambda t: (-t.started_at.seconds, -t.started_at.nanos, t.id))


@pytest.fixture
def stored(ocpp_server):
    transactions = make_transactions()
    for t in transactions:
        ocpp_server.store.add_transaction(t)
    return transactions


def page(stub, **kwargs):
    return stub.GetAllTransactions(GetAllTransactionsRequest(**kwargs))


def test_empty_store_gives_an_empty_page(ocpp_transaction_stub):
    response = page(ocpp_transaction_stub)
    assert (list(response.transactions), response.total_count) == ([], 0)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"station_id": "CP-B"},
        {"central_system_id": 2},
        {"active_only": True},
        {"station_id": "CP-A", "central_system_id": 3},
        {"station_id": "CP-C", "central_system_id": 1, "active_only": True},
        {"station_id": "CP-NONE"},
        {"central_system_id": 2**31 - 1},
    ],
)
def test_walking_all_pages_yields_the_model_order_exactly_once(ocpp_transaction_stub, stored, filters):
    expected = model(stored, **filters)
    seen = []
    offset = 0
    while True:
        response = page(ocpp_transaction_stub, limit=77, offset=offset, **filters)
        assert response.total_count == len(expected)
        if not response.transactions:
            break
        assert len(response.transactions) <= 77
        seen.extend(response.transactions)
        offset += len(response.transactions)
    assert [t.id for t in seen] == [t.id for t in expected]
    assert seen == expected  # every field intact, ended_at unset while open


def test_limit_default_and_cap(ocpp_transaction_stub, stored):
    assert len(page(ocpp_transaction_stub).transactions) == 100
    assert len(page(ocpp_transaction_stub, limit=1).transactions) == 1
    assert len(page(ocpp_transaction_stub, limit=1000).transactions) == 1000
    assert len(page(ocpp_transaction_stub, limit=1001).transactions) == 1000
    assert len(page(ocpp_transaction_stub, limit=2**31 - 1).transactions) == 1000


def test_offsets_at_and_past_the_end(ocpp_transaction_stub, stored):
    total = len(stored)
    last = page(ocpp_transaction_stub, offset=total - 1)
    assert [t.id for t in last.transactions] == [model(stored)[-1].id]
    for offset in (total, total + 1, 2**31 - 1):
        response = page(ocpp_transaction_stub, offset=offset)
        assert (len(response.transactions), response.total_count) == (0, total)


@pytest.mark.parametrize(
    ("request_fields", "fields"),
    [
        ({"limit": -1}, {"limit"}),
        ({"offset": -1}, {"offset"}),
        ({"limit": -(2**31), "offset": -(2**31)}, {"limit", "offset"}),
        ({"station_id": "not valid"}, {"station_id"}),
        ({"central_system_id": -4}, {"central_system_id"}),
    ],
)
def test_bad_paging_and_filters_are_invalid(ocpp_server, ocpp_transaction_stub, stored, request_fields, fields):
    expect_error(lambda: page(ocpp_transaction_stub, **request_fields), INVALID, "INVALID_FIELD", fields, ocpp_server)


def test_ending_a_transaction_moves_it_out_of_active_only(ocpp_server, ocpp_transaction_stub, stored):
    active = model(stored, active_only=True)
    assert active
    ended_at = Timestamp(seconds=active[0].started_at.seconds + 60)
    ocpp_server.store.end_transaction(active[0].id, ended_at)
    response = page(ocpp_transaction_stub, active_only=True, limit=1000)
    assert [t.id for t in response.transactions] == [t.id for t in active[1:]]
    everything = page(ocpp_transaction_stub, station_id=active[0].station_id, limit=1000).transactions
    assert next(t for t in everything if t.id == active[0].id).ended_at == ended_at


def test_store_rejects_inconsistent_transactions(ocpp_server):
    store = ocpp_server.store
    ok = Transaction(id="T1", station_id="CP-1", connector_id="1", central_system_id=1)
    ok.started_at.FromSeconds(1_000)
    store.add_transaction(ok)
    before = store.snapshot()
    duplicate = Transaction()
    duplicate.CopyFrom(ok)
    second_open = Transaction(id="T2", station_id="CP-1", connector_id="1", central_system_id=1)
    second_open.started_at.FromSeconds(2_000)
    backwards = Transaction(id="T3", station_id="CP-1", connector_id="2", central_system_id=1)
    backwards.started_at.FromSeconds(2_000)
    backwards.ended_at.FromSeconds(1_999)
    unstarted = Transaction(id="T4", station_id="CP-1", connector_id="3", central_system_id=1)
    too_long = Transaction(id="x" * 37, station_id="CP-1", connector_id="", central_system_id=1)
    too_long.started_at.FromSeconds(1)
    cases = [
        (duplicate, "TRANSACTION_ALREADY_EXISTS", set()),
        (second_open, "CONNECTOR_BUSY", set()),
        (backwards, "INVALID_FIELD", {"ended_at"}),
        (unstarted, "INVALID_FIELD", {"started_at"}),
        (too_long, "INVALID_FIELD", {"id", "connector_id"}),
    ]
    for transaction, reason, fields in cases:
        with pytest.raises(ApiError) as raised:
            store.add_transaction(transaction)
        assert raised.value.reason == reason
        assert {v.field for v in raised.value.violations} == fields
    assert store.snapshot() == before


# -- page tokens ----------------------------------------------------------------


def token_walk(stub, limit, **filters):
    seen, pages, token = [], 0, ""
    while True:
        response = page(stub, limit=limit, page_token=token, **filters)
        seen.extend(response.transactions)
        pages += 1
        token = response.next_page_token
        if not token:
            return seen, pages


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"station_id": "CP-B"},
        {"central_system_id": 2},
        {"active_only": True},
        {"station_id": "CP-C", "central_system_id": 1, "active_only": True},
        {"station_id": "CP-NONE"},
    ],
)
def test_a_token_walk_yields_the_model_order_exactly_once(ocpp_transaction_stub, stored, filters):
    expected = model(stored, **filters)
    seen, pages = token_walk(ocpp_transaction_stub, 77, **filters)
    assert seen == expected
    assert pages == max(1, -(-len(expected) // 77))


def test_next_page_token_is_set_on_offset_calls_exactly_when_more_follow(ocpp_transaction_stub, stored):
    total = len(stored)
    assert page(ocpp_transaction_stub, offset=total - 100).next_page_token == ""
    assert page(ocpp_transaction_stub, offset=total - 101).next_page_token != ""
    assert page(ocpp_transaction_stub, offset=total).next_page_token == ""
    # A client switches from offsets to tokens and walks on without a gap.
    switched = page(ocpp_transaction_stub, limit=10, offset=500)
    after = page(ocpp_transaction_stub, limit=10, page_token=switched.next_page_token)
    assert [t.id for t in after.transactions] == [t.id for t in model(stored)[510:520]]


def test_with_a_token_offset_skips_from_the_tokens_position(ocpp_transaction_stub, stored):
    expected = model(stored)
    first = page(ocpp_transaction_stub, limit=10)
    skipped = page(ocpp_transaction_stub, limit=5, offset=7, page_token=first.next_page_token)
    assert [t.id for t in skipped.transactions] == [t.id for t in expected[17:22]]
    assert skipped.total_count == len(expected)
    past = page(ocpp_transaction_stub, offset=len(expected), page_token=first.next_page_token)
    assert (list(past.transactions), past.next_page_token) == ([], "")


def test_limit_rules_hold_with_tokens_and_may_change_between_pages(ocpp_transaction_stub, stored):
    expected = model(stored)
    first = page(ocpp_transaction_stub, limit=3)
    default = page(ocpp_transaction_stub, page_token=first.next_page_token)
    capped = page(ocpp_transaction_stub, limit=5000, page_token=default.next_page_token)
    assert [len(first.transactions), len(default.transactions), len(capped.transactions)] == [3, 100, 1000]
    walked = [*first.transactions, *default.transactions, *capped.transactions]
    assert [t.id for t in walked] == [t.id for t in expected[:1103]]


def test_the_last_full_page_has_no_token(ocpp_transaction_stub, stored):
    total = len(model(stored, station_id="CP-A"))
    exact = page(ocpp_transaction_stub, station_id="CP-A", offset=total - 10, limit=10)
    assert (len(exact.transactions), exact.next_page_token) == (10, "")


@pytest.mark.parametrize(
    "replay",
    [
        {"station_id": "CP-B"},
        {"station_id": "CP-A", "central_system_id": 1},
        {"station_id": "CP-A", "active_only": True},
        {},
    ],
)
def test_a_token_replayed_with_other_filters_is_invalid_page_token(ocpp_server, ocpp_transaction_stub, stored, replay):
    token = page(ocpp_transaction_stub, limit=5, station_id="CP-A").next_page_token
    expect_bad_page_token(lambda: page(ocpp_transaction_stub, page_token=token, **replay), ocpp_server)


def test_a_garbage_or_foreign_token_is_invalid_page_token(ocpp_server, ocpp_channel, ocpp_transaction_stub, stored):
    for name in ("CS-1", "CS-2"):
        ocpp_server.store.create_central_system(name, "wss://cs.example/ocpp")
    foreign = CentralSystemServiceStub(ocpp_channel).ListCentralSystems(ListCentralSystemsRequest(page_size=1))
    assert foreign.next_page_token
    for bad in ("garbage", "AAAAAAAAAAAAAAAAAAAAAAAA", foreign.next_page_token):
        expect_bad_page_token(functools.partial(page, ocpp_transaction_stub, page_token=bad), ocpp_server)


def test_field_errors_come_before_token_errors(ocpp_server, ocpp_transaction_stub, stored):
    expect_error(
        lambda: page(ocpp_transaction_stub, limit=-1, page_token="garbage"),
        INVALID,
        errors.INVALID_FIELD,
        {"limit"},
        ocpp_server,
    )


def _newer(n: int, seconds: int) -> Transaction:
    t = Transaction(id=f"NEW-{n:05d}", station_id="CP-A", connector_id=f"N{n}", central_system_id=1)
    t.started_at.FromSeconds(seconds)
    t.ended_at.FromSeconds(seconds + 1)
    return t


def test_tokens_are_stable_while_newer_transactions_arrive_and_offsets_are_not(
    ocpp_server, ocpp_transaction_stub, stored
):
    """New transactions sort first; each one shifts every offset page, never a token page."""
    store = ocpp_server.store
    expected = [t.id for t in model(stored)]
    arrivals = iter(range(10_000))

    def arrive(count: int) -> None:
        for _ in range(count):
            n = next(arrivals)
            store.add_transaction(_newer(n, 1_800_000_000 + n))

    by_token: list[str] = []
    token, token_pages = "", 0
    while True:
        response = page(ocpp_transaction_stub, limit=50, page_token=token)
        by_token.extend(t.id for t in response.transactions)
        token_pages += 1
        token = response.next_page_token
        if not token:
            break
        arrive(3)
    stable = [i for i in by_token if not i.startswith("NEW-")]
    assert stable == expected  # every original once, in order, none twice
    assert len(by_token) == len(set(by_token))
    # The same walk by offsets, under as many arrivals, repeats items. (Under
    # arrivals that never stop, an offset walk would never reach the end.)
    by_offset: list[str] = []
    offset = 0
    for offset_pages in itertools.count(1):
        response = page(ocpp_transaction_stub, limit=50, offset=offset)
        if not response.transactions:
            break
        by_offset.extend(t.id for t in response.transactions)
        offset += len(response.transactions)
        if offset_pages < token_pages:
            arrive(3)
    assert len(by_offset) > len(set(by_offset))
