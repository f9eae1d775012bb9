"""Snapshots: a running server's state, read through the admin API, as a
fixture file the reference server loads (``ocpp-broker-protos export``).

>>> from ocpp_broker_protos.snapshot import export     # doctest: +SKIP
>>> with grpc.insecure_channel("staging-broker:50051") as channel:
...     notes = export(channel, "fleet.json")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc

from ocpp_broker_protos.snapshot.fixture_file import consistent, encode, write_atomically
from ocpp_broker_protos.snapshot.read import OnItems, ReadError, State, read_state

__all__ = ["OnItems", "ReadError", "State", "export", "read_state"]


def export(
    channel: grpc.Channel,
    path: str | Path | None = None,
    *,
    timeout: float = 30.0,
    on_items: OnItems | None = None,
    write: Callable[[str], object] | None = None,
) -> list[str]:
    """Read the server at the other end of channel and write its state as a
    fixture file to path, atomically, or, without a path, hand the whole
    file to write as one string. Returns a note per record dropped or
    changed to make the file load. Raises ReadError when a call fails."""
    records, notes = consistent(read_state(channel, timeout, on_items))
    if path is not None:
        write_atomically(path, encode(records))
    elif write is not None:
        write("".join(encode(records)))
    return notes
