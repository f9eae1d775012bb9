"""Paging and the conformance kit at fleet size, against baselines in the same run.

One server process holds a fleet: ``stations`` stations, each mapped to and
connected through both of two central systems (so twice as many mappings,
and two workers with ``stations`` connections each), and ``transactions``
transactions, one in ten still open: the fleet of tests/fleet.py, built
through the store's batch methods (far faster than the RPCs), plus the
transactions, and served by the ReferenceServer, health and reflection
included, like any deployment. Through a real channel:

- the last 1000-item page of GetAllMappings, of one worker's
  GetWorkerConnections and of GetAllTransactions (by page token) is timed
  against the first page, calls alternated, medians compared;
- the whole conformance kit runs against the fleet and against a server with
  the demo data set in a process of its own, runs alternated (demo, fleet,
  fleet, demo), medians compared.

The fleet's process reports its resident memory before the fleet, after the
stations and after the transactions, so bytes per station (two mappings, two
connections) are measured at full size.

The deep pages start from tokens this script encodes with the server's own
codec (paging.py) for a known position: a client never builds tokens, but a
walk of two thousand pages to reach the end would only measure the walk.
Each last page is checked to be the real end of its list.

    python benchmarks/paging_scale.py serve --ready-file F [--stations N --transactions M | --demo]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos import conformance
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub
from ocpp_broker_protos.reference import Store, paging
from ocpp_broker_protos.reference.transactions import sort_key
from ocpp_broker_protos.transaction.v1 import transaction_pb2 as tx_pb
from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub

# The fleet the paging tests walk, so the two never drift apart.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.fleet import build_fleet, station  # noqa: E402

PAGE = 1000
#: Central system ids of the fleet: the first two the store hands out.
PRIMARY, ROAMING = 1, 2
FIRST_START = 1_700_000_000

TARGETS: dict[str, tuple[str, float]] = {
    "mappings_last_vs_first_page_ratio": ("<=", 1.5),
    "worker_connections_last_vs_first_page_ratio": ("<=", 1.5),
    "transactions_token_last_vs_first_page_ratio": ("<=", 1.5),
    "kit_big_vs_demo_ratio": ("<=", 2.0),
}


def transaction_id(n: int) -> str:
    return f"tx-{n:08d}"


def started_at(n: int) -> Timestamp:
    # Distinct and growing with n: the newest-first order is n descending.
    return Timestamp(seconds=FIRST_START + n * 60)


# -- the server process --------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _settled_rss() -> int:
    # What the store holds, not what building it left in the allocator's free
    # lists (a batch of two million copies is garbage once stored).
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the figure includes free memory
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return _rss()


def fill(store: Store, stations: int, transactions: int) -> dict[str, float]:
    """Fill an empty store; returns the resident bytes and seconds of each step."""
    rss_before = _settled_rss()
    started = time.perf_counter()
    # Station ids are zero-padded, so their order is the order of n.
    primary, roaming = build_fleet(store, stations)
    assert (primary, roaming) == (PRIMARY, ROAMING), "the fleet needs an empty store"
    stations_done = time.perf_counter()
    rss_stations = _settled_rss()
    for first in range(0, transactions, 10_000):
        store.add_transactions(
            tx_pb.Transaction(
                id=transaction_id(n),
                station_id=station(n * 7 % stations),
                # One connector per pass over the stations, so no two open
                # transactions share one.
                connector_id=str(n // stations + 1),
                central_system_id=primary,
                started_at=started_at(n),
                ended_at=None if n % 10 == 0 else Timestamp(seconds=started_at(n).seconds + 1800),
            )
            for n in range(first, min(first + 10_000, transactions))
        )
    done = time.perf_counter()
    rss_transactions = _settled_rss()
    return {
        "rss_before_bytes": rss_before,
        "rss_after_stations_bytes": rss_stations,
        "rss_after_transactions_bytes": rss_transactions,
        "stations_seconds": stations_done - started,
        "transactions_seconds": done - stations_done,
    }


def serve(ready_file: Path, stations: int, transactions: int, demo: bool) -> None:
    from ocpp_broker_protos.reference import ReferenceServer
    from ocpp_broker_protos.reference.demo import demo_store

    store = demo_store() if demo else Store()
    report: dict[str, Any] = {} if demo else fill(store, stations, transactions)
    server = ReferenceServer(store=store).start()
    ready_file.write_text(json.dumps({**report, "port": server.port}))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(0)


# -- the measuring side ---------------------------------------------------------


class ServerChild:
    """A serve process; ready once it has written its report."""

    def __init__(self, arguments: list[str], timeout: float) -> None:
        self.ready_file = Path(tempfile.mkstemp(prefix="bench-fleet-")[1])
        self.ready_file.write_text("")
        command = [sys.executable, str(Path(__file__).resolve()), "serve", "--ready-file", str(self.ready_file)]
        self.process = subprocess.Popen([*command, *arguments])
        deadline = time.monotonic() + timeout
        while not self.ready_file.read_text():
            if self.process.poll() is not None:
                raise RuntimeError(f"fleet server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fleet server not ready after {timeout:.0f}s")
            time.sleep(0.2)
        self.report: dict[str, Any] = json.loads(self.ready_file.read_text())
        self.target = f"127.0.0.1:{self.report['port']}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.ready_file.unlink(missing_ok=True)


def _timed(call: Callable[[], Message]) -> tuple[float, Message]:
    started = time.perf_counter()
    response = call()
    return time.perf_counter() - started, response


def first_vs_last(
    first: Callable[[], Message], last: Callable[[], Message], repeats: int, check_last: Callable[[Any], None]
) -> dict[str, Any]:
    """Median call time of the last page over the first page, calls alternated."""
    for call in (first, last):  # warm both paths up
        call()
    firsts, lasts = [], []
    for _ in range(repeats):
        seconds, _response = _timed(first)
        firsts.append(seconds)
        seconds, response = _timed(last)
        check_last(response)
        lasts.append(seconds)
    first_ms, last_ms = statistics.median(firsts) * 1000, statistics.median(lasts) * 1000
    return {"first_page_ms": first_ms, "last_page_ms": last_ms, "ratio": last_ms / first_ms, "repeats": repeats}


def _is_end(response: Any, items: Any, last_item: Callable[[Any], object], expected: object) -> None:
    # The deep token really reached the end of the list.
    if len(items) != PAGE or response.next_page_token or last_item(items[-1]) != expected:
        raise AssertionError(f"not the last page: {len(items)} items, ending with {last_item(items[-1])!r}")


def page_ratios(target: str, stations: int, transactions: int, repeats: int) -> dict[str, Any]:
    with grpc.insecure_channel(target) as channel:  # a default client: 4 MiB per message
        mappings = MappingServiceStub(channel).GetAllMappings
        connections = ConnectionServiceStub(channel).GetWorkerConnections
        history = TransactionServiceStub(channel).GetAllTransactions
        # The last page holds the last PAGE / 2 stations' two mappings each, the
        # worker's last PAGE stations, and the PAGE oldest transactions.
        after_mapping = paging.MAPPINGS.token(("", 0), (station(stations - PAGE // 2 - 1), ROAMING))
        after_connection = paging.WORKER_CONNECTIONS.token((PRIMARY,), (station(stations - PAGE - 1),))
        after_transaction = paging.TRANSACTIONS.token(
            ("", 0, False), (sort_key(started_at(PAGE), transaction_id(PAGE)),)
        )
        return {
            "mappings": first_vs_last(
                lambda: mappings(map_pb.GetAllMappingsRequest(page_size=PAGE)),
                lambda: mappings(map_pb.GetAllMappingsRequest(page_size=PAGE, page_token=after_mapping)),
                repeats,
                lambda r: _is_end(
                    r, r.mappings, lambda m: (m.station_id, m.central_system_id), (station(stations - 1), ROAMING)
                ),
            ),
            "worker_connections": first_vs_last(
                lambda: connections(conn_pb.GetWorkerConnectionsRequest(central_system_id=PRIMARY, page_size=PAGE)),
                lambda: connections(
                    conn_pb.GetWorkerConnectionsRequest(
                        central_system_id=PRIMARY, page_size=PAGE, page_token=after_connection
                    )
                ),
                repeats,
                lambda r: _is_end(r, r.connections, lambda c: c.station_id, station(stations - 1)),
            ),
            "transactions_token": first_vs_last(
                lambda: history(tx_pb.GetAllTransactionsRequest(limit=PAGE)),
                lambda: history(tx_pb.GetAllTransactionsRequest(limit=PAGE, page_token=after_transaction)),
                repeats,
                lambda r: _is_end(r, r.transactions, lambda t: t.id, transaction_id(0)),
            ),
            "transactions": transactions,
        }


def kit_times(big: str, demo: str, runs: int) -> dict[str, Any]:
    """Whole-kit wall times, demo and fleet alternated: demo, fleet, then fleet, demo."""
    seconds: dict[str, list[float]] = {"big": [], "demo": []}
    failed: dict[str, list[str]] = {"big": [], "demo": []}
    targets = {"big": big, "demo": demo}
    for run in range(runs):
        for name in ("demo", "big") if run % 2 == 0 else ("big", "demo"):
            started = time.perf_counter()
            report = conformance.run(targets[name])
            seconds[name].append(time.perf_counter() - started)
            failed[name] += [f"{r.case.name}: {r.why}" for r in report.failures()]
            cases = len(report.results)
    return {
        "ratio": statistics.median(seconds["big"]) / statistics.median(seconds["demo"]),
        "big_seconds": seconds["big"],
        "demo_seconds": seconds["demo"],
        "cases": cases,
        "failures": failed,
        "passed": not failed["big"] and not failed["demo"],
    }


def measure(stations: int, transactions: int, repeats: int, kit_runs: int) -> dict[str, Any]:
    """Everything this module reports, with the raw numbers, for run.py."""
    if min(stations, transactions) <= PAGE:
        raise ValueError(f"the fleet needs more than {PAGE} stations and transactions")
    build_timeout = 60 + stations * 0.003 + transactions * 0.001
    fleet = ServerChild(["--stations", str(stations), "--transactions", str(transactions)], build_timeout)
    try:
        demo = ServerChild(["--demo"], 120)
        try:
            pages = page_ratios(fleet.target, stations, transactions, repeats)
            kit = kit_times(fleet.target, demo.target, kit_runs)
        finally:
            demo.stop()
    finally:
        fleet.stop()
    build = fleet.report
    return {
        "stations": stations,
        "pages": pages,
        "kit": kit,
        "build": build,
        "bytes_per_station": (build["rss_after_stations_bytes"] - build["rss_before_bytes"]) / stations,
    }


def figures(raw: dict[str, Any]) -> dict[str, Any]:
    """The keys this module adds to latest.json."""
    pages = raw["pages"]
    return {
        "mappings_last_vs_first_page_ratio": pages["mappings"]["ratio"],
        "worker_connections_last_vs_first_page_ratio": pages["worker_connections"]["ratio"],
        "transactions_token_last_vs_first_page_ratio": pages["transactions_token"]["ratio"],
        "kit_big_vs_demo_ratio": raw["kit"]["ratio"],
        "bytes_per_station": raw["bytes_per_station"],
        "kit_runs_passed": raw["kit"]["passed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--ready-file", type=Path, required=True)
    s.add_argument("--stations", type=int, default=0)
    s.add_argument("--transactions", type=int, default=0)
    s.add_argument("--demo", action="store_true")
    args = parser.parse_args()
    serve(args.ready_file, args.stations, args.transactions, args.demo)


if __name__ == "__main__":
    main()
