"""`mypy --strict` over a downstream module works with what the README's
Typing section says to install and configure, and nothing else.

Unlike tests/test_tooling.py this runs in the installed-wheel environments
too (scripts/compat.py installs the [typing] extra and mypy there), with the
mypy of the running environment, outside the checkout so that none of this
project's own mypy settings apply.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

HERE = Path(__file__).resolve().parent
README = (HERE.parent / "README.md").read_text()
CONSUMER = HERE / "typing" / "consumer.py"
TYPING_SECTION = re.split(r"\n#{2,3} ", README.split("\n### Typing\n", 1)[1])[0]


def readme_config() -> str:
    configs: list[str] = re.findall(r"```toml\n(.*?)```", TYPING_SECTION, re.S)
    assert len(configs) == 1, configs
    return configs[0]


def typing_extra() -> list[Requirement]:
    requirements = [Requirement(r) for r in metadata.requires("ocpp-broker-protos") or []]
    return [r for r in requirements if r.marker is not None and r.marker.evaluate({"extra": "typing"})]


def test_the_readme_says_what_to_install_and_it_is_installed():
    assert "pip install 'ocpp-broker-protos[typing]' mypy" in TYPING_SECTION
    extra = typing_extra()
    assert {r.name for r in extra} == {"types-grpcio", "types-protobuf"}
    for requirement in extra:
        assert requirement.specifier.contains(metadata.version(requirement.name)), requirement


def mypy(folder: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    (folder / "pyproject.toml").write_text("[tool.mypy]\n\n" + readme_config())
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *map(str, files)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# Each variant breaks the consumer in one place that only real types catch.
BROKEN = {
    # Typed messages (the package's own .pyi files).
    "bad_message": (
        "id=central_system_id, name=name",
        "id=str(central_system_id), name=name",
        'Argument "id" to "UpdateCentralSystemRequest" has incompatible type "str"',
    ),
    # Typed asyncio stubs: without types-grpcio the response would be Any.
    "bad_asyncio_stub": (
        "total: int = response.total_count",
        "total: str = response.total_count",
        'Incompatible types in assignment (expression has type "int", variable has type "str")',
    ),
    # Typed google.rpc messages, read through the README's setting.
    "bad_google_rpc": (
        'int(info.metadata["master_central_system_id"])',
        'info.metadata["master_central_system_id"]',
        'Incompatible return value type (got "str',
    ),
}


def test_a_downstream_module_checks_strictly_and_its_type_errors_are_caught(tmp_path: Path):
    source = CONSUMER.read_text()
    (tmp_path / "consumer.py").write_text(source)
    for name, (old, new, _) in BROKEN.items():
        assert source.count(old) == 1, old
        (tmp_path / f"{name}.py").write_text(source.replace(old, new))
    # One run for all of them: mypy is slow to start.
    result = mypy(tmp_path, *sorted(tmp_path.glob("*.py")))
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert not [line for line in errors if line.startswith("consumer.py")], result.stdout
    for name, (_, _, message) in BROKEN.items():
        found = [line for line in errors if line.startswith(f"{name}.py:")]
        assert found, result.stdout + result.stderr
        assert message in found[0], found
