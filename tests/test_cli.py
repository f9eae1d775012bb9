"""The `ocpp-broker-protos serve` command as a user runs it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from tests.cli_process import output, popen_interruptible, run_cli, serving

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


def _usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit 2, no traceback, the message on the last line of standard error, nothing served or run."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr.splitlines()[-1], result.stderr
    assert "listening" not in result.stdout
    assert "running" not in result.stdout


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("70000", "argument --port: port 70000 is out of range 0-65535"),
        ("65536", "argument --port: port 65536 is out of range 0-65535"),
        ("-1", "argument --port: port -1 is out of range 0-65535"),
        ("http", "argument --port: not a port number: 'http'"),
    ],
)
def test_an_out_of_range_port_is_a_usage_error(value, message):
    _usage_error(run_cli("serve", "--port", value, timeout=60), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--port", "0", "--max-workers", "0"), "argument --max-workers: must be at least 1, got 0"),
        (("serve", "--port", "0", "--grace", "-1"), "argument --grace: must be 0 seconds or more, got -1"),
        (("conformance", "--target", ""), "argument --target: must not be empty"),
        (("conformance", "--target", " "), "argument --target: must not be empty"),
        (("conformance", "--target", "127.0.0.1:1", "--timeout", "0"), "argument --timeout: must be more than 0"),
        (("conformance", "--target", "127.0.0.1:1", "--timeout", "-3"), "argument --timeout: must be more than 0"),
        (("conformance", "--target", "127.0.0.1:1", "--timeout", "nan"), "argument --timeout: not a finite number"),
    ],
    ids=["max-workers-0", "grace-negative", "target-empty", "target-blank", "timeout-0", "timeout-negative", "nan"],
)
def test_a_bad_argument_is_a_usage_error(args, message):
    _usage_error(run_cli(*args, timeout=60), message)


def test_an_unwritable_junit_file_is_refused_before_any_case_runs(tmp_path):
    with serving("--demo") as (_, target):
        missing = run_cli("conformance", "--target", target, "--junit-xml", "/nonexistent/dir/x.xml", timeout=60)
        folder = run_cli("conformance", "--target", target, "--junit-xml", str(tmp_path), timeout=60)
    _usage_error(missing, "error: cannot write /nonexistent/dir/x.xml: No such file or directory")
    _usage_error(folder, f"error: cannot write {tmp_path}: Is a directory")
    assert list(tmp_path.iterdir()) == []


def test_the_check_leaves_no_file_behind_when_the_run_then_fails(tmp_path):
    junit = tmp_path / "x.xml"
    result = run_cli("conformance", "--target", "127.0.0.1:1", "--timeout", "2", "--junit-xml", str(junit), timeout=60)
    assert result.returncode == 2
    assert not junit.exists()


def test_a_reader_that_goes_away_stops_the_kit_quietly():
    # As `conformance ... | head -1`: the pipe closes while the cases still run.
    with serving("--demo") as (_, target):
        process = subprocess.Popen(
            [sys.executable, "-m", "ocpp_broker_protos", "conformance", "--target", target],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().startswith("running ")
        process.stdout.close()
        _, errors = process.communicate(timeout=120)
    assert errors == ""
    # 1, not the 0 of a completed run: it stopped at the broken pipe.
    assert process.returncode == 1


def test_a_bad_port_given_to_the_server_in_python_is_a_value_error():
    from ocpp_broker_protos.reference import ReferenceServer

    for port in (77881, 65536, -1):
        with pytest.raises(ValueError, match=f"port {port} is out of range 0-65535"):
            ReferenceServer(port=port)
    with pytest.raises(TypeError):
        ReferenceServer(port="50051")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_workers"):
        ReferenceServer(max_workers=0)


def _version() -> str:
    from importlib import metadata

    return metadata.version("ocpp-broker-protos")


def test_version_from_the_console_script_and_python_m():
    script = Path(sys.executable).parent / "ocpp-broker-protos"
    assert script.is_file(), "the console script is installed next to the interpreter"
    for command in ([str(script)], [sys.executable, "-m", "ocpp_broker_protos"]):
        result = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60, check=False)
        assert (result.returncode, result.stdout, result.stderr) == (0, f"ocpp-broker-protos {_version()}\n", "")


def test_python_m_behaves_like_the_console_script():
    script = Path(sys.executable).parent / "ocpp-broker-protos"
    for args in (["--help"], ["serve", "--help"], ["conformance", "--target", ""], []):
        by_script = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60, check=False)
        by_module = subprocess.run(
            [sys.executable, "-m", "ocpp_broker_protos", *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert (by_module.returncode, by_module.stdout, by_module.stderr) == (
            by_script.returncode,
            by_script.stdout,
            by_script.stderr,
        ), args


@pytest.fixture
def silent_target() -> Iterator[str]:
    """A port that accepts connections and never answers: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def test_a_target_that_never_answers_is_unreachable_after_the_timeout(silent_target):
    result = run_cli("conformance", "--target", silent_target, "--timeout", "2", timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot reach {silent_target} within 2s: DEADLINE_EXCEEDED")
    assert result.stderr.count("\n") == 1


def test_ctrl_c_stops_the_kit_without_a_traceback(silent_target):
    process = popen_interruptible(
        [sys.executable, "-m", "ocpp_broker_protos", "conformance", "--target", silent_target, "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("running ")
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=30)
    assert (process.returncode, errors) == (130, "")


# The kit's "running" line, then the modules imported after it, until the
# kit gives up on a target that never answers.
_IMPORTS_AFTER_RUNNING = """
import json, sys
from ocpp_broker_protos import cli

class Watch:
    def __init__(self, out):
        self.out, self.seen = out, None
    def write(self, text):
        if self.seen is None and text.startswith("running "):
            self.seen = set(sys.modules)
        return self.out.write(text)
    def flush(self):
        self.out.flush()

watch = sys.stdout = Watch(sys.stdout)
status = cli.main(["conformance", "--target", sys.argv[1], "--timeout", "1"])
sys.stdout = watch.out
print(json.dumps([status, watch.seen is not None, sorted(set(sys.modules) - (watch.seen or set()))]))
"""


def test_waiting_for_the_target_after_the_running_line_imports_nothing(silent_target):
    # A Ctrl-C inside an import can leave the module's file open for the
    # interpreter to warn about (under -W error, on stderr): what the
    # Ctrl-C test above does must not be able to land in one.
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS_AFTER_RUNNING, silent_target],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == [2, True, []]
