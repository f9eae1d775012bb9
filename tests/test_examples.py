"""Every example in examples/ runs against the reference server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ocpp_broker_protos import errors
from tests import downstream_pytest
from tests.cli_process import serving

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def demo_target():
    with serving("--demo") as (_, target):
        yield target


def run_example(name: str, target: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--target", target],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_sync_client(demo_target):
    out = run_example("sync_client.py", demo_target)
    assert "description is now 'added by the example'" in out
    assert "connected: True" in out
    assert "7310 transactions in all; newest:" in out
    assert out.rstrip().endswith("deleted it again")
    # It cleans up after itself, so it runs again on the same server.
    assert "deleted it again" in run_example("sync_client.py", demo_target)


def test_async_client(demo_target):
    out = run_example("async_client.py", demo_target)
    assert "Northwind CSMS:" in out
    assert "charging right now" in out


def test_error_handling_client(demo_target):
    out = run_example("error_handling.py", demo_target).splitlines()
    assert out == [
        f"a central system that does not exist: {errors.CENTRAL_SYSTEM_NOT_FOUND} -> create it first",
        f"bad fields: {errors.INVALID_FIELD} -> fix name (must not be empty or blank); "
        "websocket_url (scheme must be ws or wss)",
        f"a mapping to nowhere: {errors.UNKNOWN_CENTRAL_SYSTEM} -> map stations only to existing central systems",
    ]


def test_downstream_contract_test_passes_with_the_plugin(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            *downstream_pytest.ARGS,
            "--rootdir",
            str(tmp_path),
            str(EXAMPLES / "test_downstream_contract.py"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
