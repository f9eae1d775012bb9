"""Suite-wide plumbing: pytester, and the figures that tests report.

A test that measures something worth reading (how many calls a race made, how
many payloads a fuzz pass sent) hands a line to the ``figure`` fixture. The
line travels in the test's report, so it reaches the closing summary whether
the suite runs in one process or spread over pytest-xdist workers, whose
own output never reaches the terminal.
"""

from collections.abc import Callable

import pytest

pytest_plugins = ["pytester"]

_FIGURE = "figure"


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record one line for the "figures" section of the run's summary."""

    def record(line: str) -> None:
        request.node.user_properties.append((_FIGURE, line))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        str(value)
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for key, value in report.user_properties
        if key == _FIGURE
    ]
    if lines:
        terminalreporter.write_sep("=", "figures")
        for line in lines:
            terminalreporter.write_line(f"  {line}")
