"""`ocpp-broker-protos export`: a server's state into a fixture file that the
reference server loads, the same bytes every time, never a partial file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos import cli
from ocpp_broker_protos.central_system.v1.central_system_pb2 import CentralSystem
from ocpp_broker_protos.connection.v1.connection_pb2 import ConnectionInfo
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.reference import ApiError, ReferenceServer, Store, load_fixture_file, load_fixtures
from ocpp_broker_protos.reference.demo import demo_store
from ocpp_broker_protos.snapshot import State, command, export
from ocpp_broker_protos.snapshot.fixture_file import (
    _line,
    _transaction_line,
    consistent,
    encode,
    timestamp_text,
    write_atomically,
)
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction
from tests.cli_process import popen_interruptible, run_cli, serving
from tests.fleet import build_fleet

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fixtures.json"


@pytest.mark.parametrize(("source", "expected"), [(("--demo",), demo_store), (("--fixtures", str(EXAMPLE)), None)])
def test_served_export_served_again_exports_the_same_bytes_and_the_same_records(source, expected, tmp_path):
    first, second = tmp_path / "f1.json", tmp_path / "f2.json"
    with serving(*source) as (_, target):
        done = run_cli("export", "--target", target, "-o", str(first))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    with serving("--fixtures", str(first)) as (_, target):
        again = run_cli("export", "--target", target, "-o", str(second))
    assert again.returncode == 0, again.stderr
    assert first.read_bytes() == second.read_bytes()
    original = expected() if expected else load_fixture_file(EXAMPLE)
    assert load_fixture_file(first).snapshot() == original.snapshot()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f1.json", "f2.json"]


def test_without_o_the_file_alone_goes_to_standard_output(tmp_path):
    with serving("--fixtures", str(EXAMPLE)) as (_, target):
        done = run_cli("export", "--target", target)
    assert done.returncode == 0, done.stderr
    (tmp_path / "out.json").write_text(done.stdout)
    assert load_fixture_file(tmp_path / "out.json").snapshot() == load_fixture_file(EXAMPLE).snapshot()
    assert "exported 2 central systems, 3 mappings, 2 connections, 2 transactions" in done.stderr


def test_an_unreachable_target_leaves_the_file_untouched_with_one_message(tmp_path):
    kept = tmp_path / "kept.json"
    kept.write_text("previous snapshot")
    done = run_cli("export", "--target", "127.0.0.1:1", "--timeout", "5", "-o", str(kept))
    assert done.returncode == 1
    assert kept.read_text() == "previous snapshot"
    assert list(tmp_path.iterdir()) == [kept]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot export 127.0.0.1:1: ListCentralSystems failed: UNAVAILABLE")
    assert done.stdout == ""


def test_an_interrupted_export_exits_130_and_writes_nothing(tmp_path, monkeypatch, capsys):
    def interrupted(*args: Any, **kwargs: Any) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "export", interrupted)
    target = tmp_path / "f.json"
    assert cli.main(["export", "--target", "127.0.0.1:1", "-o", str(target)]) == 130
    assert not target.exists()
    assert capsys.readouterr().err == f"error: interrupted; {target} untouched\n"


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_a_write_that_fails_midway_leaves_the_target_as_it_was(failure, tmp_path):
    target = tmp_path / "f.json"
    target.write_text("before")

    def pieces() -> Any:
        yield "{\n"
        raise failure

    with pytest.raises(type(failure)):
        write_atomically(target, pieces())
    assert target.read_text() == "before"
    assert list(tmp_path.iterdir()) == [target]


def test_every_list_is_walked_in_pages(tmp_path):
    store = Store()
    build_fleet(store, 1_500)  # 3,000 mappings and connections: three pages each
    for n in range(2_500):
        store.add_transaction(
            Transaction(
                id=f"T-{n:05d}",
                station_id=f"CP-{n % 40}",
                connector_id=str(n % 40 // 20 + 1),
                central_system_id=1,
                started_at=Timestamp(seconds=1_700_000_000 + n * 60),
                ended_at=Timestamp(seconds=1_700_000_030 + n * 60),
            )
        )
    with ReferenceServer(store=store) as server, grpc.insecure_channel(server.target) as channel:
        notes = export(channel, tmp_path / "fleet.json")
    assert notes == []
    assert load_fixture_file(tmp_path / "fleet.json").snapshot() == store.snapshot()


def snapshot_state(**lists: list[Any]) -> State:
    cs = [CentralSystem(id=i, name=f"CS {i}", websocket_url=f"wss://cs{i}.example/ocpp") for i in (1, 2)]
    return State(**{"central_systems": cs, **lists})


def test_records_that_no_longer_hold_together_are_dropped_or_mended_and_said():
    open_: dict[str, Any] = {"station_id": "CP-1", "connector_id": "1", "central_system_id": 1}
    state = snapshot_state(
        mappings=[
            Mapping(station_id="CP-1", central_system_id=1, is_master=True, is_enabled=True),
            Mapping(station_id="CP-1", central_system_id=2, is_master=True, is_enabled=True),
            Mapping(station_id="CP-2", central_system_id=1, is_enabled=False),
            Mapping(station_id="CP-3", central_system_id=9, is_enabled=True),
        ],
        connections=[
            ConnectionInfo(station_id="CP-1", central_system_id=1, connected=True),
            ConnectionInfo(station_id="CP-2", central_system_id=1, connected=True),
            ConnectionInfo(station_id="CP-4", central_system_id=2, connected=True),
        ],
        transactions=[
            Transaction(id="T-new", started_at=Timestamp(seconds=2_000), **open_),
            Transaction(id="T-old", started_at=Timestamp(seconds=1_000), **open_),
            Transaction(id="T-new", started_at=Timestamp(seconds=2_000), **open_),
        ],
    )
    records, notes = consistent(state)
    assert notes == [
        "mapping of station 'CP-1' to central system 2 dropped: central system 1 is the station's enabled master "
        "(moved while read)",
        "mapping of station 'CP-3' to central system 9 dropped: the central system is gone",
        "connection of station 'CP-2' to central system 1 recorded as disconnected: the mapping is disabled",
        "connection of station 'CP-4' to central system 2 dropped: the mapping is gone",
        "transaction 'T-old' dropped: connector '1' of station 'CP-1' has the newer open transaction 'T-new' "
        "(ended while read)",
    ]
    loaded = load_fixtures(json.loads("".join(encode(records))))
    assert [(m.station_id, m.central_system_id) for m in loaded.list_mappings()] == [("CP-1", 1), ("CP-2", 1)]
    assert [t.id for t in loaded.transactions_page().transactions] == ["T-new"]


def test_an_export_of_a_server_being_written_always_loads(tmp_path):
    store = Store()
    build_fleet(store, 600)
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            station = f"DE-BERLIN-CP-{n % 600:07d}"
            try:
                store.delete_mapping(station, 2)
                store.create_mapping(station, 2, weight=5, is_enabled=n % 2 == 0)
                store.add_connection(2, station, connected=n % 2 == 0)
            except ApiError:
                pass
            n += 1

    writer = threading.Thread(target=churn)
    with ReferenceServer(store=store) as server, grpc.insecure_channel(server.target) as channel:
        writer.start()
        try:
            for attempt in range(3):
                path = tmp_path / f"live-{attempt}.json"
                export(channel, path)
                load_fixture_file(path)  # raises if it does not load
        finally:
            stop.set()
            writer.join()


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(0, 0), (1_700_000_000, 250_000_000), (1_700_000_001, 123_456_000), (-1, 1), (253_402_300_799, 999_999_999),
     (-62_135_596_800, 0)],
)  # fmt: skip
def test_transaction_lines_are_what_the_generic_writer_gives(seconds, nanos):
    stamp = Timestamp(seconds=seconds, nanos=nanos)
    assert timestamp_text(seconds, nanos) == stamp.ToJsonString()
    for ended in (None, Timestamp(seconds=seconds, nanos=nanos)):
        t = Transaction(id='T-"1"\u00e9', station_id="CP-1", connector_id="1", central_system_id=3, started_at=stamp)
        if ended is not None:
            t.ended_at.CopyFrom(ended)
        assert _transaction_line(t) == _line(t)


class _StallingStore(Store):
    """Holds every GetAllMappings page until released, so an export is surely
    in the middle of reading when the test interrupts it, however fast the
    machine is."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()
        self.release = threading.Event()

    def mappings_page(self, *args: Any, **kwargs: Any) -> Any:
        self.reading.set()
        self.release.wait(60)
        return super().mappings_page(*args, **kwargs)


def test_ctrl_c_during_a_long_export_exits_130_with_one_message_and_no_file(tmp_path):
    store = _StallingStore()
    build_fleet(store, 100)
    target_file = tmp_path / "fleet.json"
    with ReferenceServer(store=store) as server:
        process = popen_interruptible(
            [
                sys.executable,
                "-m",
                "ocpp_broker_protos.cli",
                "export",
                "--target",
                server.target,
                "-o",
                str(target_file),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert store.reading.wait(60), "the export never asked for mappings"
            process.send_signal(signal.SIGINT)
            out, rest = process.communicate(timeout=120)
        finally:
            store.release.set()
            if process.poll() is None:
                process.kill()
            process.communicate()
    assert process.returncode == 130
    assert out == ""
    messages = [line for line in rest.splitlines() if not line.startswith("export ")]
    assert messages == [f"error: interrupted; {target_file} untouched"]
    assert list(tmp_path.iterdir()) == []
