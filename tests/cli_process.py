"""Starting `ocpp-broker-protos serve` as a real process for tests."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

LISTENING = re.compile(r"listening on (\S+)")


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`ocpp-broker-protos ARGS` to completion, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "ocpp_broker_protos", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def popen_interruptible(command: list[str], **options: Any) -> subprocess.Popen[str]:
    """subprocess.Popen(command, **options), the child taking SIGINT as usual
    even when this process ignores it. A job that a shell without job control
    starts with `&` ignores SIGINT, an ignored signal stays ignored across
    exec, and Python then installs no KeyboardInterrupt: a Ctrl-C test would
    fail because of how the suite was started. (A caught signal is reset to
    its default at exec, so catching it around the start is enough.)"""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(command, **options)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def output(stream: IO[str] | None) -> str:
    """What is left to read on a finished process's stream."""
    return stream.read() if stream is not None else ""


@contextmanager
def serving(*args: str, timeout: float = 30.0) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run `serve --port 0 ARGS`, yield (process, target); SIGTERM it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ocpp_broker_protos", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and not line:
            if selector.select(timeout=deadline - time.monotonic()):
                line = process.stdout.readline()
                if not line:
                    break
        found = LISTENING.search(line)
        assert found, f"no address printed: {line!r} {output(process.stderr) if process.poll() is not None else ''}"
        yield process, found.group(1)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
