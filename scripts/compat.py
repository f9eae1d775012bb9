"""Prove the built distributions on every Python the classifiers name.

The classifiers in pyproject.toml (`Programming Language :: Python :: 3.N`) are
the list of versions to prove; an interpreter missing for any of them stops
the run before anything else, since the classifiers would then claim what no
run showed. Each run is a fresh virtual environment outside the checkout that
installs one lock with `--require-hashes` and then the package without
dependencies, checks with `pip check` that the lock satisfies it, and runs the
test suite with warnings as errors, leaving out the tests that need the
checkout's own tools (marker `tooling`):

- `floor` on the oldest classified Python: requirements/floor.txt, every
  declared requirement at exactly its lower bound, and the built wheel;
- `newest` on each younger one: requirements/newest.txt and the built wheel;
  on the youngest, the run starts from the sdist instead: it is unpacked
  elsewhere, a wheel is built from it, that wheel is installed with the
  sdist's own newest lock, and the sdist's own suite runs from the unpacked
  tree (against the installed copy, not the tree's sources).

The development suite (`make pytest`) is the newest lock on the oldest
classified Python, so each version gets the installed wheel and both ends of
the dependency range are covered without running the suite twice on one
interpreter with the same lock.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from lock import declared_requirements, floor_pins  # noqa: E402

CLASSIFIER = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")
# What the wheel runs copy beside tests/: everything the suite reads.
SUITE_FILES = ("tests", "examples", "docs", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md")
# Tracked files that the sdist leaves out on purpose: the CI entry point.
NOT_IN_SDIST = (".ci/",)


@dataclass(frozen=True)
class Run:
    lock: str  # "floor" or "newest"
    python: str  # "3.N"
    source: str  # "wheel" or "sdist"

    @property
    def name(self) -> str:
        return f"{self.lock}-py{self.python}-{self.source}"


@dataclass
class Result:
    run: Run
    interpreter: str
    passed: bool
    summary: str
    versions: str = ""
    seconds: float = 0.0


def classified_pythons() -> list[str]:
    """The `3.N` versions the classifiers name, oldest first."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    versions = [m.group(1) for c in project["classifiers"] if (m := CLASSIFIER.match(c))]
    if not versions:
        raise SystemExit("compat: pyproject.toml names no Python version in its classifiers")
    return sorted(versions, key=Version)


def plan(versions: list[str]) -> list[Run]:
    """Floor on the oldest version, newest on each younger one, the sdist on the youngest."""
    runs = [Run("floor", versions[0], "wheel")]
    younger = versions[1:] or versions[:1]
    runs += [Run("newest", v, "wheel") for v in younger[:-1]]
    runs.append(Run("newest", younger[-1], "sdist"))
    return runs


