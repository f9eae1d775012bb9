"""Run the test suite against the built wheel at both ends of its declared range.

For each of two fresh virtual environments, `floor` (every dependency of the
package and of its [server] and [typing] extras at exactly its declared lower
bound) and `newest` (the newest releases the registry serves), this installs
the wheel with those extras, copies tests/, examples/, docs/ and the README to
a temporary folder so that nothing from the checkout is importable, and runs
pytest there with warnings as errors, leaving out the tests that need the
checkout's own tools (marker `tooling`)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOWN = (
    "protobuf",
    "grpcio",
    "googleapis-common-protos",
    "grpcio-status",
    "grpcio-health-checking",
    "grpcio-reflection",
    "sortedcontainers",
    "types-grpcio",
    "types-protobuf",
    "mypy",
)


def declared_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [*project["dependencies"], *extras["server"], *extras["typing"]]


def floor_pins() -> list[str]:
    """`name>=X[,<Y]` -> `name==X` for every declared requirement."""
    pins = []
    for requirement in declared_requirements():
        name, _, rest = requirement.partition(">=")
        if not rest:
            raise SystemExit(f"no lower bound declared for {requirement!r}")
        pins.append(f"{name.strip()}=={rest.split(',')[0].strip()}")
    return pins


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(map(str, args)), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, env=env, check=True)


def check(kind: str, wheel: Path, work: Path) -> None:
    venv = ROOT / "build" / f"compat-{kind}"
    shutil.rmtree(venv, ignore_errors=True)
    run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    pip: list[str | Path] = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, "--upgrade", "pip")
    pins = floor_pins() if kind == "floor" else ["--upgrade", *declared_requirements()]
    run(*pip, f"{wheel}[server,typing]", "-r", ROOT / "requirements" / "test.txt", *pins)
    versions = (
        subprocess.run(
            [
                py,
                "-c",
                f"import importlib.metadata as m; [print(n, m.version(n)) for n in {SHOWN!r}]",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .replace("\n", ", ")
        .replace("\n", ", ")
    )
    print(f"== {kind}: {versions}", flush=True)
    suite = work / kind
    for folder in ("tests", "examples", "docs"):
        shutil.copytree(ROOT / folder, suite / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, suite / name)
    env = {**os.environ, "PYTHONWARNINGS": "error", "OCPP_BROKER_PROTOS_EXPECT_INSTALLED": "1"}
    run(py, "-W", "error", "-m", "pytest", "-q", "-m", "not tooling", "tests", cwd=suite, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--only", choices=["floor", "newest"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("floor", "newest"):
            if args.only in (None, kind):
                check(kind, args.wheel.resolve(), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
