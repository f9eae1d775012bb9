"""The `ocpp-broker-protos serve` command as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from tests.cli_process import output, run_cli, serving

ROOT = Path(__file__).resolve().parent.parent
BUF = Path(sys.executable).parent / "buf"


def test_serve_demo_prints_its_address_answers_and_stops_cleanly_on_sigterm():
    with serving("--demo") as (process, target):
        assert target.startswith("127.0.0.1:")
        with grpc.insecure_channel(target) as channel:
            listed = cs_grpc.CentralSystemServiceStub(channel).ListCentralSystems(cs_pb.ListCentralSystemsRequest())
            assert [cs.id for cs in listed.central_systems] == [1, 2, 3]
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "shutting down" in output(process.stdout)


def test_sigint_stops_it_too():
    with serving() as (process, _):
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in output(process.stderr)


def test_serve_fixtures_loads_the_file():
    with serving("--fixtures", str(ROOT / "examples" / "fixtures.json")) as (_, target):
        channel = grpc.insecure_channel(target)
        listed = cs_grpc.CentralSystemServiceStub(channel).ListCentralSystems(cs_pb.ListCentralSystemsRequest())
        channel.close()
        assert [cs.name for cs in listed.central_systems] == ["Main CSMS", "Partner"]


def test_a_bad_fixture_file_is_named_and_nothing_is_served(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"central_systems": [{"id": 1, "name": "A", "websocket_url": "http://a"}]}))
    result = run_cli("serve", "--port", "0", "--fixtures", str(bad), timeout=60)
    assert result.returncode == 2
    assert "central_systems[0].websocket_url: scheme must be ws or wss" in result.stderr
    assert "listening" not in result.stdout
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_a_clear_error():
    with serving() as (_, target):
        port = target.rsplit(":", 1)[1]
        result = run_cli("serve", "--port", port, timeout=60)
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def buf_curl(target: str, method: str, body: dict[str, object] | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge"]
    if body is not None:
        args += ["-d", json.dumps(body)]
    return subprocess.run([*args, f"http://{target}/{method}"], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.tooling
def test_buf_curl_drives_the_server_over_reflection_alone():
    with serving("--demo") as (_, target):
        services = subprocess.run(
            [str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-services", f"http://{target}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert "ocpp_broker_protos.mapping.v1.MappingService" in services
        assert "grpc.health.v1.Health" in services

        listed = buf_curl(target, "ocpp_broker_protos.central_system.v1.CentralSystemService/ListCentralSystems")
        assert listed.returncode == 0, listed.stderr
        assert [cs["name"] for cs in json.loads(listed.stdout)["centralSystems"]] == [
            "Northwind CSMS",
            "Voltaic Cloud",
            "City Charging Ops",
        ]

        created = buf_curl(
            target,
            "ocpp_broker_protos.central_system.v1.CentralSystemService/CreateCentralSystem",
            {"name": "From buf", "websocket_url": "wss://buf.example"},
        )
        assert json.loads(created.stdout)["centralSystem"]["id"] == 4

        page = buf_curl(
            target,
            "ocpp_broker_protos.transaction.v1.TransactionService/GetAllTransactions",
            {"limit": 3, "activeOnly": True},
        )
        answer = json.loads(page.stdout)
        assert len(answer["transactions"]) == 3
        assert all("endedAt" not in t for t in answer["transactions"])

        missing = buf_curl(
            target,
            "ocpp_broker_protos.mapping.v1.MappingService/DeleteMapping",
            {"station_id": "X", "central_system_id": 1},
        )
        assert missing.returncode != 0
        error = json.loads(missing.stdout or missing.stderr)
        assert error["code"] == "not_found"
        assert error["details"][0]["type"] == "google.rpc.ErrorInfo"
