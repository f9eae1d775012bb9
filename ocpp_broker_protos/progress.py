"""Progress lines on standard error for work that may take a while.

Nothing is printed for work that ends within ``delay`` seconds, so short runs
stay quiet; after that, at most one line every ``interval`` seconds. The
caller reports as often as it likes: an update costs a clock read.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, prefix: str, stream: TextIO | None = None, delay: float = 1.0, interval: float = 1.0) -> None:
        self._prefix = prefix
        self._stream = stream if stream is not None else sys.stderr
        self._delay = delay
        self._interval = interval
        self._started = time.monotonic()
        self._next = self._started + delay
        self._label = ""
        self._label_started = self._started
        self._done: int = 0
        self._total: int | None = None
        self.printed = False

    def update(self, label: str, done: int, total: int | None = None) -> None:
        """Where the work is: done items of label (of total, when known)."""
        now = self._switch(label)
        if done and now >= self._next:
            self._print(now, done, total)
        self._done, self._total = done, total

    def finish(self, label: str, done: int, total: int | None = None) -> None:
        """The last figures of label, printed when anything was printed before."""
        now = self._switch(label)
        if self.printed or now >= self._next:
            self._print(now, done, total)
        self._label = ""

    def _switch(self, label: str) -> float:
        # A label left unfinished gets its last figures once printing began.
        now = time.monotonic()
        if label != self._label:
            if self._label and self.printed:
                self._print(now, self._done, self._total)
            self._label, self._label_started, self._done, self._total = label, now, 0, None
        return now

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _print(self, now: float, done: int, total: int | None) -> None:
        seconds = now - self._label_started
        rate = f", {done / seconds:,.0f}/s" if seconds > 0 else ""
        share = f"/{total:,} ({100 * done / total:.0f}%)" if total else ""
        print(f"{self._prefix}: {self._label} {done:,}{share}{rate}", file=self._stream, flush=True)
        self.printed = True
        self._next = now + self._interval
