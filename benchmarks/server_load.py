"""The two halves of the throughput benchmark, each run as its own process.

    python benchmarks/server_load.py serve --kind reference|empty --port-file F
    python benchmarks/server_load.py load --target A --server-pid PA --target B --server-pid PB \
        --rpc get|list --slices N --slice-seconds S

Both servers use the same gRPC configuration. The reference one serves the
demo data; the empty one answers the same two methods with constant bytes of
exactly the size the reference server returns, so the ratio between them is
what the reference server's own work costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc

from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.transaction.v1 import transaction_pb2 as tx_pb

WORKERS = 8
GET = "/ocpp_broker_protos.central_system.v1.CentralSystemService/GetCentralSystem"
LIST = "/ocpp_broker_protos.transaction.v1.TransactionService/GetAllTransactions"
REQUESTS = {
    "get": (GET, cs_pb.GetCentralSystemRequest(id=1).SerializeToString()),
    "list": (LIST, tx_pb.GetAllTransactionsRequest(limit=100).SerializeToString()),
}
OPTIONS = [("grpc.so_reuseport", 0)]


def _new_server() -> grpc.Server:
    return grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS), options=OPTIONS)


def serve(kind: str, port_file: Path) -> None:
    from ocpp_broker_protos.reference.demo import demo_store
    from ocpp_broker_protos.reference.servicers import add_all_to_server

    store = demo_store()
    server = _new_server()
    if kind == "reference":
        add_all_to_server(store, server)
    else:
        answers = {
            GET: cs_pb.GetCentralSystemResponse(central_system=store.get_central_system(1)).SerializeToString(),
            LIST: store.transactions_page(limit=100).SerializeToString(),
        }

        def constant(method: str) -> grpc.RpcMethodHandler[bytes, bytes]:
            answer = answers[method]
            return grpc.unary_unary_rpc_method_handler(lambda request, context: answer)

        class Constant(grpc.GenericRpcHandler):
            def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[bytes, bytes] | None:
                return constant(details.method) if details.method in answers else None

        server.add_generic_rpc_handlers([Constant()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_file.write_text(str(port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(0).wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _alternate(
    targets: list[str],
    server_pids: list[int],
    rpc: str,
    slices: int,
    slice_seconds: float,
    warmup: float,
    concurrency: int,
) -> list[dict[str, float]]:
    """Load the servers in turn, one slice at a time (A B B A A B B A ...).

    This machine's speed drifts over seconds to minutes, so two servers
    measured in long runs minutes apart are measured on different machines;
    short slices that alternate put both under the same drift. Every channel
    is open and warm before the first slice; a slice counts the calls sent
    and answered inside it, and the server's CPU time over it.
    """
    method, payload = REQUESTS[rpc]
    channels = [grpc.aio.insecure_channel(target) for target in targets]
    calls: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [c.unary_unary(method) for c in channels]

    async def run(side: int, seconds: float, latencies: list[float] | None) -> int:
        end = time.perf_counter() + seconds
        count = 0

        async def worker() -> None:
            nonlocal count
            while (sent := time.perf_counter()) < end:
                await calls[side](payload, timeout=30)
                done = time.perf_counter()
                if done <= end:
                    count += 1
                    if latencies is not None:
                        latencies.append(done - sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count

    results = []
    try:
        for side in range(len(targets)):
            await run(side, warmup, None)
        for index in range(slices):
            side = (index + 1) // 2 % 2  # A B B A A B B A: neither side is always first
            latencies: list[float] = []
            cpu = _cpu_seconds(server_pids[side])
            started = time.perf_counter()
            count = await run(side, slice_seconds, latencies)
            elapsed = time.perf_counter() - started
            cpu = _cpu_seconds(server_pids[side]) - cpu
            latencies.sort()
            results.append(
                {
                    "side": float(side),
                    "calls": float(count),
                    "calls_per_second": count / slice_seconds,
                    "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
                    "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
                    "server_cpu_share": cpu / elapsed,
                }
            )
    finally:
        for channel in channels:
            await channel.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--kind", choices=["reference", "empty"], required=True)
    s.add_argument("--port-file", type=Path, required=True)
    lo = sub.add_parser("load")
    lo.add_argument("--target", action="append", required=True, help="give it twice: A, then B")
    lo.add_argument("--server-pid", type=int, action="append", required=True, help="each target's server")
    lo.add_argument("--rpc", choices=sorted(REQUESTS), required=True)
    lo.add_argument("--slices", type=int, required=True)
    lo.add_argument("--slice-seconds", type=float, required=True)
    lo.add_argument("--warmup", type=float, default=1.0)
    lo.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.kind, args.port_file)
    else:
        if len(args.target) != len(args.server_pid):
            parser.error("give one --server-pid per --target")
        result = asyncio.run(
            _alternate(
                args.target, args.server_pid, args.rpc, args.slices, args.slice_seconds, args.warmup, args.concurrency
            )
        )
        json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
