"""The five paged lists, described once, so one walk helper serves every test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message

from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub
from ocpp_broker_protos.reference import Store
from ocpp_broker_protos.transaction.v1 import transaction_pb2 as tx_pb
from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub

Key = tuple[Any, ...]


def _transaction_key(t: Any) -> Key:
    return (-t.started_at.seconds, -t.started_at.nanos, t.id)


@dataclass(frozen=True)
class PagedList:
    name: str
    #: The RPC's unary callable on a channel.
    rpc: Callable[[grpc.Channel], Callable[..., Any]]
    request: type[Message]
    #: The response's repeated field.
    items: str
    #: The sort key of one item: the list's documented order.
    key: Callable[[Any], Key]
    #: The request field that sizes a page.
    size_field: str = "page_size"

    def call(self, channel: grpc.Channel, **fields: Any) -> Any:
        return self.rpc(channel)(self.request(**fields))

    def whole(self, store: Store, **filters: Any) -> list[Any]:
        """The whole list from the store's Python API, for comparison."""
        return WHOLE[self.name](store, **filters)


def _view_of(worker: conn_pb.WorkerInfo, view: int) -> conn_pb.WorkerInfo:
    if view == conn_pb.WORKER_VIEW_BASIC:
        basic = conn_pb.WorkerInfo()
        basic.CopyFrom(worker)
        del basic.connections[:]
        return basic
    return worker


WHOLE: dict[str, Callable[..., list[Any]]] = {
    "central_systems": lambda store: store.list_central_systems(),
    "mappings": lambda store, **f: store.list_mappings(**f),
    "workers": lambda store, view=0: [_view_of(w, view) for w in store.list_workers()],
    "worker_connections": lambda store, central_system_id: store.worker_connections(central_system_id),
    "transactions": lambda store, **f: list(store.transactions_page(limit=1000, **f).transactions),
}

CENTRAL_SYSTEMS = PagedList(
    "central_systems",
    lambda ch: CentralSystemServiceStub(ch).ListCentralSystems,
    cs_pb.ListCentralSystemsRequest,
    "central_systems",
    lambda cs: (cs.id,),
)
MAPPINGS = PagedList(
    "mappings",
    lambda ch: MappingServiceStub(ch).GetAllMappings,
    map_pb.GetAllMappingsRequest,
    "mappings",
    lambda m: (m.station_id, m.central_system_id),
)
WORKERS = PagedList(
    "workers",
    lambda ch: ConnectionServiceStub(ch).ListWorkers,
    conn_pb.ListWorkersRequest,
    "workers",
    lambda w: (w.central_system_id,),
)
WORKER_CONNECTIONS = PagedList(
    "worker_connections",
    lambda ch: ConnectionServiceStub(ch).GetWorkerConnections,
    conn_pb.GetWorkerConnectionsRequest,
    "connections",
    lambda c: (c.station_id,),
)
TRANSACTIONS = PagedList(
    "transactions",
    lambda ch: TransactionServiceStub(ch).GetAllTransactions,
    tx_pb.GetAllTransactionsRequest,
    "transactions",
    _transaction_key,
    size_field="limit",
)
#: The four lists that had no paging before 0.2.
UNPAGED_BEFORE = (CENTRAL_SYSTEMS, MAPPINGS, WORKERS, WORKER_CONNECTIONS)
ALL = (*UNPAGED_BEFORE, TRANSACTIONS)


def walk(
    channel: grpc.Channel,
    paged: PagedList,
    page_size: int,
    between_pages: Callable[[int], None] | None = None,
    max_pages: int | None = None,
    **filters: Any,
) -> list[Any]:
    """Every response of a walk with tokens, first to last.

    between_pages(n) runs after the n-th page (from 1), before the next; a
    walk longer than max_pages fails instead of running on."""
    responses: list[Any] = []
    token = ""
    while True:
        assert max_pages is None or len(responses) < max_pages, f"{paged.name}: no end after {max_pages} pages"
        response = paged.call(channel, **{paged.size_field: page_size}, page_token=token, **filters)
        responses.append(response)
        token = response.next_page_token
        if not token:
            return responses
        if between_pages is not None:
            between_pages(len(responses))


def items_of(paged: PagedList, responses: list[Any]) -> list[Any]:
    return [item for response in responses for item in getattr(response, paged.items)]
