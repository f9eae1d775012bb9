"""An asyncio client: read every worker and, at the same time, the open
transactions of each station they hold.

    python examples/async_client.py --target 127.0.0.1:50051   # against `make serve`
"""

from __future__ import annotations

import argparse
import asyncio

import grpc

from ocpp_broker_protos.connection.v1 import connection_pb2, connection_pb2_grpc
from ocpp_broker_protos.transaction.v1 import transaction_pb2, transaction_pb2_grpc


async def main(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        connections = connection_pb2_grpc.ConnectionServiceStub(channel)
        transactions = transaction_pb2_grpc.TransactionServiceStub(channel)
        workers = (await connections.ListWorkers(connection_pb2.ListWorkersRequest(), timeout=5)).workers
        stations = sorted({c.station_id for w in workers for c in w.connections if c.connected})
        pages = await asyncio.gather(
            *(
                transactions.GetAllTransactions(
                    transaction_pb2.GetAllTransactionsRequest(station_id=station, active_only=True), timeout=5
                )
                for station in stations
            )
        )
        for worker in workers:
            connected = sum(c.connected for c in worker.connections)
            print(f"{worker.central_system_name}: {connected}/{worker.connections_count} stations connected")
        charging = {s: p.total_count for s, p in zip(stations, pages, strict=True) if p.total_count}
        print(f"{len(charging)} connected station(s) charging right now: {charging}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051")
    asyncio.run(main(parser.parse_args().target))
