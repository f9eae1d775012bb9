"""A downstream project's contract test, as a user writes it with the pytest
plugin that `pip install 'ocpp-broker-protos[server]'` registers.

    pytest examples/test_downstream_contract.py
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos.central_system.v1.central_system_pb2 import ListCentralSystemsRequest
from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub
from ocpp_broker_protos.connection.v1.connection_pb2 import CreateConnectionRequest, ListWorkersRequest
from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
from ocpp_broker_protos.reference import ReferenceServer
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsRequest, Transaction
from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub


def test_a_fresh_broker_has_no_central_systems(ocpp_central_system_stub: CentralSystemServiceStub) -> None:
    assert not ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest()).central_systems


def test_connecting_a_mapped_station(ocpp_server: ReferenceServer, ocpp_connection_stub: ConnectionServiceStub) -> None:
    cs = ocpp_server.store.create_central_system("Main", "wss://csms.example/ocpp")
    ocpp_server.store.create_mapping("CP-1", cs.id, is_master=True, is_enabled=True)
    ocpp_connection_stub.CreateConnection(CreateConnectionRequest(central_system_id=cs.id, station_id="CP-1"))
    (worker,) = ocpp_connection_stub.ListWorkers(ListWorkersRequest()).workers
    assert [c.station_id for c in worker.connections] == ["CP-1"]


def test_open_sessions_are_listed_first_when_newest(
    ocpp_server: ReferenceServer, ocpp_transaction_stub: TransactionServiceStub
) -> None:
    for n, ended in ((1, True), (2, False)):
        t = Transaction(id=f"T{n}", station_id="CP-1", connector_id=str(n), central_system_id=1)
        t.started_at.CopyFrom(Timestamp(seconds=1_700_000_000 + n))
        if ended:
            t.ended_at.CopyFrom(Timestamp(seconds=1_700_000_100))
        ocpp_server.store.add_transaction(t)
    page = ocpp_transaction_stub.GetAllTransactions(GetAllTransactionsRequest(active_only=True))
    assert [t.id for t in page.transactions] == ["T2"]
