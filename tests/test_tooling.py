"""Checks that need the checkout's tools: the breaking-change gate and mypy."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.tooling


def buf_breaking(proto_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "buf"),
            "breaking",
            str(proto_dir),
            "--against",
            str(ROOT / "baseline" / "released.binpb"),
        ],
        cwd=proto_dir.parent,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def proto_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    return tmp_path / "proto"


TRANSACTION = "ocpp_broker_protos/transaction/v1/transaction.proto"


def test_gate_accepts_the_current_contract(proto_copy: Path) -> None:
    result = buf_breaking(proto_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("int32 total_count = 2;", "int32 total_count = 9;", 'field "2" with name "total_count"'),
        (
            "int32 total_count = 2;",
            "int64 total_count = 2;",
            'changed type from "int32" to "int64"',
        ),
    ],
    ids=["renumbered", "retyped"],
)
def test_gate_rejects_a_breaking_change(proto_copy: Path, old: str, new: str, expected: str) -> None:
    path = proto_copy / TRANSACTION
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    result = buf_breaking(proto_copy)
    assert result.returncode != 0
    assert expected in result.stdout, result.stdout


def run_mypy(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "mypy"),
            "--strict",
            "--no-incremental",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            *map(str, files),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_consumer_type_checks_strictly() -> None:
    result = run_mypy(ROOT / "tests" / "typing" / "consumer.py")
    assert result.returncode == 0, result.stdout


def test_mypy_catches_a_wrongly_typed_field(tmp_path: Path) -> None:
    consumer = (ROOT / "tests" / "typing" / "consumer.py").read_text()
    bad = tmp_path / "bad_consumer.py"
    bad.write_text(consumer.replace("id=central_system_id, name=name", "id=str(central_system_id), name=name"))
    result = run_mypy(bad)
    assert result.returncode == 1
    assert re.search(
        r'bad_consumer\.py:\d+: error: Argument "id" to "UpdateCentralSystemRequest" '
        r'has incompatible type "str"',
        result.stdout,
    ), result.stdout


def test_mypy_catches_a_wrong_response_type_from_the_async_stub(tmp_path: Path) -> None:
    consumer = (ROOT / "tests" / "typing" / "consumer.py").read_text()
    bad = tmp_path / "bad_async.py"
    bad.write_text(consumer.replace("total: int = response.total_count", "total: str = response.total_count"))
    result = run_mypy(bad)
    assert result.returncode == 1
    assert "bad_async.py" in result.stdout
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in result.stdout
