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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from ocpp_broker_protos.central_system.v1.central_system_pb2 import CentralSystem
from ocpp_broker_protos.connection.v1.connection_pb2 import ConnectionInfo
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.reference.errors import ApiError
from ocpp_broker_protos.reference.store import Store
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction


class FixtureError(ValueError):
    """A fixture file that cannot be loaded; the message names the record."""


def _add_mapping(store: Store, m: Mapping) -> None:
    store.create_mapping(m.station_id, m.central_system_id, m.weight, m.is_master, m.is_enabled)


def _add_connection(store: Store, c: ConnectionInfo) -> None:
    store.add_connection(c.central_system_id, c.station_id, c.connected)


_SECTIONS: tuple[tuple[str, type[Message], Callable[[Store, Any], object]], ...] = (
    ("central_systems", CentralSystem, Store.add_central_system),
    ("mappings", Mapping, _add_mapping),
    ("connections", ConnectionInfo, _add_connection),
    ("transactions", Transaction, Store.add_transaction),
)


def load_fixtures(data: object, source: str = "fixtures") -> Store:
    """A new store holding data (the parsed JSON of a fixture file)."""
    if not isinstance(data, dict):
        raise FixtureError(f"{source}: the top level must be a JSON object with arrays {_section_names()}")
    unknown = sorted(set(data) - {name for name, _, _ in _SECTIONS})
    if unknown:
        raise FixtureError(f"{source}: unknown section(s) {', '.join(unknown)}; expected {_section_names()}")
    store = Store()
    for section, message_type, add in _SECTIONS:
        records = data.get(section, [])
        if not isinstance(records, list):
            raise FixtureError(f"{source}: {section} must be an array")
        for index, record in enumerate(records):
            where = f"{source}: {section}[{index}]"
            if not isinstance(record, dict):
                raise FixtureError(f"{where}: must be a JSON object")
            try:
                message = json_format.ParseDict(record, message_type())
            except json_format.ParseError as error:
                raise FixtureError(f"{where}: {error}") from None
            try:
                add(store, message)
            except ApiError as error:
                if error.violations:
                    detail = "; ".join(f"{where}.{v.field}: {v.description}" for v in error.violations)
                    raise FixtureError(detail) from None
                raise FixtureError(f"{where}: {error.message}") from None
    return store


def load_fixture_file(path: str | Path) -> Store:
    """A new store holding the fixture file at path."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FixtureError(f"{source}: cannot read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise FixtureError(f"{source}: not valid JSON: line {error.lineno} column {error.colno}: {error.msg}") from None
    return load_fixtures(data, source)


def _section_names() -> str:
    return ", ".join(name for name, _, _ in _SECTIONS)
