"""`make bench`: the reference server and the bindings, measured against baselines in the same run.

Every figure is a ratio of two numbers taken in this run on this machine, so
it holds on a noisy 2-core box: the reference server against an empty
servicer (same gRPC set-up, one load generator alternating between the two
in 1 s slices, A B B A ...),
a deep page against the first page, the upb backend against pure Python,
and (paging_scale.py) the last page of each list of a 1,000,000-station
fleet against its first page, and the conformance kit against that fleet
against the kit against the demo data set.
Prints a table and writes the figures, with the raw numbers they came from
and the machine, to benchmarks/results/latest.json.

`--smoke` runs every part with tiny sizes, so `make test` keeps the script
from rotting; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fixture_load  # this script's directory, first on the path
import paging_scale

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PY = sys.executable


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def pinned(core: int | None, command: list[str]) -> list[str]:
    if core is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(core), *command]


# -- server throughput --------------------------------------------------------


class ServerProcess:
    def __init__(self, kind: str, core: int | None) -> None:
        self.port_file = Path(tempfile.mkstemp(prefix=f"bench-{kind}-")[1])
        self.port_file.write_text("")
        self.process = subprocess.Popen(
            pinned(
                core, [PY, str(HERE / "server_load.py"), "serve", "--kind", kind, "--port-file", str(self.port_file)]
            )
        )
        deadline = time.monotonic() + 60
        while not self.port_file.read_text() and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {self.process.returncode}")
            time.sleep(0.05)
        self.target = f"127.0.0.1:{self.port_file.read_text()}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.port_file.unlink(missing_ok=True)


def throughput(rpc: str, slices: int, slice_seconds: float, warmup: float, control: bool = False) -> dict[str, Any]:
    """Median over pairs of slices of calls/s(A) / calls/s(B); A is the
    reference server and B the empty one, or (control) both are empty
    servers, which shows how far two identical servers drift apart here.

    One load process alternates between the two running servers in slices
    of slice_seconds (A B B A ...), so both meet the same drift of this
    machine's speed; a pair is two neighbouring slices, one of each."""
    cores = (0, 1) if (os.cpu_count() or 1) >= 2 else (None, None)
    names = ("empty", "empty") if control else ("reference", "empty")
    servers = [ServerProcess(name, cores[0]) for name in names]
    try:
        command = [PY, str(HERE / "server_load.py"), "load", "--rpc", rpc]
        for server in servers:
            command += ["--target", server.target, "--server-pid", str(server.process.pid)]
        command += ["--slices", str(slices), "--slice-seconds", str(slice_seconds), "--warmup", str(warmup)]
        out = subprocess.run(pinned(cores[1], command), capture_output=True, text=True, check=True).stdout
    finally:
        for server in servers:
            server.stop()
    runs: list[dict[str, Any]] = [
        {**r, "server": names[int(r["side"])], "side": "AB"[int(r["side"])], "pair": i // 2}
        for i, r in enumerate(json.loads(out))
    ]
    ratios = []
    for first, second in zip(runs[0::2], runs[1::2], strict=False):
        a, b = (first, second) if first["side"] == "A" else (second, first)
        if b["calls_per_second"]:
            ratios.append(a["calls_per_second"] / b["calls_per_second"])
    for side, name in zip("AB", names, strict=True):
        mine = [r for r in runs if r["side"] == side]
        progress(
            f"  {rpc} {side}={name:<9} median {statistics.median(r['calls_per_second'] for r in mine):8.0f} calls/s "
            f"over {len(mine)} slices (from {min(r['calls_per_second'] for r in mine):.0f} "
            f"to {max(r['calls_per_second'] for r in mine):.0f})"
        )
    # A slice whose server did not keep one core busy measured the load
    # generator, not the server.
    valid = all(r["server_cpu_share"] >= 0.85 for r in runs)
    return {
        "ratio": statistics.median(ratios),
        "pair_ratios": ratios,
        "valid": valid,
        "pinned": cores[0] is not None,
        "slice_seconds": slice_seconds,
        "runs": runs,
    }


# -- paging and memory at scale (in a fresh process, for a clean RSS) ----------

PAGING_CHILD = r"""
import gc, json, random, statistics, sys, time, uuid
from ocpp_broker_protos.reference.store import Store
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction

count, stations, repeats = (int(a) for a in sys.argv[1:4])
rng = random.Random(7)

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

def batch(start, size):
    made = []
    for i in range(start, min(start + size, count)):
        t = Transaction(id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), station_id=f"CP-{i % stations:05d}",
                        connector_id=str(i // stations % 4 + 1), central_system_id=1 + i % 3)
        t.started_at.FromSeconds(1_600_000_000 + i * 7)
        t.ended_at.FromSeconds(1_600_000_000 + i * 7 + 300)
        made.append(t)
    return made

del batch(0, 1000)[:]
gc.collect()
store = Store()
before = rss()
started = time.perf_counter()
for start in range(0, count, 10_000):
    store.add_transactions(batch(start, 10_000))
load_seconds = time.perf_counter() - started
gc.collect()
grown = rss() - before

def timed(**request):
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        page = store.transactions_page(limit=100, **request)
        samples.append(time.perf_counter() - t)
    assert len(page.transactions) == 100, len(page.transactions)
    return statistics.median(samples)

per_station = count // stations
figures = {"count": count, "load_seconds": load_seconds, "rss_growth_bytes": grown,
           "bytes_per_transaction": grown / count}
cases = (("global", {}, count - 10_000), ("filtered", {"station_id": "CP-00001"}, per_station - 1_000))
for name, request, deep in cases:
    first, deep_t = [], []
    for _ in range(5):  # alternate, so drift hits both alike
        first.append(timed(offset=0, **request))
        deep_t.append(timed(offset=deep, **request))
    figures[name] = {"first_page_us": statistics.median(first) * 1e6, "deep_page_us": statistics.median(deep_t) * 1e6,
                     "deep_offset": deep, "ratio": statistics.median(deep_t) / statistics.median(first)}
print(json.dumps(figures))
"""


def paging(count: int, stations: int, repeats: int) -> dict[str, Any]:
    out = subprocess.run(
        [PY, "-c", PAGING_CHILD, str(count), str(stations), str(repeats)], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


# -- bindings -----------------------------------------------------------------

CODEC_CHILD = r"""
import json, sys, time
from google.protobuf.internal import api_implementation
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsResponse, Transaction

response = GetAllTransactionsResponse(total_count=1_000_000)
for i in range(100):
    t = response.transactions.add(id=f"{i:08d}-0000-4000-8000-000000000000", station_id="CP-00001",
                                  connector_id="1", central_system_id=1)
    t.started_at.FromSeconds(1_700_000_000 + i)
    t.ended_at.FromSeconds(1_700_000_300 + i)
seconds = float(sys.argv[1])
done, end = 0, time.perf_counter() + seconds
while time.perf_counter() < end:
    GetAllTransactionsResponse.FromString(response.SerializeToString())
    done += 1
print(json.dumps({"backend": api_implementation.Type(), "round_trips_per_second": done / seconds}))
"""

IMPORT_CHILD = r"""
import json, time
t0 = time.perf_counter()
import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2
t1 = time.perf_counter()
from ocpp_broker_protos.central_system.v1 import central_system_pb2, central_system_pb2_grpc
from ocpp_broker_protos.connection.v1 import connection_pb2, connection_pb2_grpc
from ocpp_broker_protos.mapping.v1 import mapping_pb2, mapping_pb2_grpc
from ocpp_broker_protos.transaction.v1 import transaction_pb2, transaction_pb2_grpc
t2 = time.perf_counter()
print(json.dumps({"floor_ms": (t1 - t0) * 1000, "overhead_ms": (t2 - t1) * 1000}))
"""


def codec(seconds: float) -> dict[str, Any]:
    results = {}
    for backend in ("upb", "python"):
        env = dict(os.environ)
        if backend == "python":
            env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
        out = subprocess.run([PY, "-c", CODEC_CHILD, str(seconds)], capture_output=True, text=True, check=True, env=env)
        results[backend] = json.loads(out.stdout)
    ratio = results["upb"]["round_trips_per_second"] / results["python"]["round_trips_per_second"]
    return {"ratio": ratio, **results}


def imports(runs: int) -> dict[str, Any]:
    # As an installed wheel is used: with bytecode caches. The first run
    # writes them (a checkout, unlike pip, has none), and is not counted.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples = [
        json.loads(subprocess.run([PY, "-c", IMPORT_CHILD], capture_output=True, text=True, check=True, env=env).stdout)
        for _ in range(runs + 1)
    ][1:]
    return {
        "overhead_ms": statistics.median(s["overhead_ms"] for s in samples),
        "floor_ms": statistics.median(s["floor_ms"] for s in samples),
        "runs": runs,
    }


def generate_time(check_only: bool) -> dict[str, Any]:
    command = ["make", "--no-print-directory", "check-generated" if check_only else "generate"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # bootstrap, warm caches
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return {"seconds": time.perf_counter() - started, "command": " ".join(command)}


# -- report -------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    import google.protobuf
    import grpc

    return {
        "platform": platform.platform(),
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "protobuf": google.protobuf.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


TARGETS: dict[str, tuple[str, float]] = {
    "server_vs_empty_get_ratio": (">=", 0.8),
    "server_vs_empty_list_ratio": (">=", 0.85),
    "paging_deep_vs_first_ratio": ("<=", 1.5),
    "paging_deep_vs_first_filtered_ratio": ("<=", 1.5),
    "bytes_per_transaction": ("<=", 400),
    "upb_vs_python_ratio": (">=", 10),
    "import_overhead_ms": ("<=", 15),
    "generate_seconds": ("<=", 3),
    "fixture_load_vs_json_parse_ratio": ("<=", 5),
    "fixture_load_peak_vs_steady_rss_ratio": ("<=", 2),
    **paging_scale.TARGETS,
}


def table(figures: dict[str, Any]) -> str:
    lines = [f"{'figure':<44} {'value':>10}  target  met", "-" * 68]
    lines.append(
        f"{'control_empty_vs_empty_ratio':<44} {figures['control_empty_vs_empty_ratio']:>10.2f}  (noise: 1.00 is ideal)"
    )
    lines.append(f"{'export_items_per_second':<38} {figures['export_items_per_second']:>10,.0f}  (reported)")
    for key, (op, target) in TARGETS.items():
        value = figures[key]
        met = value >= target if op == ">=" else value <= target
        lines.append(f"{key:<44} {value:>10.2f}  {op}{target:<5g} {'yes' if met else 'NO'}")
    lines.append(f"{'bytes_per_station':<44} {figures['bytes_per_station']:>10.0f}  (two mappings, two connections)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script works")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args()
    size: dict[str, Any] = (
        {
            "slices": 4,
            "slice_seconds": 0.2,
            "warmup": 0.2,
            "count": 20_000,
            "stations": 10,
            "repeats": 20,
            "codec": 0.2,
            "imports": 3,
            "fixture_stations": 1_000,
            "fixture_transactions": 10_000,
            "fixture_pairs": 1,
            "fleet_stations": 2_000,
            "fleet_transactions": 2_000,
            "page_repeats": 3,
            "kit_runs": 1,
        }
        if args.smoke
        else {
            "slices": 40,
            "slice_seconds": 1.0,
            "warmup": 1.0,
            "count": 1_000_000,
            "stations": 10,
            "repeats": 200,
            "codec": 2.0,
            "imports": 15,
            "fixture_stations": 100_000,
            "fixture_transactions": 1_000_000,
            "fixture_pairs": 4,
            "fleet_stations": 1_000_000,
            "fleet_transactions": 1_000_000,
            "page_repeats": 30,
            "kit_runs": 2,
        }
    )
    sections: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (
            "server throughput: GetCentralSystem",
            lambda: throughput("get", size["slices"], size["slice_seconds"], size["warmup"]),
        ),
        (
            "server throughput: 100-item GetAllTransactions",
            lambda: throughput("list", size["slices"], size["slice_seconds"], size["warmup"]),
        ),
        (
            "control: empty vs empty server, 100-item page",
            lambda: throughput("list", size["slices"], size["slice_seconds"], size["warmup"], control=True),
        ),
        (
            f"paging and memory at {size['count']:,} transactions",
            lambda: paging(size["count"], size["stations"], size["repeats"]),
        ),
        ("serialize + parse, upb vs pure Python", lambda: codec(size["codec"])),
        ("import time of the eight generated modules", lambda: imports(size["imports"])),
        ("code generation", lambda: generate_time(check_only=args.smoke)),
        (
            f"fixture of {size['fixture_stations']:,} stations and {size['fixture_transactions']:,} transactions",
            lambda: fixture_load.run(size["fixture_stations"], size["fixture_transactions"], size["fixture_pairs"]),
        ),
        (
            f"paging and the kit at {size['fleet_stations']:,} stations, {size['fleet_transactions']:,} transactions",
            lambda: paging_scale.measure(
                size["fleet_stations"], size["fleet_transactions"], size["page_repeats"], size["kit_runs"]
            ),
        ),
    ]
    raw: dict[str, Any] = {}
    for name, run in sections:
        progress(name)
        raw[name] = run()
    get, lst, control, page, cod, imp, gen, loading, fleet = (raw[name] for name, _ in sections)
    figures: dict[str, Any] = {
        "server_vs_empty_get_ratio": get["ratio"],
        "server_vs_empty_list_ratio": lst["ratio"],
        "paging_deep_vs_first_ratio": page["global"]["ratio"],
        "paging_deep_vs_first_filtered_ratio": page["filtered"]["ratio"],
        "bytes_per_transaction": page["bytes_per_transaction"],
        "upb_vs_python_ratio": cod["ratio"],
        "import_overhead_ms": imp["overhead_ms"],
        "generate_seconds": gen["seconds"],
        "fixture_load_vs_json_parse_ratio": loading["load_vs_json_ratio"],
        "fixture_load_peak_vs_steady_rss_ratio": loading["peak_vs_steady_ratio"],
        "export_items_per_second": loading["export_items_per_second"],
        **paging_scale.figures(fleet),
        "control_empty_vs_empty_ratio": control["ratio"],
        "throughput_runs_valid": get["valid"] and lst["valid"] and control["valid"],
        "smoke": args.smoke,
        "raw": {
            "get": get,
            "list": lst,
            "control": control,
            "paging": page,
            "codec": cod,
            "imports": imp,
            "generate": gen,
            "fixture_load": loading,
            "fleet": fleet,
        },
        "machine": machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print()
    print(table(figures))
    if not figures["throughput_runs_valid"]:
        print("note: in some throughput run the server used less than 85% of its core;")
        print("      those ratios measure the load generator, not the server")
    if not figures["kit_runs_passed"]:
        print("note: the conformance kit failed against a server; its time ratio judges nothing")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
