"""Cases for paging: every list walked a page at a time with page tokens.

Each list is judged on a part a case fills with objects of its own, so no
case ever asks a target for an unbounded list: the mappings and the
connections of the case's own central system (through the list's filter),
and for central systems and workers, which have no filter, the tail of the
list where new ids land, reached with pages of 1000 (workers in the basic
view). Transactions cannot be written through the API; their cases read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc
from google.protobuf.message import Message

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.conformance.kit import MAX_PAGE_SIZE, Context, Walk, case, page_items
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.transaction.v1 import transaction_pb2 as tx_pb

LIST_CENTRAL_SYSTEMS = "CentralSystemService.ListCentralSystems"
GET_ALL_MAPPINGS = "MappingService.GetAllMappings"
LIST_WORKERS = "ConnectionService.ListWorkers"
GET_WORKER_CONNECTIONS = "ConnectionService.GetWorkerConnections"
GET_ALL_TRANSACTIONS = "TransactionService.GetAllTransactions"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
#: Tokens no server issues; each must be refused as INVALID_PAGE_TOKEN.
GARBAGE_TOKENS = ("garbage", "%%%", "AAAAAAAAAAAAAAAAAAAAAAAA", "x" * 4096)
#: Transactions a read-only case reads at most, so a huge history stays cheap.
TRANSACTION_SAMPLE = 2000


@dataclass
class _Part:
    """The part of one list that holds a case's own objects, and how to change it."""

    call: Callable[[Any], Any]
    #: The request (filters, view) that reads the part; paging fields unset.
    request: Message
    key: Callable[[Any], Any]
    #: Keys of the case's own objects, in list order.
    own: list[Any]
    #: True when the request's filters select exactly the own objects;
    #: False when they sit at the end of an unfiltered list.
    exact: bool
    #: Add an object of one's own; True asks for a key that sorts before the
    #: own objects, where the list's order allows it (new ids always sort last).
    add: Callable[[bool], Any]
    remove: Callable[[Any], object]
    #: Items of others a walk may pass with pages of 1000 before it reaches
    #: the own part: 0 on an exact part.
    others: int = 0

    def page(self, **fields: Any) -> Any:
        request = type(self.request)()
        request.CopyFrom(self.request)
        for name, value in fields.items():
            setattr(request, name, value)
        return self.call(request)

    def walk(
        self,
        ctx: Context,
        size: int,
        between: Callable[[list[Any]], object] | None = None,
        max_items: int | None = None,
    ) -> Walk[Any]:
        """Walk the list: pages of up to 1000 over the others' items, then pages of size over the own part."""

        def schedule(read: int) -> int:
            return min(MAX_PAGE_SIZE, self.others - read) if read < self.others else size

        return ctx.walk(self.call, self.request, schedule, between, max_items)

    def pages_at_size(self, walk: Walk[Any]) -> list[Any]:
        """The pages of a walk asked for with the case's page size, not with the 1000 of the passage over others."""
        read, chosen = 0, []
        for page in walk.pages:
            if read >= self.others:
                chosen.append(page)
            read += len(page_items(page))
        return chosen


class _OwnStations:
    """Stations of one own central system, named so that new ones sort before
    the first ones (`a…`) or after them (`c…`); the first ones are `b…`."""

    def __init__(self, ctx: Context, connect: bool) -> None:
        self.ctx = ctx
        self.cs_id = ctx.new_central_system().id
        self.connect = connect
        self._base = ctx.station()
        self._labels = iter(range(10**6))

    def add(self, earlier: bool = False, prefix: str = "") -> str:
        station = f"{self._base}-{prefix or ('a' if earlier else 'c')}{next(self._labels):04d}"
        self.ctx.new_mapping(station, self.cs_id, is_enabled=self.connect)
        if self.connect:
            self.ctx.connections.CreateConnection(
                conn_pb.CreateConnectionRequest(central_system_id=self.cs_id, station_id=station)
            )
        return station

    def remove(self, station: str) -> None:
        # Deleting the mapping also removes the connection of its pair.
        self.ctx.mappings.DeleteMapping(map_pb.DeleteMappingRequest(station_id=station, central_system_id=self.cs_id))

    def first(self, count: int) -> list[str]:
        return sorted(self.add(prefix="b") for _ in range(count))


