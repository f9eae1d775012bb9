"""A synchronous client: set up a central system, map a station, connect it,
and read the newest transactions.

    python examples/sync_client.py --target 127.0.0.1:50051   # against `make serve`
"""

from __future__ import annotations

import argparse
import uuid

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos.central_system.v1 import central_system_pb2, central_system_pb2_grpc
from ocpp_broker_protos.connection.v1 import connection_pb2, connection_pb2_grpc
from ocpp_broker_protos.mapping.v1 import mapping_pb2, mapping_pb2_grpc
from ocpp_broker_protos.transaction.v1 import transaction_pb2, transaction_pb2_grpc


def main(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        central_systems = central_system_pb2_grpc.CentralSystemServiceStub(channel)
        mappings = mapping_pb2_grpc.MappingServiceStub(channel)
        connections = connection_pb2_grpc.ConnectionServiceStub(channel)
        transactions = transaction_pb2_grpc.TransactionServiceStub(channel)

        suffix = uuid.uuid4().hex[:6]  # so the example can run again on the same server
        created = central_systems.CreateCentralSystem(
            central_system_pb2.CreateCentralSystemRequest(
                name=f"Example CSMS {suffix}", websocket_url="wss://csms.example/ocpp"
            ),
            timeout=5,
        ).central_system
        print(f"created central system {created.id}: {created.name}")

        updated = central_systems.UpdateCentralSystem(
            central_system_pb2.UpdateCentralSystemRequest(
                id=created.id, description="added by the example", update_mask=FieldMask(paths=["description"])
            ),
            timeout=5,
        ).central_system
        print(f"description is now {updated.description!r}")

        station = f"EXAMPLE-{suffix}"
        mappings.CreateMapping(
            mapping_pb2.CreateMappingRequest(
                station_id=station, central_system_id=created.id, weight=10, is_master=True, is_enabled=True
            ),
            timeout=5,
        )
        connection = connections.CreateConnection(
            connection_pb2.CreateConnectionRequest(central_system_id=created.id, station_id=station), timeout=5
        ).connection
        print(f"station {connection.station_id} connected: {connection.connected}")

        worker = connections.GetWorker(connection_pb2.GetWorkerRequest(central_system_id=created.id), timeout=5).worker
        print(f"worker of {worker.central_system_name} holds {worker.connections_count} connection(s)")

        page = transactions.GetAllTransactions(transaction_pb2.GetAllTransactionsRequest(limit=3), timeout=5)
        print(f"{page.total_count} transactions in all; newest:")
        for t in page.transactions:
            state = "open" if not t.HasField("ended_at") else f"ended {t.ended_at.ToJsonString()}"
            print(f"  {t.id} on {t.station_id}/{t.connector_id}, started {t.started_at.ToJsonString()}, {state}")

        # Clean up: force removes the mapping and the connection too.
        central_systems.DeleteCentralSystem(
            central_system_pb2.DeleteCentralSystemRequest(id=created.id, force=True), timeout=5
        )
        print("deleted it again")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    main(parser.parse_args().target)
