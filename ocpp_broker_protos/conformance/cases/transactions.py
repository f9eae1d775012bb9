"""Cases for TransactionService.

Transactions enter a broker from the stations, not through this API, so
these cases judge whatever data the target holds: they read, never write.
With no transactions at all they can only check the empty answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial

import grpc

from ocpp_broker_protos import errors
from ocpp_broker_protos.conformance.kit import Context, case
from ocpp_broker_protos.transaction.v1 import transaction_pb2 as pb

RPC = "TransactionService.GetAllTransactions"
#: How many transactions a case reads at most; enough to judge, bounded on big targets.
SAMPLE = 2000


def _page(ctx: Context, **fields: object) -> pb.GetAllTransactionsResponse:
    return ctx.transactions.GetAllTransactions(pb.GetAllTransactionsRequest(**fields))  # type: ignore[arg-type]


def _walk(
    ctx: Context, page_size: int, filters: dict[str, object] | None = None, cap: int = SAMPLE
) -> tuple[list[pb.Transaction], int]:
    """Read up to cap transactions page by page, checking total_count on the way."""
    filters = filters or {}
    seen: list[pb.Transaction] = []
    total = None
    while len(seen) < cap:
        response = _page(ctx, limit=page_size, offset=len(seen), **filters)
        if total is None:
            total = response.total_count
        ctx.expect_equal(f"total_count at offset {len(seen)}", response.total_count, total)
        if not response.transactions:
            # Walked to the end: total_count must be what was read.
            ctx.expect_equal(f"total_count, having read all {len(seen)} transactions", total, len(seen))
            break
        ctx.expect(
            len(response.transactions) <= page_size, f"at most {page_size} transactions", len(response.transactions)
        )
        seen.extend(response.transactions)
    return seen, total or 0


def _order_key(t: pb.Transaction) -> tuple[int, int, str]:
    return (-t.started_at.seconds, -t.started_at.nanos, t.id)


@case(RPC)
def transactions_ordered_newest_first(ctx: Context) -> None:
    """Transactions come ordered by started_at descending, then id ascending."""
    seen, _ = _walk(ctx, 1000)
    keys = [_order_key(t) for t in seen]
    for index, (before, after) in enumerate(itertools.pairwise(keys)):
        ctx.expect(
            before <= after,
            f"item {index + 1} not ordered before item {index}",
            f"{seen[index].id} then {seen[index + 1].id}",
        )


@case(RPC)
def transactions_pages_are_consistent(ctx: Context) -> None:
    """Pages of any size tile the same sequence: no gaps, no repeats."""
    big, _ = _walk(ctx, 1000, cap=1000)
    small, _ = _walk(ctx, 37, cap=len(big))
    ctx.expect_equal("ids read in pages of 37", [t.id for t in small[: len(big)]], [t.id for t in big])
    ids = [t.id for t in big]
    ctx.expect_equal("number of distinct ids", len(set(ids)), len(ids))


@case(RPC)
def transactions_total_count_and_end(ctx: Context) -> None:
    """total_count counts every match; the page at total-1 has one item, at total none."""
    total = _page(ctx, limit=1).total_count
    ctx.expect(total >= 0, "total_count >= 0", total)
    if total <= SAMPLE:
        seen, _ = _walk(ctx, 500)
        ctx.expect_equal("transactions read", len(seen), total)
    if total:
        ctx.expect_equal("items at offset total-1", len(_page(ctx, offset=total - 1).transactions), 1)
    at_end = _page(ctx, offset=total)
    ctx.expect_equal("page at offset total_count", (len(at_end.transactions), at_end.total_count), (0, total))


@case(RPC)
def transactions_limit_default_is_100(ctx: Context) -> None:
    """limit 0 means a page of 100 (or all, when fewer match)."""
    response = _page(ctx)
    ctx.expect_equal("items with limit 0", len(response.transactions), min(100, response.total_count))


@case(RPC)
def transactions_limit_is_capped_at_1000(ctx: Context) -> None:
    """A limit above 1000 returns at most 1000."""
    for limit in (1001, 2**31 - 1):
        response = _page(ctx, limit=limit)
        ctx.expect_equal(f"items with limit {limit}", len(response.transactions), min(1000, response.total_count))
    ctx.expect_equal("items with limit 3", len(_page(ctx, limit=3).transactions), min(3, _page(ctx).total_count))


@case(RPC)
def transactions_offset_past_the_end(ctx: Context) -> None:
    """An offset past the end gives an empty page, not an error."""
    total = _page(ctx, limit=1).total_count
    for offset in (total + 1, 2**31 - 1):
        response = _page(ctx, offset=offset)
        ctx.expect_equal(f"page at offset {offset}", (len(response.transactions), response.total_count), (0, total))


@case(RPC)
def transactions_bad_paging_is_invalid(ctx: Context) -> None:
    """Negative limit or offset, malformed station_id, negative central_system_id: INVALID_ARGUMENT naming each."""
    for fields, names in (
        ({"limit": -1}, {"limit"}),
        ({"offset": -1}, {"offset"}),
        ({"limit": -(2**31), "offset": -5}, {"limit", "offset"}),
        ({"station_id": "not valid"}, {"station_id"}),
        ({"central_system_id": -1}, {"central_system_id"}),
    ):
        ctx.expect_error(partial(_page, ctx, **fields), grpc.StatusCode.INVALID_ARGUMENT, errors.INVALID_FIELD, names)


def _judge_filter(ctx: Context, what: str, matches: Callable[[pb.Transaction], bool], **filters: object) -> None:
    everything, total_all = _walk(ctx, 1000)
    filtered, total = _walk(ctx, 1000, filters)
    ctx.expect(total <= total_all, f"{what}: total_count <= unfiltered {total_all}", total)
    for t in filtered:
        ctx.expect(matches(t), f"only transactions matching {what}", t.id)
    ctx.expect_equal(f"{what}: order", [_order_key(t) for t in filtered], sorted(_order_key(t) for t in filtered))
    if total_all <= SAMPLE:
        expected = [t.id for t in everything if matches(t)]
        ctx.expect_equal(f"{what}: ids", [t.id for t in filtered], expected)
        ctx.expect_equal(f"{what}: total_count", total, len(expected))


def _sample_transaction(ctx: Context) -> pb.Transaction | None:
    first = _page(ctx, limit=1000).transactions
    return first[len(first) // 2] if first else None


@case(RPC)
def transactions_filter_by_station(ctx: Context) -> None:
    """station_id returns exactly that station's transactions, in order, with their own total_count."""
    sample = _sample_transaction(ctx)
    station = sample.station_id if sample else "NO-SUCH-STATION"
    _judge_filter(ctx, f"station_id={station}", lambda t: t.station_id == station, station_id=station)


@case(RPC)
def transactions_filter_by_central_system(ctx: Context) -> None:
    """central_system_id returns exactly that central system's transactions, with their own total_count."""
    sample = _sample_transaction(ctx)
    cs_id = sample.central_system_id if sample else 2**31 - 1
    _judge_filter(ctx, f"central_system_id={cs_id}", lambda t: t.central_system_id == cs_id, central_system_id=cs_id)


@case(RPC)
def transactions_active_only(ctx: Context) -> None:
    """active_only returns exactly the open transactions (ended_at unset), alone and with other filters."""
    _judge_filter(ctx, "active_only", lambda t: not t.HasField("ended_at"), active_only=True)
    open_ones = _page(ctx, active_only=True, limit=1).transactions
    if open_ones:
        station = open_ones[0].station_id
        _judge_filter(
            ctx,
            f"active_only and station_id={station}",
            lambda t: t.station_id == station and not t.HasField("ended_at"),
            active_only=True,
            station_id=station,
        )
