"""The README's snippets run: so what a newcomer copies works.

Python blocks run as they are (a block that defines tests runs under pytest,
with the plugin); shell blocks that call the server run against a fresh one,
its address put where the README says 127.0.0.1:50051.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ocpp_broker_protos.reference import load_fixture_file
from ocpp_broker_protos.reference.demo import demo_store
from tests import downstream_pytest
from tests.cli_process import serving

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.DOTALL)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
SHELL = [code for lang, code in BLOCKS if lang == "sh"]
SCRIPTS = [code for code in PYTHON if "def test_" not in code]
TEST_FILES = [code for code in PYTHON if "def test_" in code]
RUNNABLE_SHELL = [
    line
    for block in SHELL
    for line in block.replace("\\\n", " ").splitlines()
    if line.startswith((".venv/bin/buf", "ocpp-broker-protos "))
]


def test_the_readme_has_the_snippets_this_file_runs():
    assert len(SCRIPTS) >= 3
    assert len(TEST_FILES) == 3
    assert sum("buf curl" in line for line in RUNNABLE_SHELL) == 2
    assert "make serve" in README
    assert "make test" in README


@pytest.mark.parametrize("code", SCRIPTS, ids=[f"python-{i}" for i in range(len(SCRIPTS))])
def test_python_snippet_runs(code, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, "-W", "error", str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


CONFTEST = """
import grpc
import pytest

from ocpp_broker_protos.reference import ReferenceServer


@pytest.fixture(scope="session")
def my_broker_channel():
    with ReferenceServer() as server, grpc.insecure_channel(server.target) as channel:
        yield channel
"""


@pytest.mark.parametrize("code", TEST_FILES, ids=[f"pytest-{i}" for i in range(len(TEST_FILES))])
def test_pytest_snippet_passes(code, pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_snippet=code)
    result = pytester.runpytest_subprocess(*downstream_pytest.ARGS)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1
    assert outcomes.get("failed", 0) == 0, result.stdout.str()


@pytest.mark.tooling
@pytest.mark.parametrize("line", RUNNABLE_SHELL, ids=[line.split()[1] for line in RUNNABLE_SHELL])
def test_shell_snippet_runs(line, tmp_path):
    with serving("--demo") as (_, target):
        command = line.replace("127.0.0.1:50051", target)
        command = re.sub(r"^ocpp-broker-protos ", f"{sys.executable} -m ocpp_broker_protos.cli ", command)
        # A file the snippet writes goes to a scratch directory.
        written = [tmp_path / name for name in re.findall(r" -o (\S+)", command)]
        command = re.sub(r" -o (\S+)", lambda found: f" -o {tmp_path / found.group(1)}", command)
        result = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() or "breaking" in command or written
    for path in written:  # an exported snapshot of the demo data loads as the demo data
        assert load_fixture_file(path).snapshot() == demo_store().snapshot()


@pytest.mark.tooling
def test_make_serve_serves_the_demo_on_the_given_port():
    # The README's first command, on a free port instead of 50051.
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PORT={port}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline and "listening on" not in line:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
        assert f"listening on 127.0.0.1:{port} (3 central systems" in line, line
    finally:
        import os
        import signal

        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # never leave a server behind
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]
