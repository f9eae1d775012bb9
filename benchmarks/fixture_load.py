"""Fixture files at fleet size: loading against json.load, memory, export rate.

Set-up: a fixture of STATIONS stations (two mappings and two connections
each, four central systems) and TRANSACTIONS transactions, written once to a
temporary file. Then, in fresh processes, alternated over `pairs` pairs:

* json.load of the file (timed inside the process, after imports);
* `ocpp-broker-protos serve --fixtures FILE --port 0`, timed from spawn to
  its "listening" line (so interpreter start and imports count against it),
  its peak resident memory (VmHWM) against its resident memory once serving
  (VmRSS, read after it settled).

The ratios are medians over the pairs; the loading ratio compares CPU
seconds, since on a shared machine other work stretches wall time unevenly
(wall-clock figures are kept beside it). Last, `ocpp-broker-protos export` of
that server to a file, as items (every record of every list) per second.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PY = sys.executable
CENTRAL_SYSTEMS = 4


def write_fleet(path: Path, stations: int, transactions: int, seed: int = 11) -> None:
    """Each station mapped to two central systems (the first as master) and
    connected to both; transactions spread evenly, two open per station."""
    rng = random.Random(seed)
    per_station = max(transactions // stations, 1)
    with path.open("w") as out:
        out.write('{\n"central_systems": [\n')
        out.write(
            ",\n".join(
                json.dumps({"id": i, "name": f"CSMS {i}", "websocket_url": f"wss://csms{i}.example/ocpp"})
                for i in range(1, CENTRAL_SYSTEMS + 1)
            )
        )
        out.write('\n],\n"mappings": [\n')
        out.write(_per_mapping(stations, '"weight": {weight}, "is_master": {master}, "is_enabled": true'))
        out.write('\n],\n"connections": [\n')
        out.write(_per_mapping(stations, '"connected": {connected}'))
        out.write('\n],\n"transactions": [\n')
        first = True
        for s in range(stations):
            start = 1_700_000_000 + rng.randrange(86_400)
            for k in range(per_station):
                begin = start + k * 40_000
                record = (
                    f'{{"id": "{uuid.UUID(int=rng.getrandbits(128), version=4)}", "station_id": "CP-{s:06d}", '
                    f'"connector_id": "{k % 2 + 1}", "central_system_id": {s % CENTRAL_SYSTEMS + 1}, '
                    f'"started_at": "{_rfc3339(begin)}.{rng.randrange(1000):03d}Z"'
                )
                if k < per_station - 2:
                    record += f', "ended_at": "{_rfc3339(begin + 3_600)}Z"'
                out.write(("" if first else ",\n") + record + "}")
                first = False
        out.write("\n]\n}\n")


def _per_mapping(stations: int, rest: str) -> str:
    """A line per station and rank (0: master, 1: second), rest formatted with its fields."""
    return ",\n".join(
        f'{{"station_id": "CP-{s:06d}", "central_system_id": {(s + rank) % CENTRAL_SYSTEMS + 1}, '
        + rest.format(
            weight=10 - rank,
            master="true" if rank == 0 else "false",
            connected="true" if rank == 0 or s % 3 else "false",
        )
        + "}"
        for s in range(stations)
        for rank in range(2)
    )


def _rfc3339(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


JSON_CHILD = r"""
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
with open(sys.argv[1]) as f:
    json.load(f)
print(time.perf_counter() - started, time.process_time() - cpu)
"""


def json_load_seconds(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of json.load of path in a fresh process."""
    out = subprocess.run([PY, "-c", JSON_CHILD, str(path)], capture_output=True, text=True, check=True).stdout
    wall, cpu = out.split()
    return float(wall), float(cpu)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


class Served:
    """`serve --fixtures path` in a child process, timed until it listens."""

    def __init__(self, path: Path) -> None:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [PY, "-m", "ocpp_broker_protos.cli", "serve", "--fixtures", str(path), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.seconds = time.perf_counter() - started
        self.cpu_seconds = _cpu_seconds(self.process.pid)
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"serve --fixtures did not start: {line!r}")
        self.target = line.split("listening on ", 1)[1].split()[0]
        time.sleep(1.0)  # settle: what it holds once serving
        self.memory = _status(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        if self.process.stdout is not None:
            self.process.stdout.close()


def run(stations: int, transactions: int, pairs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-fixture-") as scratch:
        fixture = Path(scratch) / "fleet.json"
        write_fleet(fixture, stations, transactions)
        runs: list[dict[str, float]] = []
        for _ in range(pairs):
            parse, parse_cpu = json_load_seconds(fixture)
            served = Served(fixture)
            served.stop()
            runs.append(
                {
                    "json_load_seconds": parse,
                    "serving_seconds": served.seconds,
                    "wall_load_vs_json_ratio": served.seconds / parse,
                    "json_load_cpu_seconds": parse_cpu,
                    "serving_cpu_seconds": served.cpu_seconds,
                    "load_vs_json_ratio": served.cpu_seconds / parse_cpu,
                    "peak_rss_bytes": served.memory["VmHWM"],
                    "steady_rss_bytes": served.memory["VmRSS"],
                    "peak_vs_steady_ratio": served.memory["VmHWM"] / served.memory["VmRSS"],
                }
            )
        served = Served(fixture)
        try:
            exported = Path(scratch) / "exported.json"
            started = time.perf_counter()
            done = subprocess.run(
                [PY, "-m", "ocpp_broker_protos.cli", "export", "--target", served.target, "-o", str(exported)],
                capture_output=True,
                text=True,
                check=True,
            )
            export_seconds = time.perf_counter() - started
        finally:
            served.stop()
        items = stations * 4 + transactions + CENTRAL_SYSTEMS
        return {
            "set_up": (
                f"{stations:,} stations (two mappings, two connections each), {transactions:,} transactions, "
                f"{CENTRAL_SYSTEMS} central systems; fixture {fixture.stat().st_size:,} bytes; the ratio is CPU "
                "seconds of `serve --fixtures` from spawn to its listening line (interpreter start and imports "
                "included) over CPU seconds of json.load in its own process, as other work on a shared machine "
                "stretches wall time unevenly (the wall-clock ratio is kept beside it); export of that server "
                "over loopback to a file, whole command timed"
            ),
            "fixture_bytes": fixture.stat().st_size,
            "load_vs_json_ratio": statistics.median(r["load_vs_json_ratio"] for r in runs),
            "wall_load_vs_json_ratio": statistics.median(r["wall_load_vs_json_ratio"] for r in runs),
            "peak_vs_steady_ratio": statistics.median(r["peak_vs_steady_ratio"] for r in runs),
            "runs": runs,
            "export_items": items,
            "export_seconds": export_seconds,
            "export_items_per_second": items / export_seconds,
            "export_summary": done.stderr.strip().splitlines()[-1],
        }
