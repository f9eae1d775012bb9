"""Loading the reference server's state from a JSON fixture file.

The file is one JSON object with up to four arrays, each record in the proto
JSON form of its message (field names in snake_case or lowerCamelCase,
timestamps as RFC 3339 strings)::

    {
      "central_systems": [{"id": 1, "name": "Main CSMS", "websocket_url": "wss://csms.example/ocpp"}],
      "mappings": [{"station_id": "CP-1", "central_system_id": 1, "is_master": true, "is_enabled": true}],
      "connections": [{"station_id": "CP-1", "central_system_id": 1, "connected": true}],
      "transactions": [{"id": "T-1", "station_id": "CP-1", "connector_id": "1", "central_system_id": 1,
                        "started_at": "2026-01-01T10:00:00Z", "ended_at": "2026-01-01T11:00:00Z"}]
    }

Records are loaded in that order, through the same rules as the RPCs, into a
fresh store: a bad record raises :class:`FixtureError` naming the record and
field, and no partly loaded store is ever returned.

``ocpp-broker-protos export`` writes this format from any running server
(ocpp_broker_protos.snapshot), one record per line.

At fleet size (a million records and more) loading costs a few times what
parsing the JSON costs: records of the usual shape become messages without
``json_format.ParseDict``, their fields checked column by column
(records.py), transactions are checked and encoded a chunk at a time, column
by column (transaction_loading.py), each section goes into the store in one
batch whose rules are checked in a few passes (store.py), and a file's
parsed records are freed as they are loaded, so the parsed file and the
loaded store are not both held whole. A record off the usual shape, or one that breaks a rule,
takes the path of one record at a time, which names it exactly.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from google.protobuf import json_format

from ocpp_broker_protos.central_system.v1.central_system_pb2 import CentralSystem
from ocpp_broker_protos.connection.v1.connection_pb2 import ConnectionInfo
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.progress import Progress
from ocpp_broker_protos.reference.errors import ApiError
from ocpp_broker_protos.reference.records import RecordParser, transaction_row
from ocpp_broker_protos.reference.store import Store


class FixtureError(ValueError):
    """A fixture file that cannot be loaded; the message names the record."""


_CHUNK = 50_000


class _Section:
    """A section's records, one at a time (as messages or rows) or a chunk
    at a time (as records); knows which record it is at, and (consume) drops
    the parsed records once they are loaded."""

    def __init__(
        self,
        where: str,
        records: list[Any],
        parse: Callable[[dict[str, Any]], object],
        consume: bool,
        progress: Progress | None,
    ) -> None:
        self.where = where
        self.index = -1
        self._records = records
        self._parse = parse
        self._consume = consume
        self._progress = progress

    def items(self, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        records, parse, progress = self._records, self._parse, self._progress
        stop = len(records) if stop is None else stop
        for index in range(start, stop):
            self.index = index
            record = records[index]
            if not isinstance(record, dict):
                raise FixtureError(f"{self.at()}: must be a JSON object")
            try:
                item = parse(record)
            except json_format.ParseError as error:
                raise FixtureError(f"{self.at()}: {error}") from None
            if self._consume:
                records[index] = None
            if progress is not None and not index % _PROGRESS_EVERY:
                progress.update(self.where, index, len(records))
            yield item
        self.done(start, stop)

    def all_at_once(self, parse_all: Callable[[list[Any]], list[Any] | None]) -> list[Any]:
        """Every item, from parse_all when it takes the records (all plain),
        else one record at a time."""
        items = parse_all(self._records)
        if items is None:
            return list(self.items())
        self.done(0, len(items))
        return items

    def chunks(self) -> Iterator[tuple[int, int, list[Any]]]:
        """(start, stop, records) of consecutive chunks."""
        records = self._records
        for start in range(0, len(records), _CHUNK):
            stop = min(start + _CHUNK, len(records))
            yield start, stop, records[start:stop]
            self.done(start, stop)

    def done(self, start: int, stop: int) -> None:
        if self._consume:
            self._records[start:stop] = [None] * (stop - start)
        if self._progress is not None:
            if stop == len(self._records):
                self._progress.finish(self.where, stop, stop)
            else:
                self._progress.update(self.where, stop, len(self._records))

    def at(self) -> str:
        return f"{self.where}[{self.index}]"


def _load_central_systems(store: Store, section: _Section) -> None:
    # Few per file: the one-item rule is fast enough.
    for cs in section.items():
        store.add_central_system(cs)


def _in_one_batch(
    section: _Section,
    parse_all: Callable[[list[Any]], list[Any] | None],
    add_all: Callable[[list[Any]], object],
    add_one: Callable[[Any], object],
) -> None:
    items = section.all_at_once(parse_all)
    try:
        add_all(items)
    except ApiError:
        # A batch checks every field before any rule; one by one, the first
        # bad record is the one named, with its own error.
        for section.index, item in enumerate(items):
            add_one(item)
        raise


def _load_mappings(store: Store, section: _Section) -> None:
    _in_one_batch(
        section,
        _MAPPINGS.parse_all,
        # The messages are made here for the store and held by nothing else.
        lambda mappings: store.add_mappings(mappings, copy=False),
        lambda m: store.create_mapping(m.station_id, m.central_system_id, m.weight, m.is_master, m.is_enabled),
    )


def _load_connections(store: Store, section: _Section) -> None:
    _in_one_batch(
        section,
        _connection_rows,
        store.add_connections,
        lambda c: store.add_connection(c.central_system_id, c.station_id, c.connected),
    )


def _load_transactions(store: Store, section: _Section) -> None:
    # Column by column while every record is plain and keeps the rules; a
    # chunk with one that is not goes record by record, which names it.
    with store.loading_transactions() as batch:
        for start, stop, records in section.chunks():
            if not batch.add_records(records):
                batch.add_rows(section.items(start, stop))


_MAPPINGS, _CONNECTIONS = RecordParser(Mapping), RecordParser(ConnectionInfo)


class _Connection(NamedTuple):
    """A connection record, for the store, which keeps no ConnectionInfo."""

    station_id: str
    central_system_id: int
    connected: bool


_NEW_CONNECTION = partial(tuple.__new__, _Connection)


def _connection_rows(records: list[Any]) -> list[_Connection] | None:
    columns = _CONNECTIONS.columns(records)
    if columns is None:
        return None
    return list(
        map(
            _NEW_CONNECTION,  # in C, from (station, central system, connected)
            zip(columns["station_id"], columns["central_system_id"], columns["connected"], strict=True),
        )
    )


_SECTIONS: tuple[tuple[str, Callable[[dict[str, Any]], object], Callable[[Store, _Section], None]], ...] = (
    ("central_systems", RecordParser(CentralSystem).parse, _load_central_systems),
    ("mappings", _MAPPINGS.parse, _load_mappings),
    ("connections", _CONNECTIONS.parse, _load_connections),
    ("transactions", transaction_row, _load_transactions),
)
_PROGRESS_EVERY = 4096


def load_fixtures(data: object, source: str = "fixtures", progress: Progress | None = None) -> Store:
    """A new store holding data (the parsed JSON of a fixture file)."""
    return _load(data, source, consume=False, progress=progress)


def _load(data: object, source: str, consume: bool, progress: Progress | None) -> Store:
    # Loading makes millions of objects and no reference cycles: with the
    # cycle collector on, its passes over the growing store cost more than
    # the loading itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load_sections(data, source, consume, progress)
    finally:
        if collecting:
            gc.enable()


def _load_sections(data: object, source: str, consume: bool, progress: Progress | None) -> Store:
    if not isinstance(data, dict):
        raise FixtureError(f"{source}: the top level must be a JSON object with arrays {_section_names()}")
    unknown = sorted(set(data) - {name for name, _, _ in _SECTIONS})
    if unknown:
        raise FixtureError(f"{source}: unknown section(s) {', '.join(unknown)}; expected {_section_names()}")
    store = Store()
    for section, parse, load in _SECTIONS:
        records = data.get(section, [])
        if not isinstance(records, list):
            raise FixtureError(f"{source}: {section} must be an array")
        part = _Section(f"{source}: {section}", records, parse, consume, progress)
        try:
            load(store, part)
        except ApiError as error:
            where = part.at()
            if error.violations:
                detail = "; ".join(f"{where}.{v.field}: {v.description}" for v in error.violations)
                raise FixtureError(detail) from None
            raise FixtureError(f"{where}: {error.message}") from None
        if consume:
            data.pop(section, None)
    return store


def load_fixture_file(path: str | Path, progress: Progress | None = None) -> Store:
    """A new store holding the fixture file at path."""
    source = str(path)
    if progress is not None:
        progress.update(f"{source}: reading", 0)
    return _load(_parsed(path, source), source, consume=True, progress=progress)


def _parsed(path: str | Path, source: str) -> object:
    # Its own frame, so the text is freed before the records are loaded.
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FixtureError(f"{source}: cannot read: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FixtureError(f"{source}: not valid JSON: line {error.lineno} column {error.colno}: {error.msg}") from None


def _section_names() -> str:
    return ", ".join(name for name, _, _ in _SECTIONS)
