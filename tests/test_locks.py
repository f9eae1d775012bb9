"""requirements/: every environment installs a complete, hashed lock compiled from the .in sources.

And scripts/compat.py proves every classified Python or says loudly why not.
These read the checkout (requirements/, scripts/, the Makefile), hence the
`tooling` marker.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")

pytestmark = pytest.mark.tooling


@functools.cache
def load_script(name: str) -> ModuleType:
    """scripts/NAME.py as a module; loaded on first use, since only the checkout has scripts/."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def lock_entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Name -> (version, hashes) of every entry; fails on anything that is not a hashed pin."""
    entries: dict[str, tuple[str, list[str]]] = {}
    logical = re.sub(r"\\\n", " ", "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines()))
    for line in filter(None, (text.strip() for text in logical.splitlines())):
        head, *options = line.split()
        match = PIN.match(head)
        assert match, f"{path.name}: not a pin: {line}"
        assert options, f"{path.name}: {head} has no hash"
        assert all(HASH.match(option) for option in options), f"{path.name}: {line}"
        entries[canonicalize_name(match.group(1))] = (match.group(2), options)
    return entries


def source_requirements(path: Path) -> list[Requirement]:
    """The requirements an .in file names, following its -r includes."""
    found: list[Requirement] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found += source_requirements(path.parent / line.removeprefix("-r ").strip())
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


LOCKS = sorted(REQUIREMENTS.glob("*.txt"))


def test_every_environment_has_a_lock_and_every_lock_a_source() -> None:
    assert {p.stem for p in LOCKS} == set(load_script("lock").LOCKS)
    for path in LOCKS:
        assert path.with_suffix(".in").is_file(), path.name


@pytest.mark.parametrize("lock", LOCKS, ids=[p.name for p in LOCKS])
def test_every_package_of_the_tree_is_pinned_with_hashes(lock: Path) -> None:
    entries = lock_entries(lock)
    assert entries
    assert "://" not in lock.read_text(), "a lock names no package index"


@pytest.mark.parametrize("lock", LOCKS, ids=[p.name for p in LOCKS])
def test_every_source_requirement_is_met_by_its_lock(lock: Path) -> None:
    entries = lock_entries(lock)
    for requirement in source_requirements(lock.with_suffix(".in")):
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{lock.name} lacks {requirement}: run make lock"
        version = entries[name][0]
        assert requirement.specifier.contains(version, prereleases=True), f"{lock.name}: {name} {version}"


def test_floor_and_newest_sources_are_what_pyproject_declares() -> None:
    lock = load_script("lock")
    for name, text in lock.derived_sources().items():
        assert (REQUIREMENTS / f"{name}.in").read_text() == text, f"requirements/{name}.in is stale: run make lock"


def test_the_floor_lock_holds_every_declared_lower_bound() -> None:
    lock = load_script("lock")
    entries = lock_entries(REQUIREMENTS / "floor.txt")
    pins = lock.floor_pins()
    assert pins
    for name, version in pins.items():
        assert entries[canonicalize_name(name)][0] == version, name


def test_the_development_lock_has_the_newest_locks_versions() -> None:
    newest = lock_entries(REQUIREMENTS / "newest.txt")
    dev = lock_entries(REQUIREMENTS / "dev.txt")
    assert newest.keys() <= dev.keys()
    assert {name: dev[name][0] for name in newest} == {name: version for name, (version, _) in newest.items()}


def test_the_makefile_installs_only_from_the_locks() -> None:
    installs = [line for line in (ROOT / "Makefile").read_text().splitlines() if "$(PIP_INSTALL)" in line]
    assert len(installs) == 3
    for line in installs:
        assert "--require-hashes -r requirements/" in line or "--no-deps" in line, line


def test_a_lower_bound_is_read_from_each_specifier_form() -> None:
    lock = load_script("lock")
    assert lock.lower_bound(Requirement("grpcio>=1.63.2")) == "1.63.2"
    assert lock.lower_bound(Requirement("protobuf<8,>=5.26.1")) == "5.26.1"
    assert lock.lower_bound(Requirement("x~=2.4")) == "2.4"
    with pytest.raises(SystemExit, match="exactly one lower bound"):
        lock.lower_bound(Requirement("x<3"))


def test_compat_proves_every_classified_python() -> None:
    compat = load_script("compat")
    plan = compat.plan(["3.11", "3.12", "3.13"])
    assert [(r.lock, r.python, r.source) for r in plan] == [
        ("floor", "3.11", "wheel"),
        ("newest", "3.12", "wheel"),
        ("newest", "3.13", "sdist"),
    ]
    one = compat.plan(["3.11"])
    assert [(r.lock, r.python, r.source) for r in one] == [("floor", "3.11", "wheel"), ("newest", "3.11", "sdist")]
    assert {r.python for r in compat.plan(compat.classified_pythons())} == set(compat.classified_pythons())


def test_compat_fails_loudly_when_a_classified_python_is_missing() -> None:
    compat = load_script("compat")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert compat.find_python(running)[1] == ".".join(map(str, sys.version_info[:3]))
    with pytest.raises(SystemExit, match=r"no CPython 3\.99 on this machine.*drop its classifier"):
        compat.find_pythons([running, "3.99"])
