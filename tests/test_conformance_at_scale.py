"""The conformance kit against a fleet too big for any unbounded list.

150,000 stations, each mapped to and connected through both of two central
systems: every list a filter does not bound, asked for whole (GetAllMappings,
ListWorkers, each worker's GetWorkerConnections), is over the 4 MiB a default
gRPC client accepts, so a case that asked for one would fail with
RESOURCE_EXHAUSTED.
The fleet is built through the store's Python API, which is much faster
than the RPCs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction

STATIONS = 150_000
#: More than the transaction cases read (2000), so they judge a sample.
TRANSACTIONS = 5_000


def station(n: int) -> str:
    return f"FLEET-SITE{n % 997:03d}-CP{n:07d}"


def build_fleet(store: Store) -> tuple[int, int]:
    primary = store.create_central_system("Fleet primary", "wss://primary.fleet.example/ocpp").id
    roaming = store.create_central_system("Fleet roaming", "wss://roaming.fleet.example/ocpp").id
    for n in range(STATIONS):
        station_id = station(n)
        store.create_mapping(station_id, primary, weight=10, is_master=True)
        store.create_mapping(station_id, roaming, weight=5)
        store.create_connection(primary, station_id)
        store.create_connection(roaming, station_id)
    # One in ten is still open; the others ended after half an hour.
    store.add_transactions(
        Transaction(
            id=f"tx-{n:08d}",
            station_id=station(n * 7 % STATIONS),
            connector_id="1",
            central_system_id=primary,
            started_at=Timestamp(seconds=1_780_000_000 + n * 60),
            ended_at=None if n % 10 == 0 else Timestamp(seconds=1_780_000_000 + n * 60 + 1800),
        )
        for n in range(TRANSACTIONS)
    )
    return primary, roaming


@pytest.fixture(scope="module")
def fleet() -> Iterator[tuple[ReferenceServer, tuple[int, int]]]:
    store = Store()
    central_systems = build_fleet(store)
    with ReferenceServer(store=store) as server:
        yield server, central_systems


def test_a_list_asked_for_whole_is_too_big_for_a_default_client(fleet):
    # The mappings (300,000) and one worker's connections (150,000); ListWorkers
    # asked for whole holds both workers' connections, so it is bigger still.
    server, (primary, _) = fleet
    with grpc.insecure_channel(server.target) as channel:
        whole_lists: list[Callable[[], object]] = [
            lambda: MappingServiceStub(channel).GetAllMappings(map_pb.GetAllMappingsRequest()),
            lambda: ConnectionServiceStub(channel).GetWorkerConnections(
                conn_pb.GetWorkerConnectionsRequest(central_system_id=primary)
            ),
        ]
        for call in whole_lists:
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The same lists in pages fit: that is how the kit reads them.
        page = MappingServiceStub(channel).GetAllMappings(map_pb.GetAllMappingsRequest(page_size=1000))
        assert (len(page.mappings), page.total_count) == (1000, 2 * STATIONS)


def test_the_whole_kit_passes_against_the_big_fleet_with_a_default_client(fleet):
    server, _ = fleet
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