def _mappings_of(own: _OwnStations, stations: list[str]) -> _Part:
    cs_id = own.cs_id
    return _Part(
        own.ctx.mappings.GetAllMappings,
        map_pb.GetAllMappingsRequest(central_system_id=cs_id),
        lambda m: (m.station_id, m.central_system_id),
        [(station, cs_id) for station in stations],
        True,
        lambda earlier: (own.add(earlier), cs_id),
        lambda key: own.remove(key[0]),
    )


def _connections_of(own: _OwnStations, stations: list[str]) -> _Part:
    return _Part(
        own.ctx.connections.GetWorkerConnections,
        conn_pb.GetWorkerConnectionsRequest(central_system_id=own.cs_id),
        lambda c: c.station_id,
        stations,
        True,
        own.add,
        own.remove,
    )


def _mappings(ctx: Context, count: int) -> _Part:
    own = _OwnStations(ctx, connect=False)
    return _mappings_of(own, own.first(count))


def _connections(ctx: Context, count: int) -> _Part:
    own = _OwnStations(ctx, connect=True)
    return _connections_of(own, own.first(count))


def _remove_central_system(ctx: Context, central_system_id: int) -> None:
    ctx.central_systems.DeleteCentralSystem(cs_pb.DeleteCentralSystemRequest(id=central_system_id, force=True))


def _new_central_system_id(ctx: Context, earlier: bool = False) -> int:
    # New ids sort after every existing one: `earlier` cannot be honoured.
    return ctx.new_central_system().id


#: How far short of the own part the passage over others' items stops, so
#: that others deleting central systems meanwhile do not carry it past the
#: start of the own part.
MARGIN = 20


def _tail(ctx: Context, call: Callable[[Any], Any], request: Message, key: Callable[[Any], Any], count: int) -> _Part:
    """The end of an unfiltered list of central systems (or their workers), where new ids land."""
    counted: Any = type(request)()
    counted.CopyFrom(request)
    counted.page_size = 1
    # Counted before the own ones exist: every item counted sorts before them
    # (ids grow), so a passage over fewer items than counted stops short of
    # them, unless others delete more than MARGIN counted items meanwhile.
    before = int(call(counted).total_count)
    return _Part(
        call,
        request,
        key,
        [ctx.new_central_system().id for _ in range(count)],
        False,
        partial(_new_central_system_id, ctx),
        partial(_remove_central_system, ctx),
        # At least one sized page first: page_size 0 is only ever the rest of a walk.
        others=max(1, before - MARGIN),
    )


def _central_systems(ctx: Context, count: int) -> _Part:
    return _tail(ctx, ctx.central_systems.ListCentralSystems, cs_pb.ListCentralSystemsRequest(), _id, count)


def _workers(ctx: Context, count: int) -> _Part:
    request = conn_pb.ListWorkersRequest(view=conn_pb.WORKER_VIEW_BASIC)
    return _tail(ctx, ctx.connections.ListWorkers, request, _central_system_id, count)


def _id(central_system: cs_pb.CentralSystem) -> int:
    return central_system.id


def _central_system_id(worker: conn_pb.WorkerInfo) -> int:
    return worker.central_system_id


PARTS: dict[str, Callable[[Context, int], _Part]] = {
    LIST_CENTRAL_SYSTEMS: _central_systems,
    GET_ALL_MAPPINGS: _mappings,
    LIST_WORKERS: _workers,
    GET_WORKER_CONNECTIONS: _connections,
}


def _short(rpc: str) -> str:
    return rpc.rsplit(".", 1)[-1]


