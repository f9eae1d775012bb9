"""Fixture records (parsed JSON objects) into messages, fast.

``json_format.ParseDict`` walks descriptors for every field of every record,
which is most of the time a fleet-sized fixture takes to load. For the plain
shape a fixture record almost always has (known field names, JSON types that
need no conversion, RFC 3339 UTC timestamps) the message is built directly;
anything else goes through ``ParseDict``, so every record either gets exactly
the message ``ParseDict`` would give or exactly its error. A whole section
whose records all have that shape, in snake_case, is checked a column at a
time (:meth:`RecordParser.columns`), in C loops rather than per record.
"""

from __future__ import annotations

from itertools import chain, repeat
from typing import Any, Generic, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos.reference import rfc3339, validation
from ocpp_broker_protos.reference.transaction_loading import Row, row_of
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction

_M = TypeVar("_M", bound=Message)

# Field kinds with a fast path.
_STRING, _BOOL, _INT32, _UINT32, _TIMESTAMP = range(5)
_RANGES = {_INT32: (-(2**31), 2**31 - 1), _UINT32: (0, 2**32 - 1)}


def _kind(field: Any) -> int | None:
    # `is_repeated` since protobuf 5.28, `label` until 6.
    repeated = getattr(field, "is_repeated", None)
    if repeated if repeated is not None else getattr(field, "label", None) == FieldDescriptor.LABEL_REPEATED:
        return None
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _TIMESTAMP if field.message_type.full_name == Timestamp.DESCRIPTOR.full_name else None
    return {
        FieldDescriptor.TYPE_STRING: _STRING,
        FieldDescriptor.TYPE_BOOL: _BOOL,
        FieldDescriptor.TYPE_INT32: _INT32,
        FieldDescriptor.TYPE_UINT32: _UINT32,
    }.get(field.type)


class RecordParser(Generic[_M]):
    """Turns records into messages of one type, as ``ParseDict`` would."""

    def __init__(self, message_type: type[_M]) -> None:
        self._type = message_type
        fields: dict[str, tuple[str, int | None]] = {}
        for field in message_type.DESCRIPTOR.fields:
            fields[field.name] = fields[field.json_name] = (field.name, _kind(field))
        self._fields = fields
        self._timestamps = [f.name for f in message_type.DESCRIPTOR.fields if _kind(f) == _TIMESTAMP]
        # What parse_all takes: snake_case names of fields it checks a column at a time.
        self._column_kinds = {
            f.name: kind
            for f in message_type.DESCRIPTOR.fields
            if (kind := _kind(f)) is not None and kind != _TIMESTAMP
        }

    def values(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record's fields by name, timestamps as (seconds, nanos), when
        it has the plain shape; None when ParseDict must decide."""
        values: dict[str, Any] = {}
        fields = self._fields
        for key, value in record.items():
            spec = fields.get(key)
            if spec is None:
                return None
            name, kind = spec
            if kind == _STRING:
                if type(value) is not str or not (value.isascii() or validation.utf8_encodable(value)):
                    return None
            elif kind == _BOOL:
                if type(value) is not bool:
                    return None
            elif kind == _TIMESTAMP:
                value = rfc3339.parse(value) if type(value) is str else None
                if value is None:
                    return None
            elif kind in _RANGES:
                low, high = _RANGES[kind]
                if type(value) is not int or not low <= value <= high:
                    return None
            else:
                return None
            if name in values:
                return None
            values[name] = value
        return values

    def parse(self, record: dict[str, Any]) -> _M:
        """The message, or json_format.ParseError with ParseDict's message."""
        values = self.values(record)
        if values is None:
            return self.parse_slowly(record)
        for name in self._timestamps:
            if name in values:
                seconds, nanos = values[name]
                values[name] = Timestamp(seconds=seconds, nanos=nanos)
        return self._type(**values)

    def parse_all(self, records: list[Any]) -> list[_M] | None:
        """The messages of all records, or None when any record is off the
        plain shape (see columns)."""
        if self.columns(records) is None:
            return None
        message_type = self._type
        return [message_type(**record) for record in records]

    def columns(self, records: list[Any]) -> dict[str, list[Any]] | None:
        """Each field's values (its default where a record leaves it out),
        by name, or None when any record is off the plain shape (parse,
        record by record, then decides). Every record must use snake_case
        names, without timestamps or nulls; each field is then checked in a
        few C passes over its column, not per record."""
        if set(map(type, records)) - {dict}:
            return None
        kinds = self._column_kinds
        names = set(chain.from_iterable(records))  # every record's keys
        if not names <= kinds.keys():
            return None
        columns = {}
        for name, kind in kinds.items():
            column = list(map(dict.get, records, repeat(name), repeat(_ABSENT)))
            types = set(map(type, column))
            if _Absent in types:
                types.discard(_Absent)
                if not _column_is_plain(kind, types, [value for value in column if value is not _ABSENT]):
                    return None
                default = _DEFAULTS[kind]
                column = [default if value is _ABSENT else value for value in column]
            elif not _column_is_plain(kind, types, column):
                return None
            columns[name] = column
        return columns

    def parse_slowly(self, record: dict[str, Any]) -> _M:
        return json_format.ParseDict(record, self._type())


class _Absent:
    """The value of a field a record leaves out (None is JSON's null)."""


_ABSENT = _Absent()
_DEFAULTS: dict[int, object] = {_STRING: "", _BOOL: False, _INT32: 0, _UINT32: 0}


def _column_is_plain(kind: int, types: set[type], values: list[Any]) -> bool:
    """Whether values, the present values of one field, all need no conversion."""
    if kind == _STRING:
        return types <= {str} and ("".join(values).isascii() or all(map(validation.utf8_encodable, values)))
    if kind == _BOOL:
        return types <= {bool}
    low, high = _RANGES[kind]
    return types <= {int} and (not values or (low <= min(values) and max(values) <= high))


_TRANSACTIONS = RecordParser(Transaction)


def transaction_row(record: dict[str, Any]) -> Row:
    """A transaction record as a Row, as ParseDict would read it."""
    values = _TRANSACTIONS.values(record)
    if values is None:
        return row_of(_TRANSACTIONS.parse_slowly(record))
    get = values.get
    return (
        get("id", ""),
        get("station_id", ""),
        get("connector_id", ""),
        get("central_system_id", 0),
        *get("started_at", _UNSET),
        *get("ended_at", _UNSET),
    )


_UNSET = (None, 0)
