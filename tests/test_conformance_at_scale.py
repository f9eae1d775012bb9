"""The conformance kit against a fleet too big for any unbounded list.

150,000 stations, each mapped to and connected through both of two central
systems (tests/fleet.py): every list a filter does not bound, asked for whole
(GetAllMappings, ListWorkers, each worker's GetWorkerConnections), is over the
4 MiB a default gRPC client accepts, so a case that asked for one would fail
with RESOURCE_EXHAUSTED. A second test reads the requests of a kit run, so
that no unbounded request hides behind a list that happens to be short.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos import conformance
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub
from ocpp_broker_protos.reference import ReferenceServer, Store
from ocpp_broker_protos.reference.demo import demo_store
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction
from tests.fleet import build_fleet, station

STATIONS = 150_000
#: The reads that return a list whose length the target decides.
LISTS = {"ListCentralSystems", "ListWorkers", "GetAllMappings", "GetWorkerConnections", "GetWorker"}
#: More than the transaction cases read (2000), so they judge a sample.
TRANSACTIONS = 5_000


def add_history(store: Store, central_system_id: int) -> None:
    """Transactions spread over the fleet; one in ten is still open, the others ended after half an hour."""
    store.add_transactions(
        Transaction(
            id=f"tx-{n:08d}",
            station_id=station(n * 7 % STATIONS),
            connector_id="1",
            central_system_id=central_system_id,
            started_at=Timestamp(seconds=1_780_000_000 + n * 60),
            ended_at=None if n % 10 == 0 else Timestamp(seconds=1_780_000_000 + n * 60 + 1800),
        )
        for n in range(TRANSACTIONS)
    )


@pytest.fixture(scope="module")
def fleet() -> Iterator[tuple[ReferenceServer, tuple[int, int]]]:
    store = Store()
    primary, roaming = build_fleet(store, STATIONS)
    add_history(store, primary)
    with ReferenceServer(store=store) as server:
        yield server, (primary, roaming)


def test_the_whole_kit_passes_against_the_big_fleet_with_a_default_client(fleet):
    server, (primary, _) = fleet
    with grpc.insecure_channel(server.target) as channel:
        # The premise: the smallest list a filter does not bound, asked for
        # whole, is too big (the mappings and the full workers are bigger).
        with pytest.raises(grpc.RpcError) as caught:
            ConnectionServiceStub(channel).GetWorkerConnections(
                conn_pb.GetWorkerConnectionsRequest(central_system_id=primary)
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    report = conformance.run(server.target)  # a default channel: 4 MiB per message
    assert report.ok, report.table()
    assert report.passed == len(conformance.cases())
    # And it cleaned up after itself.
    with grpc.insecure_channel(server.target) as channel:
        listed = CentralSystemServiceStub(channel).ListCentralSystems(cs_pb.ListCentralSystemsRequest(page_size=1))
        mappings = MappingServiceStub(channel).GetAllMappings(map_pb.GetAllMappingsRequest(page_size=1))
        workers = ConnectionServiceStub(channel).ListWorkers(conn_pb.ListWorkersRequest(view=conn_pb.WORKER_VIEW_BASIC))
    assert (listed.total_count, mappings.total_count) == (2, 2 * STATIONS)
    assert [w.connections_count for w in workers.workers] == [STATIONS, STATIONS]


class _Recorder(grpc.UnaryUnaryClientInterceptor):
    """Keeps every request the kit sends, and the ids of the central systems it creates."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.own_central_systems: set[int] = set()

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.rsplit("/", 1)[-1]
        self.requests.append((method, request))
        outcome = continuation(details, request)
        if method == "CreateCentralSystem" and outcome.exception() is None:
            self.own_central_systems.add(outcome.result().central_system.id)
        return outcome


def _unbounded(method: str, request: Any, own: set[int]) -> bool:
    """Whether a request could ask a big target for more than a page of others' items.

    page_size 0 with a token asks for the rest of a walk: the kit does that
    only at the tail of a list, after its own objects."""
    paged = method != "GetWorker" and (request.page_size != 0 or request.page_token != "")
    if method == "ListCentralSystems":
        return not paged
    if method == "ListWorkers":
        # A full view only for one worker after a token that points at own workers (replays).
        one_after_own = request.page_size == 1 and request.page_token != ""
        return not paged or (request.view != conn_pb.WORKER_VIEW_BASIC and not one_after_own)
    if method == "GetAllMappings":
        return not (paged or request.station_id or request.central_system_id)
    if method == "GetWorkerConnections":
        return not paged and request.central_system_id not in own
    if method == "GetWorker":
        # Id 0 is refused as invalid before anything is read.
        return request.view != conn_pb.WORKER_VIEW_BASIC and request.central_system_id not in {0, *own}
    return False


def test_no_case_asks_for_an_unbounded_list():
    # On the demo data, where an unbounded request would still succeed: only
    # the requests themselves show it, whatever the size of the target.
    recorder = _Recorder()
    with ReferenceServer(store=demo_store()) as server, grpc.insecure_channel(server.target) as plain:
        report = conformance.run(channel=grpc.intercept_channel(plain, recorder))
    assert report.ok, report.table()
    lists = [(m, r) for m, r in recorder.requests if m in LISTS]
    assert {m for m, _ in lists} == LISTS
    unbounded = [f"{m}({str(r).strip()!r})" for m, r in lists if _unbounded(m, r, recorder.own_central_systems)]
    assert unbounded == []