def _judge_walk(ctx: Context, part: _Part, walk: Walk[Any], what: str) -> list[Any]:
    """A walk must end, be strictly ordered (so nothing twice) and hold every own object."""
    keys = [part.key(item) for item in walk.items]
    ctx.expect(walk.complete, f"{what}: a walk that reaches a page without next_page_token", "it stopped early")
    for index in range(1, len(keys)):
        ctx.expect(
            keys[index - 1] < keys[index],
            f"{what}: items in strictly ascending order, none twice",
            f"{keys[index - 1]!r} then {keys[index]!r}",
        )
    _judge_own(ctx, part, keys, what)
    return keys


def _judge_own(ctx: Context, part: _Part, keys: list[Any], what: str) -> None:
    """Every own object once, in order; on an exact part, nothing else."""
    if part.exact:
        ctx.expect_equal(f"{what}: items", keys, part.own)
    else:
        own = set(part.own)
        ctx.expect_equal(f"{what}: own items", [k for k in keys if k in own], part.own)


def _judge_exact_pages(ctx: Context, part: _Part, walk: Walk[Any], size: int, what: str) -> None:
    """On a part the filters select exactly: page count, full pages and total_count."""
    count = len(part.own)
    want_pages = 1 if size == 0 else max(1, math.ceil(count / min(size, MAX_PAGE_SIZE)))
    ctx.expect_equal(f"{what}: pages (next_page_token empty exactly when nothing follows)", len(walk.pages), want_pages)
    for index, page in enumerate(walk.pages, 1):
        ctx.expect_equal(f"{what}: total_count on page {index}", page.total_count, count)


def _register_per_list(name: str, doc: str, check: Callable[[Context, str], None]) -> None:
    """One case per paginated list, named `<list>_<name>`."""
    for rpc in PARTS:

        def run(ctx: Context, rpc: str = rpc) -> None:
            check(ctx, rpc)

        run.__name__ = f"{_snake(_short(rpc))}_{name}"
        run.__doc__ = f"{_short(rpc)}: {doc}"
        case(rpc)(run)


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel).lstrip("_")


# -- the four lists with page_size and total_count -----------------------


def _walks_complete_and_ordered(ctx: Context, rpc: str) -> None:
    part = PARTS[rpc](ctx, 6)
    for size in (1, 2, 3, 4, 6, 0):
        walk = part.walk(ctx, size)
        what = f"walk with page_size {size}"
        _judge_walk(ctx, part, walk, what)
        if part.exact:
            _judge_exact_pages(ctx, part, walk, size, what)
        else:
            ctx.expect(
                walk.pages[-1].total_count >= len(part.own),
                f"{what}: total_count at least the {len(part.own)} own items",
                walk.pages[-1].total_count,
            )


_register_per_list(
    "walks_complete_and_ordered",
    "walks with page_size 1, 2, 3, 4, 6 and 0 (no limit) over six own objects return each exactly once, in "
    "order; next_page_token is empty exactly when nothing follows (also after a full last page); total_count "
    "counts every match on every page (exactly where a filter selects only the case's objects).",
    _walks_complete_and_ordered,
)


def _unpaged_request_gets_everything(ctx: Context, rpc: str) -> None:
    part = PARTS[rpc](ctx, 3)
    if part.exact:
        response = part.page()
        what = "a request without paging fields"
        _judge_own(ctx, part, [part.key(item) for item in page_items(response)], what)
        ctx.expect_equal(f"{what}: next_page_token", response.next_page_token, "")
        return
    # No filter bounds these lists: page_size 0 is asked for only near the
    # tail, after pages of 1000 have passed the items of others.
    walk = part.walk(ctx, 0)
    _judge_walk(ctx, part, walk, "page_size 0 after the others' items")
    ctx.expect_equal("pages asked for with page_size 0 (one holds the whole rest)", len(part.pages_at_size(walk)), 1)


_register_per_list(
    "page_size_0_returns_the_rest",
    "page_size 0 (or no paging field at all, as before paging existed) returns every remaining item in one "
    "page with an empty next_page_token; asked only where the rest is bounded (own filter or the list's tail).",
    _unpaged_request_gets_everything,
)


def _negative_page_size_is_invalid(ctx: Context, rpc: str) -> None:
    part = PARTS[rpc](ctx, 1)
    for size in (-1, -(2**31)):
        ctx.expect_error(partial(part.page, page_size=size), INVALID, errors.INVALID_FIELD, {"page_size"})


