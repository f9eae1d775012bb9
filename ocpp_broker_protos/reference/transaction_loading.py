"""Loading a million transactions into a TransactionLog in seconds.

``TransactionLog.add`` builds a message, its encoding and its index entries
one attribute access at a time; at fleet size that is most of a fixture's
load time. Here a transaction arrives as a plain :data:`Row` and its framed
encoding is assembled from bytes cached per (station, connector, central
system), which a fleet repeats ten times and more, with each index's list
found once per such triple. The result is the state ``add`` would reach:
same bytes (a test compares them with ``SerializeToString``), same keys,
same rules, and, for a row that breaks one, exactly ``add``'s error.

Not thread-safe on its own: the Store's lock guards every call.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from itertools import chain, compress, repeat
from operator import add, and_, attrgetter, ge, gt, is_not, itemgetter, lshift, not_, or_, rshift, sub
from typing import Any, NamedTuple, cast

from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos.reference import errors, rfc3339, validation, wire
from ocpp_broker_protos.reference.key_index import UnsortedSmallIndex
from ocpp_broker_protos.reference.transactions import (
    _KEY_TIME_BYTES,
    _NANOS_BITS,
    MAX_SECONDS,
    MIN_SECONDS,
    IndexKey,
    TransactionLog,
    consume,
    time_key,
    unframe,
    violations,
)
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsResponse, Transaction

#: (id, station_id, connector_id, central_system_id, started_at seconds,
#: started_at nanos, ended_at seconds, ended_at nanos); a timestamp whose
#: seconds are None is unset.
Row = tuple[str, str, str, int, int | None, int, int | None, int]

_FIELDS = Transaction.DESCRIPTOR.fields_by_name
_ID, _STATION, _CONNECTOR, _CENTRAL_SYSTEM, _STARTED, _ENDED = (
    wire.tag(_FIELDS[name])
    for name in ("id", "station_id", "connector_id", "central_system_id", "started_at", "ended_at")
)
_SECONDS, _NANOS = (wire.tag(Timestamp.DESCRIPTOR.fields_by_name[name]) for name in ("seconds", "nanos"))
_ITEM = wire.tag(GetAllTransactionsResponse.DESCRIPTOR.fields_by_name["transactions"])


def varint(value: int) -> bytes:
    """wire.varint, quicker for the seconds of today's timestamps, and for
    negative ones (before 1970) in 64-bit two's complement as int64 wants."""
    if 1 << 28 <= value < 1 << 35:  # every date from 1978 to 3058
        return bytes(
            (
                value & 0x7F | 0x80,
                value >> 7 & 0x7F | 0x80,
                value >> 14 & 0x7F | 0x80,
                value >> 21 & 0x7F | 0x80,
                value >> 28,
            )
        )
    return wire.varint(value + (1 << 64) if value < 0 else value)


def _delimited(tag: bytes, body: bytes) -> bytes:
    size = len(body)
    return tag + (bytes((size,)) if size < 0x80 else varint(size)) + body


def _timestamp(tag: bytes, seconds: int, nanos: int) -> bytes:
    body = (_SECONDS + varint(seconds) if seconds else b"") + (_NANOS + varint(nanos) if nanos else b"")
    return tag + bytes((len(body),)) + body  # at most 16 bytes


def row_of(t: Transaction) -> Row:
    started = (t.started_at.seconds, t.started_at.nanos) if t.HasField("started_at") else (None, 0)
    ended = (t.ended_at.seconds, t.ended_at.nanos) if t.HasField("ended_at") else (None, 0)
    return (t.id, t.station_id, t.connector_id, t.central_system_id, *started, *ended)


def message_of(row: Row) -> Transaction:
    transaction_id, station, connector, cs, start_s, start_n, end_s, end_n = row
    t = Transaction(id=transaction_id, station_id=station, connector_id=connector, central_system_id=cs)
    if start_s is not None:
        t.started_at.CopyFrom(Timestamp(seconds=start_s, nanos=start_n))
    if end_s is not None:
        t.ended_at.CopyFrom(Timestamp(seconds=end_s, nanos=end_n))
    return t


def _in_range(seconds: int, nanos: int) -> bool:
    return MIN_SECONDS <= seconds <= MAX_SECONDS and 0 <= nanos <= 999_999_999


