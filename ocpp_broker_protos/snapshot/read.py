"""Reading a server's whole state through the admin API, page by page.

Every list is walked with page tokens (page_size 1000, the contract's cap),
so no response comes near a client's 4 MiB limit. A server that ignores
paging still works: it answers the first request with the whole list, or,
for transactions, pages that are followed by offset up to total_count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb2
from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb2
from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
from ocpp_broker_protos.mapping.v1 import mapping_pb2
from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub
from ocpp_broker_protos.transaction.v1 import transaction_pb2
from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub

PAGE_SIZE = 1000

#: Called as items arrive: (list name, items of it so far).
OnItems = Callable[[str, int], None]


@dataclass
class State:
    """What the API returned, list by list, in the order it returned it."""

    central_systems: list[cs_pb2.CentralSystem] = field(default_factory=list)
    mappings: list[mapping_pb2.Mapping] = field(default_factory=list)
    connections: list[conn_pb2.ConnectionInfo] = field(default_factory=list)
    transactions: list[transaction_pb2.Transaction] = field(default_factory=list)


class ReadError(Exception):
    """A call failed; the message names the call and the status."""


def _pages(call: Callable[..., Any], request_type: type, name: str, timeout: float, **fields: Any) -> Iterator[Any]:
    token = ""
    while True:
        try:
            response = call(request_type(page_token=token, **fields), timeout=timeout)
        except grpc.RpcError as error:
            raise ReadError(_describe(name, error)) from None
        yield response
        token = response.next_page_token
        if not token:
            return


def _describe(name: str, error: grpc.RpcError) -> str:
    code = error.code() if isinstance(error, grpc.Call) else None
    detail = error.details() if isinstance(error, grpc.Call) else str(error)
    return f"{name} failed: {code.name if code else 'UNKNOWN'}: {detail}"


def read_state(channel: grpc.Channel, timeout: float = 30.0, on_items: OnItems | None = None) -> State:
    """Every central system, mapping, connection and transaction the server holds."""
    report = on_items or (lambda name, count: None)
    state = State()
    central_systems = CentralSystemServiceStub(channel)
    for page in _pages(
        central_systems.ListCentralSystems,
        cs_pb2.ListCentralSystemsRequest,
        "ListCentralSystems",
        timeout,
        page_size=PAGE_SIZE,
    ):
        state.central_systems.extend(page.central_systems)
        report("central systems", len(state.central_systems))
    mappings = MappingServiceStub(channel)
    for page in _pages(
        mappings.GetAllMappings, mapping_pb2.GetAllMappingsRequest, "GetAllMappings", timeout, page_size=PAGE_SIZE
    ):
        state.mappings.extend(page.mappings)
        report("mappings", len(state.mappings))
    connections = ConnectionServiceStub(channel)
    workers = [
        worker.central_system_id
        for page in _pages(
            connections.ListWorkers,
            conn_pb2.ListWorkersRequest,
            "ListWorkers",
            timeout,
            page_size=PAGE_SIZE,
            view=conn_pb2.WORKER_VIEW_BASIC,
        )
        for worker in page.workers
    ]
    for central_system_id in workers:
        try:
            for page in _pages(
                connections.GetWorkerConnections,
                conn_pb2.GetWorkerConnectionsRequest,
                "GetWorkerConnections",
                timeout,
                central_system_id=central_system_id,
                page_size=PAGE_SIZE,
            ):
                state.connections.extend(page.connections)
                report("connections", len(state.connections))
        except ReadError:
            # A worker whose central system was deleted since ListWorkers
            # has no connections left to read.
            if not _gone(central_systems, central_system_id, timeout):
                raise
    _read_transactions(TransactionServiceStub(channel), state.transactions, timeout, report)
    return state


def _gone(stub: CentralSystemServiceStub, central_system_id: int, timeout: float) -> bool:
    try:
        stub.GetCentralSystem(cs_pb2.GetCentralSystemRequest(id=central_system_id), timeout=timeout)
    except grpc.RpcError as error:
        return isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.NOT_FOUND
    return False


def _read_transactions(
    stub: TransactionServiceStub, into: list[transaction_pb2.Transaction], timeout: float, report: OnItems
) -> None:
    token, offset = "", 0
    while True:
        try:
            page = stub.GetAllTransactions(
                transaction_pb2.GetAllTransactionsRequest(limit=PAGE_SIZE, page_token=token, offset=offset),
                timeout=timeout,
            )
        except grpc.RpcError as error:
            raise ReadError(_describe("GetAllTransactions", error)) from None
        into.extend(page.transactions)
        report("transactions", len(into))
        if page.next_page_token:
            token, offset = page.next_page_token, 0
        elif token or not page.transactions or offset + len(page.transactions) >= page.total_count:
            return
        else:  # a server without page tokens: offsets, as before them
            offset += len(page.transactions)