_register_per_list(
    "negative_page_size_is_invalid",
    "a negative page_size is INVALID_ARGUMENT INVALID_FIELD naming page_size.",
    _negative_page_size_is_invalid,
)


def _garbage_token_is_invalid(ctx: Context, rpc: str) -> None:
    part = PARTS[rpc](ctx, 1)
    for token in GARBAGE_TOKENS:
        ctx.expect_error(
            partial(part.page, page_size=1, page_token=token), INVALID, errors.INVALID_PAGE_TOKEN, {"page_token"}
        )


_register_per_list(
    "garbage_token_is_invalid",
    "a page_token the server never issued is INVALID_ARGUMENT INVALID_PAGE_TOKEN naming page_token.",
    _garbage_token_is_invalid,
)


def _token_into_own_part(ctx: Context, part: _Part) -> str:
    """The token right after the first own item, so a wrong answer to it stays small."""
    walk = part.walk(ctx, 1)
    holding_first = [p for p in walk.pages if part.own[0] in {part.key(item) for item in page_items(p)}]
    token = holding_first[0].next_page_token if holding_first else ""
    ctx.expect(bool(token), "a next_page_token after the first of two own items", "none")
    return token


def _replayed_token_is_invalid(ctx: Context, rpc: str) -> None:
    part = PARTS[rpc](ctx, 2)
    token = _token_into_own_part(ctx, part)
    other = ctx.new_central_system()
    # Every replay asks for one item: a target that wrongly accepts the token
    # still answers with a small page.
    replays: list[Message] = []
    if rpc == GET_ALL_MAPPINGS:
        station, cs_id = part.own[1]
        replays += [
            map_pb.GetAllMappingsRequest(central_system_id=other.id),
            map_pb.GetAllMappingsRequest(),
            map_pb.GetAllMappingsRequest(station_id=station, central_system_id=cs_id),
        ]
    elif rpc == GET_WORKER_CONNECTIONS:
        replays.append(conn_pb.GetWorkerConnectionsRequest(central_system_id=other.id))
    elif rpc == LIST_WORKERS:
        replays += [
            conn_pb.ListWorkersRequest(view=v) for v in (conn_pb.WORKER_VIEW_FULL, conn_pb.WORKER_VIEW_UNSPECIFIED)
        ]
    # A token is issued for one list: every other list must refuse it.
    foreign: dict[str, Message] = {
        LIST_CENTRAL_SYSTEMS: cs_pb.ListCentralSystemsRequest(),
        GET_ALL_MAPPINGS: map_pb.GetAllMappingsRequest(central_system_id=other.id),
        LIST_WORKERS: conn_pb.ListWorkersRequest(view=conn_pb.WORKER_VIEW_BASIC),
        GET_WORKER_CONNECTIONS: conn_pb.GetWorkerConnectionsRequest(central_system_id=other.id),
    }
    replays += [request for other_rpc, request in foreign.items() if other_rpc != rpc]
    calls: dict[type[Message], Callable[[Any], Any]] = {
        cs_pb.ListCentralSystemsRequest: ctx.central_systems.ListCentralSystems,
        map_pb.GetAllMappingsRequest: ctx.mappings.GetAllMappings,
        conn_pb.ListWorkersRequest: ctx.connections.ListWorkers,
        conn_pb.GetWorkerConnectionsRequest: ctx.connections.GetWorkerConnections,
    }
    for request in replays:
        replay: Any = request
        replay.page_size, replay.page_token = 1, token
        ctx.expect_error(partial(calls[type(request)], replay), INVALID, errors.INVALID_PAGE_TOKEN, {"page_token"})


_register_per_list(
    "replayed_token_is_invalid",
    "a token passed back with other filters (another central system, another station, no filter), another "
    "view, or to another list is INVALID_ARGUMENT INVALID_PAGE_TOKEN naming page_token.",
    _replayed_token_is_invalid,
)


