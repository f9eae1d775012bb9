"""Reasons are spelled in one place, ocpp_broker_protos/errors.py; the server,
the kit, the examples and the tests import them from there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ocpp_broker_protos
from ocpp_broker_protos import errors

PACKAGE = Path(ocpp_broker_protos.__file__).resolve().parent
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOME = PACKAGE / "errors.py"
# The checkout's folders, or their copies beside an installed wheel's suite.
FOLDERS = [PACKAGE, HERE, ROOT / "examples", ROOT / "scripts", ROOT / "benchmarks"]
# Generated code comes from the .proto files, which document reasons in prose.
GENERATED = re.compile(r"_pb2(_grpc)?\.pyi?$")


def python_files() -> list[Path]:
    found = {
        path
        for folder in FOLDERS
        if folder.is_dir()
        for path in folder.rglob("*.py")
        if not GENERATED.search(path.name) and "__pycache__" not in path.parts
    }
    return sorted(found - {HOME})


def literal_reasons(source: str) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in errors.REASONS
    ]


def test_no_reason_is_spelled_outside_the_errors_module():
    files = python_files()
    assert PACKAGE / "reference" / "store.py" in files
    assert HERE / "test_errors_module.py" in files
    spelled = [f"{path}:{line}: {value!r}" for path in files for line, value in literal_reasons(path.read_text())]
    readme = ROOT / "README.md"
    if readme.is_file():
        for block in re.findall(r"```python\n(.*?)```", readme.read_text(), re.S):
            spelled += [f"README.md: {value!r}" for _, value in literal_reasons(block)]
    assert not spelled, "\n".join(spelled)


def test_the_scan_finds_a_spelled_reason():
    planted = f'if reason == "{errors.SECOND_ENABLED_MASTER}":\n    pass\n'
    assert literal_reasons(planted) == [(1, errors.SECOND_ENABLED_MASTER)]
    assert literal_reasons("if reason == errors.SECOND_ENABLED_MASTER:\n    pass\n") == []
