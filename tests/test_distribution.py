"""The package as an installer and the package index see it: license, URLs, classifiers, description.

These read the installed distribution's metadata, so in the installed-wheel
runs they check what the wheel itself carries.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/ocpp-broker-protos/ocpp-broker-protos"
DIST = importlib.metadata.distribution("ocpp-broker-protos")
META = DIST.metadata
INDEX_PAGE = (ROOT / "docs" / "pypi.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCED = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
# Markdown links and images, and the HTML forms the index also renders.
LINK = re.compile(
    r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # [text](url "title") and ![alt](url)
    r"|\b(?:href|src)=[\"']([^\"']+)[\"']"  # <a href=...>, <img src=...>
    r"|^\[[^\]]+\]:\s*(\S+)",  # [label]: url
    flags=re.M,
)
CLASSIFIED = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")


def links(markdown: str) -> list[str]:
    return [next(group for group in match.groups() if group) for match in LINK.finditer(markdown)]


def github_slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_license_text_ships_in_the_distribution() -> None:
    assert META["License-Expression"] == "Apache-2.0"
    assert META.get_all("License-File") == ["LICENSE"]
    text = DIST.read_text("licenses/LICENSE")
    assert text is not None, [str(f) for f in DIST.files or []]
    assert text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert text == (ROOT / "LICENSE").read_text(encoding="utf-8")


def test_project_urls_point_into_the_repository() -> None:
    urls = dict(entry.split(", ", 1) for entry in META.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Documentation", "Issues", "Changelog"} <= urls.keys()
    for url in urls.values():
        assert url == REPOSITORY or url.startswith(f"{REPOSITORY}/"), url
    for path in (urls["Documentation"], urls["Changelog"]):
        assert (ROOT / path.removeprefix(f"{REPOSITORY}/blob/main/")).is_file(), path


def test_classifiers_name_pytest_and_the_python_running_this() -> None:
    classifiers = META.get_all("Classifier") or []
    assert "Framework :: Pytest" in classifiers
    # scripts/compat.py runs this suite under every classified version and
    # fails when one is missing; here each run checks it is one of them.
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"Programming Language :: Python :: {running}" in classifiers


def test_classified_pythons_run_without_gaps_from_requires_python() -> None:
    versions = sorted(
        (int(m.group(1).split(".")[1]) for c in META.get_all("Classifier") or [] if (m := CLASSIFIED.match(c))),
    )
    assert META["Requires-Python"] == f">=3.{versions[0]}"
    assert versions == list(range(versions[0], versions[-1] + 1))


def test_the_index_shows_docs_pypi_md_as_markdown() -> None:
    assert META["Description-Content-Type"] == "text/markdown"
    assert META.get_payload().strip() == INDEX_PAGE.strip()  # type: ignore[attr-defined]


def test_the_index_page_has_only_absolute_links_to_what_exists() -> None:
    found = links(INDEX_PAGE)
    assert len(found) >= 5
    headings = {github_slug(h) for h in re.findall(r"^#+ (.+)$", README, flags=re.M)}
    for link in found:
        assert link.startswith("https://"), link
        url, _, anchor = link.partition("#")
        for tree in (f"{REPOSITORY}/blob/main/", f"{REPOSITORY}/tree/main/"):
            if url.startswith(tree):
                assert (ROOT / url.removeprefix(tree)).exists(), link
                if url.endswith("README.md") and anchor:
                    assert anchor in headings, link


def test_the_index_page_starts_with_the_install_lines() -> None:
    blocks = FENCED.findall(INDEX_PAGE)
    lang, first = blocks[0]
    assert lang == "sh"
    assert first.splitlines()[0].startswith("pip install ocpp-broker-protos ")
    assert INDEX_PAGE.index("## Install") < INDEX_PAGE.index("## Quickstart")
    # Steps that only work in a clone stay in the README.
    assert "make " not in INDEX_PAGE
    assert ".venv" not in INDEX_PAGE


def test_every_snippet_on_the_index_page_is_one_the_readme_runs() -> None:
    # tests/test_readme.py runs the README's snippets; the index page may
    # only show those, character for character.
    readme_blocks = FENCED.findall(README)
    page_blocks = FENCED.findall(INDEX_PAGE)
    assert len(page_blocks) >= 5
    for block in page_blocks:
        assert block in readme_blocks, block[1]


def test_the_readme_keeps_the_checkout_set_up() -> None:
    blocks = [code for lang, code in FENCED.findall(README) if lang == "sh"]
    assert blocks[0].splitlines()[0].startswith("make serve")
    assert blocks[0].splitlines()[1].startswith("make test")