def _page_size_capped(ctx: Context, part: _Part) -> None:
    for size in (MAX_PAGE_SIZE + 1, 2**31 - 1):
        response = part.page(page_size=size)
        items = page_items(response)
        want = min(MAX_PAGE_SIZE, int(response.total_count))
        ctx.expect_equal(f"items with page_size {size} (total_count {response.total_count})", len(items), want)
        if part.exact:
            ctx.expect(bool(response.next_page_token), "a next_page_token after a capped page", "none")
            rest = part.page(page_size=size, page_token=response.next_page_token)
            got = [part.key(i) for i in (*items, *page_items(rest))]
            ctx.expect_equal(f"items of two pages of {size}", got, part.own)
            ctx.expect_equal("next_page_token of the last page", rest.next_page_token, "")


@case(GET_ALL_MAPPINGS, GET_WORKER_CONNECTIONS)
def page_size_is_capped_at_1000(ctx: Context) -> None:
    """A page_size above 1000 gives pages of 1000: checked on the 1001 mappings and connections of an own worker."""
    own = _OwnStations(ctx, connect=True)
    stations = own.first(MAX_PAGE_SIZE + 1)
    _page_size_capped(ctx, _mappings_of(own, stations))
    _page_size_capped(ctx, _connections_of(own, stations))


@case(LIST_CENTRAL_SYSTEMS, LIST_WORKERS)
def unfiltered_page_size_is_capped_at_1000(ctx: Context) -> None:
    """ListCentralSystems and ListWorkers (basic view) give at most 1000 per page for any larger page_size."""
    _page_size_capped(ctx, _central_systems(ctx, 0))
    _page_size_capped(ctx, _workers(ctx, 0))


def _stable_under_writes(ctx: Context, rpc: str) -> None:
    part = PARTS[rpc](ctx, 16)
    stable, victims = part.own[0::2], part.own[1::2]
    pending = list(victims)
    # A bounded number of writes: on a list's tail, where new ids land, every
    # addition lengthens the walk, so adding on every page (with another
    # client adding there too) could keep a walk with pages of 2 from ending.
    steps = iter(range(2 * len(victims)))

    def write(read: list[Any]) -> None:
        step = next(steps, None)
        if step is None:
            return
        returned = {part.key(item) for item in read}
        if step % 2 == 0:
            # Delete one already returned (an offset token now skips an item); add a later one.
            gone = next((v for v in pending if v in returned), None)
            if gone is not None:
                part.remove(gone)
                pending.remove(gone)
            part.add(False)
        else:
            # Add one that sorts before the position (an offset token now repeats an item);
            # delete one not returned yet.
            part.add(True)
            unread = next((v for v in pending if v not in returned), None)
            if unread is not None:
                part.remove(unread)
                pending.remove(unread)

    walk = part.walk(ctx, 2, between=write)
    keys = [part.key(item) for item in walk.items]
    ctx.expect(walk.complete, "a walk that reaches a page without next_page_token", "it stopped early")
    twice = sorted({k for k in keys if keys.count(k) > 1})
    ctx.expect_equal("items returned twice", twice, [])
    read = set(keys)
    missing = [k for k in stable if k not in read]
    ctx.expect_equal("own items that existed throughout but were not returned", missing, [])


_register_per_list(
    "stable_under_writes",
    "while a walk with page_size 2 runs, the case, between its first 16 pages, creates own objects that sort "
    "before and after its position and deletes own ones already returned and not yet returned; every object "
    "that existed throughout is returned exactly once and none twice.",
    _stable_under_writes,
)


# -- GetAllTransactions: limit/offset plus tokens, read-only ------------------


def _transactions(ctx: Context, **fields: Any) -> tx_pb.GetAllTransactionsResponse:
    return ctx.transactions.GetAllTransactions(tx_pb.GetAllTransactionsRequest(**fields))