def interpreter_version(path: str) -> str | None:
    try:
        result = subprocess.run(
            [path, "-c", "import sys, platform; print(platform.python_implementation(), *sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 4 or fields[0] != "CPython":
        return None
    return ".".join(fields[1:])


def find_python(version: str) -> tuple[str, str] | None:
    """(path, full version) of a CPython `version` on PATH or under pyenv, the newest patch release."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidates = [sys.executable]
    else:
        candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    installed = glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / f"python{version}"))
    candidates += sorted(installed, key=lambda p: Version(Path(p).parent.parent.name), reverse=True)
    for path in candidates:
        full = interpreter_version(path)
        if full is not None and full.rsplit(".", 1)[0] == version:
            return path, full
    return None


def find_pythons(versions: list[str]) -> dict[str, tuple[str, str]]:
    found = {v: find_python(v) for v in versions}
    missing = [v for v, hit in found.items() if hit is None]
    if missing:
        raise SystemExit(
            "compat: FAILED before running anything: no CPython "
            + ", ".join(missing)
            + " on this machine (looked on PATH for python3.N and under $PYENV_ROOT/versions). The classifiers "
            "in pyproject.toml name it, and a classifier is only kept for a version that a run proved: install "
            "that interpreter, or drop its classifier."
        )
    return {v: hit for v, hit in found.items() if hit is not None}


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(map(str, args)), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, env=env, check=True)


def run_suite(*args: str | Path, cwd: Path, env: dict[str, str]) -> tuple[bool, str]:
    """Run pytest, echoing its output; return whether it passed and its closing summary line."""
    print("+", " ".join(map(str, args)), flush=True)
    last = ""
    with subprocess.Popen(
        [str(a) for a in args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.strip():
                last = line.strip().strip("=").strip()
    return process.returncode == 0, last


def installed_versions(py: Path) -> dict[str, str]:
    script = "import importlib.metadata as m, json; print(json.dumps({d.name: d.version for d in m.distributions()}))"
    out = subprocess.run([py, "-c", script], capture_output=True, text=True, check=True).stdout
    return {canonicalize_name(name): version for name, version in json.loads(out).items()}


def check_declared_ranges(lock: str, installed: dict[str, str]) -> str:
    """Floor: every declared requirement at exactly its lower bound. Newest: inside its declared range."""
    floors = floor_pins()
    shown = []
    for requirement in declared_requirements():
        name = canonicalize_name(requirement.name)
        version = installed.get(name)
        if version is None:
            raise SystemExit(f"compat: {lock}: {name} is declared but not installed; run make lock")
        if lock == "floor" and Version(version) != Version(floors[name]):
            raise SystemExit(f"compat: floor: {name} {version} installed, {floors[name]} declared; run make lock")
        if not requirement.specifier.contains(version, prereleases=True):
            raise SystemExit(f"compat: {lock}: {name} {version} is outside {requirement}; run make lock")
        shown.append(f"{name} {version}")
    return ", ".join(shown)


def make_env(run_: Run, interpreter: str, requirements: Path, wheel: Path) -> tuple[Path, str]:
    venv = ROOT / "build" / f"compat-{run_.name}"
    shutil.rmtree(venv, ignore_errors=True)
    run(interpreter, "-m", "venv", venv)
    py = venv / "bin" / "python"
    pip: list[str | Path] = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, "--require-hashes", "-r", requirements)
    run(*pip, "--no-deps", wheel)
    run(py, "-m", "pip", "check")
    return py, check_declared_ranges(run_.lock, installed_versions(py))


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [p for p in listed.splitlines() if not p.startswith(NOT_IN_SDIST)]


def unpack_sdist(sdist: Path, work: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
        top = {Path(member.name).parts[0] for member in archive.getmembers()}
    if len(top) != 1:
        raise SystemExit(f"compat: {sdist.name} has {len(top)} top-level folders")
    tree = work / top.pop()
    if (ROOT / ".git").exists():
        missing = [p for p in tracked_files() if not (tree / p).exists()]
        if missing:
            raise SystemExit(f"compat: the sdist lacks tracked files: {', '.join(missing)}")
        print(f"== sdist: holds every tracked file but {', '.join(NOT_IN_SDIST)}", flush=True)
    else:
        print("== sdist: NOT compared with the tracked files: this is no git checkout", flush=True)
    return tree


def wheel_from_sdist(tree: Path, reference: Path, out: Path) -> Path:
    """Build the wheel from the unpacked sdist, with the locked backend; it must hold what the released wheel holds."""
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, tree)
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as built, zipfile.ZipFile(reference) as released:
        if sorted(built.namelist()) != sorted(released.namelist()):
            raise SystemExit(f"compat: the wheel built from the sdist differs in its files from {reference.name}")
        same = all(built.read(n) == released.read(n) for n in built.namelist())
    if not same:
        raise SystemExit(f"compat: the wheel built from the sdist differs in content from {reference.name}")
    print("== sdist: the wheel built from it is the released wheel, file for file and byte for byte", flush=True)
    return wheel


def prove(run_: Run, interpreter: tuple[str, str], wheel: Path, sdist: Path, work: Path) -> Result:
    """One run; a failure is recorded rather than raised, so that every run reports."""
    started = time.monotonic()
    try:
        result = attempt(run_, interpreter, wheel, sdist, work)
    except (SystemExit, subprocess.CalledProcessError) as error:
        print(f"compat: {run_.name}: {error}", flush=True)
        result = Result(run_, interpreter[1], passed=False, summary=f"not run: {error}")
    result.seconds = time.monotonic() - started
    return result


def attempt(run_: Run, interpreter: tuple[str, str], wheel: Path, sdist: Path, work: Path) -> Result:
    env = {**os.environ, "PYTHONWARNINGS": "error", "OCPP_BROKER_PROTOS_EXPECT_INSTALLED": "1"}
    # One worker per core, a file to a worker, as in `make pytest`.
    pytest = ["-W", "error", "-m", "pytest", "-q", "-m", "not tooling", "-n", "auto", "--dist", "loadfile"]
    if run_.source == "wheel":
        py, versions = make_env(run_, interpreter[0], ROOT / "requirements" / f"{run_.lock}.txt", wheel)
        suite = work / run_.name
        for name in SUITE_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, suite / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                suite.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, suite / name)
        print(f"== {run_.name}: CPython {interpreter[1]}: {versions}", flush=True)
        passed, summary = run_suite(py, *pytest, "tests", cwd=suite, env=env)
    else:
        tree = unpack_sdist(sdist, work / run_.name)
        built = wheel_from_sdist(tree, wheel, work / "sdist-wheel")
        py, versions = make_env(run_, interpreter[0], tree / "requirements" / f"{run_.lock}.txt", built)
        print(f"== {run_.name}: CPython {interpreter[1]}: {versions}", flush=True)
        # The unpacked tree holds the package's sources too: keep it off the
        # front of sys.path (no cwd entry, tests' folder appended) so that the
        # suite imports the installed copy.
        env["PYTHONSAFEPATH"] = "1"
        passed, summary = run_suite(py, *pytest, "--import-mode=append", "tests", cwd=tree, env=env)
    return Result(run_, interpreter[1], passed, summary, versions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--sdist", type=Path, required=True)
    parser.add_argument("--only", metavar="NAME", help="run only the named run, e.g. floor-py3.11-wheel")
    args = parser.parse_args()
    versions = classified_pythons()
    runs = plan(versions)
    pythons = find_pythons(versions)
    print(
        f"== compat: the classifiers name CPython {', '.join(versions)}; runs: {', '.join(r.name for r in runs)} "
        f"(the development suite is newest-py{versions[0]})",
        flush=True,
    )
    if args.only and args.only not in {r.name for r in runs}:
        parser.error(f"no run {args.only}; runs: {', '.join(r.name for r in runs)}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for run_ in runs:
            if args.only in (None, run_.name):
                results.append(prove(run_, pythons[run_.python], args.wheel.resolve(), args.sdist.resolve(), Path(tmp)))
    print("== compat: what ran", flush=True)
    for r in results:
        verdict = "passed" if r.passed else "FAILED"
        print(f"  {r.run.name:<22} CPython {r.interpreter:<8} {verdict} {r.seconds:5.0f} s  {r.summary}", flush=True)
        if r.versions:
            print(f"  {'':<22} {r.versions}", flush=True)
    failed = [r.run.name for r in results if not r.passed]
    if failed:
        print(f"compat: FAILED: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