_VARINT5_MIN, _VARINT5_END = 1 << 28, 1 << 35  # the seconds that are 5-byte varints
_LOW_BYTES = [bytes((low | 0x80,)) for low in range(0x80)]
_LENGTHS = [bytes((n,)) if n < 0x80 else bytes((n & 0x7F | 0x80, n >> 7)) for n in range(1 << 14)]
_TIME_KEY_OFFSET = ((MAX_SECONDS - MIN_SECONDS + 1) << _NANOS_BITS) - 1
_COLUMNS = {name: itemgetter(name) for name in ("id", "station_id", "connector_id", "central_system_id", "started_at")}
_HOUR, _MINUTE, _SUFFIX = itemgetter(slice(0, 13)), itemgetter(slice(13, 19)), itemgetter(slice(19, None))
_TRIPLE_FIELDS = attrgetter("fields")
_STATION_AND_SYSTEM = itemgetter(0, 2)  # of a (station, connector, central system) triple
_TRIPLE_LISTS = (attrgetter("by_station"), attrgetter("by_central_system"))


class _Triple(NamedTuple):
    """What a (station, connector, central system) triple's transactions share."""

    fields: bytes  # their encoding
    by_station: list[bytes]  # the lists of the indexes they join, besides all
    by_central_system: list[bytes]


_NEW_TRIPLE = partial(tuple.__new__, _Triple)