@case(GET_ALL_TRANSACTIONS)
def transactions_token_walk_matches_offsets(ctx: Context) -> None:
    """Token pages of 37 read the same sequence as offset pages of 1000, with nothing twice (first 2000 read)."""
    by_tokens = ctx.walk(
        ctx.transactions.GetAllTransactions, tx_pb.GetAllTransactionsRequest(), 37, max_items=TRANSACTION_SAMPLE
    )
    ids = [t.id for t in by_tokens.items]
    ctx.expect_equal("number of distinct ids", len(set(ids)), len(ids))
    by_offsets: list[str] = []
    while len(by_offsets) < len(ids):
        page = _transactions(ctx, limit=MAX_PAGE_SIZE, offset=len(by_offsets)).transactions
        if not page:
            break
        by_offsets.extend(t.id for t in page)
    ctx.expect_equal("ids read with tokens", ids, by_offsets[: len(ids)])
    total = by_tokens.pages[0].total_count
    if total <= TRANSACTION_SAMPLE:
        ctx.expect(by_tokens.complete, "a walk that reaches a page without next_page_token", "it stopped early")
        ctx.expect_equal("transactions read with tokens", len(ids), total)


@case(GET_ALL_TRANSACTIONS)
def transactions_offset_pages_issue_tokens(ctx: Context) -> None:
    """An offset page carries next_page_token exactly when more follow; with a token, offset skips from there."""
    first = _transactions(ctx, limit=10)
    total = first.total_count
    ctx.expect_equal("next_page_token present after the first 10", bool(first.next_page_token), total > 10)
    if total:
        last = _transactions(ctx, limit=10, offset=total - 1)
        ctx.expect_equal("next_page_token of the page at offset total-1", last.next_page_token, "")
    if total > 25:
        reference = [t.id for t in _transactions(ctx, limit=25).transactions]
        from_token = _transactions(ctx, limit=10, offset=5, page_token=first.next_page_token).transactions
        ctx.expect_equal("page after the token, skipping 5", [t.id for t in from_token], reference[15:25])
        switched = _transactions(ctx, limit=5, offset=3)
        after = _transactions(ctx, limit=7, page_token=switched.next_page_token).transactions
        ctx.expect_equal("page after an offset page's token", [t.id for t in after], reference[8:15])


@case(GET_ALL_TRANSACTIONS)
def transactions_filtered_token_walk_ends(ctx: Context) -> None:
    """A token walk of one station's transactions with limit 3 reads exactly total_count, then stops."""
    sample = _transactions(ctx, limit=1).transactions
    station = sample[0].station_id if sample else "NO-SUCH-STATION"
    request = tx_pb.GetAllTransactionsRequest(station_id=station)
    walk = ctx.walk(ctx.transactions.GetAllTransactions, request, 3, max_items=TRANSACTION_SAMPLE)
    total = walk.pages[0].total_count
    ctx.expect(all(t.station_id == station for t in walk.items), f"only transactions of {station}", "others")
    if total <= TRANSACTION_SAMPLE:
        ctx.expect(walk.complete, "a walk that reaches a page without next_page_token", "it stopped early")
        ids = [t.id for t in walk.items]
        ctx.expect_equal("transactions read", (len(ids), len(set(ids))), (total, total))
        ctx.expect_equal("pages", len(walk.pages), max(1, math.ceil(total / 3)))


@case(GET_ALL_TRANSACTIONS)
def transactions_bad_token_is_invalid(ctx: Context) -> None:
    """A garbage token, or one passed back with other filters, is INVALID_ARGUMENT INVALID_PAGE_TOKEN."""
    for token in GARBAGE_TOKENS:
        ctx.expect_error(
            partial(_transactions, ctx, page_token=token), INVALID, errors.INVALID_PAGE_TOKEN, {"page_token"}
        )
    first = _transactions(ctx, limit=1)
    if not first.next_page_token:
        return  # fewer than two transactions: no token to replay
    station = first.transactions[0].station_id
    for filters in (
        {"station_id": "X" if station != "X" else "Y"},
        {"central_system_id": first.transactions[0].central_system_id + 1},
        {"active_only": True},
    ):
        ctx.expect_error(
            partial(_transactions, ctx, page_token=first.next_page_token, **filters),
            INVALID,
            errors.INVALID_PAGE_TOKEN,
            {"page_token"},
        )
