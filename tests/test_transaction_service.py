"""TransactionService paging, ordering and filters against a brute-force model."""

from __future__ import annotations

import random

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos import errors
from ocpp_broker_protos.reference import ApiError
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsRequest, Transaction
from tests.rpc_checks import expect_error

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
    expect_error(
        lambda: page(ocpp_transaction_stub, **request_fields), INVALID, errors.INVALID_FIELD, fields, ocpp_server
    )


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
        (duplicate, errors.TRANSACTION_ALREADY_EXISTS, set()),
        (second_open, errors.CONNECTOR_BUSY, set()),
        (backwards, errors.INVALID_FIELD, {"ended_at"}),
        (unstarted, errors.INVALID_FIELD, {"started_at"}),
        (too_long, errors.INVALID_FIELD, {"id", "connector_id"}),
    ]
    for transaction, reason, fields in cases:
        with pytest.raises(ApiError) as raised:
            store.add_transaction(transaction)
        assert raised.value.reason == reason
        assert {v.field for v in raised.value.violations} == fields
    assert store.snapshot() == before