class Batch:
    """Transactions on their way into a log, checked as log.add checks them
    (against the log and each other); the log sees none of them before
    commit(). Not thread-safe: the Store's lock guards a batch's whole life."""

    def __init__(self, log: TransactionLog) -> None:
        self._log = log
        self._framed: dict[bytes, bytes] = {}
        self._opened: dict[tuple[str, str], str] = {}
        # The lists of all and of all open transactions are made at commit.
        self._lists: dict[IndexKey, list[bytes]] = {}
        self._triples: dict[tuple[str, str, int], _Triple] = {}  # only valid ones
        # Valid stations, each with its list (also in _lists).
        self._station_lists: dict[str, list[bytes]] = {}
        self._systems: set[int] = set()  # the central systems of those triples
        self._nanos: dict[int, bytes] = {}  # value -> encoded field
        self._heads: dict[bytes, dict[int, bytes]] = {}  # see _timestamp_fields
        self._high_bytes: dict[int, bytes] = {}  # seconds >> 7 -> its varint

    def _triple(self, station: str, connector: str, cs: int) -> _Triple | None:
        found = self._triples.get((station, connector, cs))
        if found is None:
            if not (
                0 < len(connector) <= validation.CONNECTOR_ID_MAX
                and (connector.isascii() or validation.utf8_encodable(connector))
                and 0 < cs <= validation.INT32_MAX
                and (station in self._station_lists or not validation.station_id(station))
            ):
                return None
            self._systems.add(cs)
            lists = self._lists
            by_station = self._station_lists.get(station)
            if by_station is None:
                by_station = self._station_lists[station] = lists.setdefault(
                    (station, None, False), UnsortedSmallIndex()
                )
            fields = _delimited(_STATION, station.encode()) + _delimited(_CONNECTOR, connector.encode())
            found = self._triples[(station, connector, cs)] = _Triple(
                fields + _CENTRAL_SYSTEM + varint(cs),
                by_station,
                lists.setdefault((None, cs, False), UnsortedSmallIndex()),
            )
        return found

    def _add_triples(self, triples: set[tuple[str, str, int]]) -> bool:
        """_triple for many, a column at a time; False (none added) when any is invalid."""
        if not triples:
            return True
        stations, connectors, systems = (list(column) for column in zip(*triples, strict=True))
        station_lists = self._station_lists
        new_stations = list(set(stations).difference(station_lists))
        if not validation.all_station_ids(new_stations):
            return False
        for connector in set(connectors):
            if not (
                0 < len(connector) <= validation.CONNECTOR_ID_MAX
                and (connector.isascii() or validation.utf8_encodable(connector))
            ):
                return False
        if not all(0 < cs <= validation.INT32_MAX for cs in set(systems)):
            return False
        self._systems.update(systems)
        lists = self._lists
        new_lists = list(map(UnsortedSmallIndex, repeat((), len(new_stations))))
        station_lists.update(zip(new_stations, new_lists, strict=True))
        lists.update(zip(zip(new_stations, repeat(None), repeat(False)), new_lists, strict=True))
        system_lists = {cs: lists.setdefault((None, cs, False), UnsortedSmallIndex()) for cs in set(systems)}
        # A fleet has few connector names and central systems: each is encoded once.
        connector_fields = {c: _delimited(_CONNECTOR, c.encode()) for c in set(connectors)}
        system_fields = {cs: _CENTRAL_SYSTEM + varint(cs) for cs in set(systems)}
        heads = map(
            b"".join,
            zip(
                _delimited_all(_STATION, list(map(str.encode, stations))),
                map(connector_fields.__getitem__, connectors),
                map(system_fields.__getitem__, systems),
                strict=True,
            ),
        )
        self._triples.update(
            zip(
                zip(stations, connectors, systems, strict=True),
                map(
                    _NEW_TRIPLE,  # from (fields, list, list), in C
                    zip(
                        heads,
                        map(station_lists.__getitem__, stations),
                        map(system_lists.__getitem__, systems),
                        strict=True,
                    ),
                ),
                strict=True,
            )
        )
        return True

    def _index(self, key: bytes, station: str, cs: int, triple: _Triple, is_open: bool) -> None:
        triple.by_station.append(key)
        triple.by_central_system.append(key)
        if is_open:
            for index_key in ((station, None, True), (None, cs, True)):
                self._lists.setdefault(index_key, UnsortedSmallIndex()).append(key)

    def add_rows(self, rows: Iterable[Row]) -> None:
        """Take rows one at a time; an ApiError is about the last one taken."""
        log, framed, opened = self._log, self._framed, self._opened
        for row in rows:
            transaction_id, station, connector, cs, start_s, start_n, end_s, end_n = row
            triple = self._triple(station, connector, cs)
            if not (
                triple is not None
                and 0 < len(transaction_id) <= validation.TRANSACTION_ID_MAX
                and start_s is not None
                and _in_range(start_s, start_n)
                and (end_s is None or (_in_range(end_s, end_n) and (end_s, end_n) >= (start_s, start_n)))
            ):
                raise errors.invalid(violations(message_of(row)))
            id_bytes = transaction_id.encode()
            if id_bytes in log._framed or id_bytes in framed:
                raise _conflict(log, row, framed.get(id_bytes))
            if end_s is None:
                holder = log._open.get((station, connector)) or opened.get((station, connector))
                if holder is not None:
                    raise _conflict(log, row, framed.get(holder.encode()))
                opened[(station, connector)] = transaction_id
            body = _delimited(_ID, id_bytes) + triple.fields + _timestamp(_STARTED, start_s, start_n)
            if end_s is not None:
                body += _timestamp(_ENDED, end_s, end_n)
            key = time_key(start_s, start_n) + id_bytes
            framed[id_bytes] = _delimited(_ITEM, body)
            self._index(key, station, cs, triple, end_s is None)

    def add_records(self, records: list[Any]) -> bool:
        """Take fixture records (parsed JSON) of the plain shape, column by
        column, all or none: False, and nothing taken, when any record is
        not plain or breaks a rule; add_rows then finds and names it.

        Each step is one pass of a C loop (map, set, join) over a column, so
        a record costs a few Python steps instead of a hundred."""
        if not records:
            return True
        # Shape: the five fields, and ended_at or nothing else.
        if set(map(type, records)) != {dict}:
            return False
        sizes = list(map(len, records))
        if not set(sizes) <= {5, 6}:
            return False
        try:
            ids, stations, connectors, systems, starts = (list(map(get, records)) for get in _COLUMNS.values())
        except KeyError:
            return False
        ends = list(map(dict.get, records, repeat("ended_at")))
        # Each record of six fields has ended_at, and not as null.
        if ends.count(None) != sizes.count(5):
            return False
        if set(map(type, systems)) != {int}:  # (not bool)
            return False
        # Field rules. A value of another JSON type than str in a text field
        # fails a step below with TypeError (len, join, hashing, the station
        # and connector checks) before anything is kept; times are checked
        # by _times.
        try:
            lengths = set(map(len, ids))
            if min(lengths) < 1 or max(lengths) > validation.TRANSACTION_ID_MAX or not "".join(ids).isascii():
                return False
            triples = list(zip(stations, connectors, systems, strict=True))
            if not self._add_triples(set(triples).difference(self._triples)):
                return False
        except TypeError:
            return False
        is_closed = list(map(is_not, ends, repeat(None)))
        closed = list(compress(range(len(ends)), is_closed))
        started, ended = _times(starts), _times(list(compress(ends, is_closed)))
        if started is None or ended is None or 0 in started[0] or 0 in ended[0]:
            return False  # (0 seconds: a field left out; add_rows has it)
        elapsed = _elapsed(started)
        # Ended in a later second, or (all that is left to compare) no earlier.
        if not all(map(gt, ended[0], map(started[0].__getitem__, closed))) and not all(
            map(ge, _elapsed(ended), map(elapsed.__getitem__, closed))
        ):
            return False
        # Unique ids, one open transaction per connector.
        id_bytes = list(map(str.encode, ids))
        log, framed = self._log, self._framed
        if len(set(id_bytes)) != len(id_bytes) or not (
            log._framed.keys().isdisjoint(id_bytes) and framed.keys().isdisjoint(id_bytes)
        ):
            return False
        opening = list(compress(range(len(ends)), map(not_, is_closed)))
        open_stations = list(map(stations.__getitem__, opening))
        opened = dict(
            zip(
                zip(open_stations, map(connectors.__getitem__, opening), strict=True),
                map(ids.__getitem__, opening),
                strict=True,
            )
        )
        if len(opened) != len(opening) or not (
            log._open.keys().isdisjoint(opened) and self._opened.keys().isdisjoint(opened)
        ):
            return False
        # Every rule holds: encode and index.
        shared = list(map(self._triples.__getitem__, triples))
        nanos = self._nanos
        for value in set(started[1]).union(ended[1]) - nanos.keys():
            nanos[value] = _NANOS + varint(value) if value else b""
        end_fields = [b""] * len(records)
        consume(map(end_fields.__setitem__, closed, self._timestamp_fields(_ENDED, ended)))
        bodies = list(
            map(
                b"".join,
                zip(
                    repeat(_ID),
                    map(_LENGTHS.__getitem__, map(len, id_bytes)),
                    id_bytes,
                    map(_TRIPLE_FIELDS, shared),
                    self._timestamp_fields(_STARTED, started),
                    end_fields,
                ),
            )
        )
        del end_fields
        items = _delimited_all(_ITEM, bodies)
        del bodies
        framed.update(zip(id_bytes, items, strict=True))
        del items
        keys = list(
            map(add, map(int.to_bytes, map(sub, repeat(_TIME_KEY_OFFSET), elapsed), repeat(_KEY_TIME_BYTES)), id_bytes)
        )
        for lists_of in _TRIPLE_LISTS:
            # list.append over (list, key) pairs: the loop runs in C.
            consume(map(list.append, map(lists_of, shared), keys))
        lists = self._lists
        open_keys = list(map(keys.__getitem__, opening))
        open_systems = list(map(systems.__getitem__, opening))
        for index_keys in (
            list(zip(open_stations, repeat(None), repeat(True))),
            list(zip(repeat(None), open_systems, repeat(True))),
        ):
            _add_lists(lists, index_keys)
            consume(map(list.append, map(lists.__getitem__, index_keys), open_keys))
        self._opened.update(opened)
        return True

    def _timestamp_fields(self, tag: bytes, times: tuple[list[int], list[int]]) -> list[bytes]:
        """The encoded timestamp field (tag, length, seconds, nanos) of each
        time; every nanos value must be in self._nanos."""
        seconds, nanos = times
        nanos_fields = self._nanos
        if not seconds or min(seconds) < _VARINT5_MIN or max(seconds) >= _VARINT5_END:
            return _delimited_all(
                tag,
                list(map(add, map(add, repeat(_SECONDS), map(varint, seconds)), map(nanos_fields.__getitem__, nanos))),
            )
        # Seconds from 1978 to 3058 are 5-byte varints: a low byte with the
        # continuation bit, then the 4-byte varint of seconds >> 7, which a
        # history shares between the 128 seconds each value spans; so a
        # field is four looked-up pieces, and no varint is encoded per time.
        heads = self._heads.setdefault(tag, {})  # nanos -> tag, length, seconds' tag
        for value in set(nanos).difference(heads):
            heads[value] = tag + bytes((1 + 5 + len(nanos_fields[value]),)) + _SECONDS
        highs = list(map(rshift, seconds, repeat(7)))
        high_bytes = self._high_bytes
        for value in set(highs).difference(high_bytes):
            high_bytes[value] = wire.varint(value)
        return list(
            map(
                b"".join,
                zip(
                    map(heads.__getitem__, nanos),
                    map(_LOW_BYTES.__getitem__, map(and_, seconds, repeat(0x7F))),
                    map(high_bytes.__getitem__, highs),
                    map(nanos_fields.__getitem__, nanos),
                    strict=True,
                ),
            )
        )

    def commit(self) -> int:
        """Put the batch into the log; returns how many transactions."""
        log, framed = self._log, self._framed
        if log._framed:
            log._framed.update(framed)
        else:  # a new log (a fixture file): the batch's own dict will do
            log._framed = framed
        log._open.update(self._opened)
        log.add_pairs(map(_STATION_AND_SYSTEM, self._triples))
        lists = self._lists
        # The lists of all transactions and of all open ones are the joined
        # lists of their central systems: sorted one central system at a
        # time, they join into a few sorted runs, which sorting merges at a
        # fraction of what sorting them unordered costs.
        for active in (False, True):
            parts = [lists[k] for k in ((None, cs, active) for cs in self._systems) if k in lists]
            for keys in parts:
                keys.sort()
            if parts:
                lists[(None, None, active)] = list(chain.from_iterable(parts))
        log.index_keys(lists)
        return len(framed)


