"""A read state as a fixture file that always loads, the same bytes every time.

A live server changes while it is read, list after list, so what was read
may not hold together: a connection whose mapping was deleted before the
mappings were read, two enabled masters of one station when the master moved
between two pages, two open transactions of one connector. Each such record
is dropped (or, for a connection to a since-disabled mapping, recorded as the
server records it then, disconnected), and a note says which and why.

Records are written in a fixed order with sorted keys, one per line, so the
same state gives the same bytes and a diff of two snapshots reads well.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ocpp_broker_protos.snapshot.read import State

SECTIONS = ("central_systems", "mappings", "connections", "transactions")


def record(message: Message) -> dict[str, Any]:
    """The proto JSON form of a record (snake_case names, every scalar field)."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if message.HasField(field.name):
                out[field.name] = value.ToJsonString()
        elif field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64):
            out[field.name] = str(value)  # as the JSON mapping writes 64-bit integers
        else:
            out[field.name] = value
    return out


def consistent(state: State) -> tuple[dict[str, list[Any]], list[str]]:
    """The records (messages) of a fixture file that loads, section by
    section, and a note per record dropped or changed."""
    notes: list[str] = []
    central_systems: dict[int, Any] = {}
    names: dict[str, int] = {}
    for cs in sorted(state.central_systems, key=lambda c: c.id):
        if cs.id in central_systems:
            continue  # read twice (pages under change): the same record
        if cs.name in names:
            notes.append(
                f"central system {cs.id} dropped: its name {cs.name!r} is also central system {names[cs.name]}'s "
                "(renamed while the list was read)"
            )
            continue
        names[cs.name] = cs.id
        central_systems[cs.id] = cs

    mappings: dict[tuple[str, int], Any] = {}
    masters: dict[str, int] = {}
    for m in sorted(state.mappings, key=lambda m: (m.station_id, m.central_system_id)):
        key = (m.station_id, m.central_system_id)
        if m.central_system_id not in central_systems:
            notes.append(
                f"mapping of station {m.station_id!r} to central system {m.central_system_id} dropped: "
                "the central system is gone"
            )
            continue
        master = m.is_master and m.is_enabled
        if master and masters.setdefault(m.station_id, m.central_system_id) != m.central_system_id:
            notes.append(
                f"mapping of station {m.station_id!r} to central system {m.central_system_id} dropped: "
                f"central system {masters[m.station_id]} is the station's enabled master (moved while read)"
            )
            continue
        mappings[key] = m

    connections: dict[tuple[int, str], Any] = {}
    for c in sorted(state.connections, key=lambda c: (c.central_system_id, c.station_id)):
        mapping = mappings.get((c.station_id, c.central_system_id))
        where = f"connection of station {c.station_id!r} to central system {c.central_system_id}"
        if mapping is None:
            notes.append(f"{where} dropped: the mapping is gone")
            continue
        if c.connected and not mapping.is_enabled:
            notes.append(f"{where} recorded as disconnected: the mapping is disabled")
            c.connected = False
        connections[(c.central_system_id, c.station_id)] = c

    transactions: dict[str, Any] = {}
    for t in state.transactions:
        transactions[t.id] = t  # read twice: the later read is the newer
    open_by_connector: dict[tuple[str, str], Any] = {}
    chronological = sorted(transactions.values(), key=lambda t: (t.started_at.seconds, t.started_at.nanos, t.id))
    for t in chronological:
        if not t.HasField("ended_at"):
            earlier = open_by_connector.get((t.station_id, t.connector_id))
            if earlier is not None:
                notes.append(
                    f"transaction {earlier.id!r} dropped: connector {t.connector_id!r} of station "
                    f"{t.station_id!r} has the newer open transaction {t.id!r} (ended while read)"
                )
                del transactions[earlier.id]
            open_by_connector[(t.station_id, t.connector_id)] = t
    return (
        {
            "central_systems": list(central_systems.values()),
            "mappings": list(mappings.values()),
            "connections": list(connections.values()),
            "transactions": [t for t in chronological if t.id in transactions],
        },
        notes,
    )


def encode(records: dict[str, list[Any]]) -> Iterator[str]:
    """The file's text in pieces: sections in load order, a record per line,
    keys sorted, as ``json.dumps(record(m), sort_keys=True)`` writes them."""
    yield "{\n"
    for number, section in enumerate(SECTIONS):
        items = records[section]
        line = _transaction_line if section == "transactions" else _line
        yield f'"{section}": [' + ("\n" if items else "")
        yield ",\n".join(map(line, items))
        yield ("\n]" if items else "]") + (",\n" if number < len(SECTIONS) - 1 else "\n")
    yield "}\n"


def _line(message: Message) -> str:
    return json.dumps(record(message), sort_keys=True, ensure_ascii=False)


_text = json.JSONEncoder(ensure_ascii=False).encode


def _transaction_line(t: Any) -> str:
    # A fleet has millions: the same line as _line, without a dict and
    # Timestamp.ToJsonString per field.
    ended = f'"ended_at": "{timestamp_text(t.ended_at.seconds, t.ended_at.nanos)}", ' if t.HasField("ended_at") else ""
    return (
        f'{{"central_system_id": {t.central_system_id}, "connector_id": {_text(t.connector_id)}, {ended}'
        f'"id": {_text(t.id)}, "started_at": "{timestamp_text(t.started_at.seconds, t.started_at.nanos)}", '
        f'"station_id": {_text(t.station_id)}}}'
    )


_DAYS: dict[int, str] = {}
_TIMES: dict[int, str] = {}
_EPOCH = datetime.date(1970, 1, 1).toordinal()


def timestamp_text(seconds: int, nanos: int) -> str:
    """What Timestamp.ToJsonString gives: RFC 3339 in UTC, 0, 3, 6 or 9 fraction digits."""
    days, since_midnight = divmod(seconds, 86_400)
    date = _DAYS.get(days)
    if date is None:
        date = _DAYS[days] = datetime.date.fromordinal(_EPOCH + days).isoformat()
    clock = _TIMES.get(since_midnight)
    if clock is None:
        hours, rest = divmod(since_midnight, 3600)
        clock = _TIMES[since_midnight] = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if not nanos:
        fraction = ""
    elif not nanos % 1_000_000:
        fraction = f".{nanos // 1_000_000:03d}"
    elif not nanos % 1000:
        fraction = f".{nanos // 1000:06d}"
    else:
        fraction = f".{nanos:09d}"
    return f"{date}T{clock}{fraction}Z"


def write_atomically(path: str | Path, pieces: Iterable[str]) -> None:
    """Write pieces to path through a temporary file beside it, renamed into
    place once complete and on disk; on any error the path is untouched."""
    target = Path(path)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below, never left behind
        "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", suffix=".partial", delete=False
    )
    try:
        with handle:
            for piece in pieces:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