def _add_lists(lists: dict[IndexKey, list[bytes]], index_keys: Iterable[IndexKey]) -> None:
    """An empty list for each of index_keys that lists lacks."""
    missing = set(index_keys).difference(lists)
    lists.update(zip(missing, map(UnsortedSmallIndex, repeat((), len(missing))), strict=True))


def _delimited_all(tag: bytes, bodies: list[bytes]) -> list[bytes]:
    return list(map(b"".join, zip(repeat(tag), map(_LENGTHS.__getitem__, map(len, bodies)), bodies)))


def _elapsed(times: tuple[list[int], list[int]]) -> list[int]:
    """The time part of sort keys, as integers (see transactions.time_key)."""
    seconds, nanos = times
    return list(map(or_, map(lshift, map(sub, seconds, repeat(MIN_SECONDS)), repeat(_NANOS_BITS)), nanos))


def _times(texts: list[Any]) -> tuple[list[int], list[int]] | None:
    """(seconds, nanos) columns of plain RFC 3339 texts, or None when any is not."""
    # "YYYY-MM-DDTHH", ":MM:SS" and the fraction with its Z, each looked up
    # in a table that holds only valid texts (rfc3339), so hits are the
    # check: a miss raises KeyError, and a value that is not a string fails
    # its first slice or lookup with TypeError.
    try:
        try:
            hour_seconds = list(map(rfc3339.HOURS.__getitem__, map(_HOUR, texts)))
        except KeyError:  # an hour not seen before, or no hour
            if None in map(rfc3339.hour, set(map(_HOUR, texts)).difference(rfc3339.HOURS)):
                return None
            hour_seconds = list(map(rfc3339.HOURS.__getitem__, map(_HOUR, texts)))
        minute_seconds = list(map(rfc3339.MINUTES.__getitem__, map(_MINUTE, texts)))
        try:
            nanos = list(map(rfc3339.SUFFIXES.__getitem__, map(_SUFFIX, texts)))
        except KeyError:  # more than three digits, or no fraction and Z
            found = list(map(rfc3339.suffix, map(_SUFFIX, texts)))
            if None in found:
                return None
            nanos = cast(list[int], found)
    except (KeyError, TypeError):
        return None
    return list(map(add, hour_seconds, minute_seconds)), nanos


def load_rows(log: TransactionLog, rows: Iterable[Row]) -> int:
    """Add every row to log, all or none, as log.add would; rows are taken one
    at a time, so an ApiError is about the last row taken. Returns how many."""
    batch = Batch(log)
    batch.add_rows(rows)
    return batch.commit()


def _conflict(log: TransactionLog, row: Row, earlier: bytes | None) -> errors.ApiError:
    """The error log.add gives for row after log's own transactions and one
    earlier row of the batch (framed), replayed on a scratch log."""
    scratch = TransactionLog()
    scratch._framed, scratch._open = dict(log._framed), dict(log._open)
    try:
        if earlier is not None:
            scratch.add([unframe(earlier)])
        scratch.add([message_of(row)])
    except errors.ApiError as error:
        return error
    raise AssertionError(f"transaction {row[0]!r} is refused by load_rows but not by add")
