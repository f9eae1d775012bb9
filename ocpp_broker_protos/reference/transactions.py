"""The transaction history: ready-to-send bytes in sorted indexes.

Each transaction is kept once, as its encoding framed as the
``transactions`` field of ``GetAllTransactionsResponse``, so a page is a
concatenation of stored bytes and never builds a message per item. Every
combination of the three filters (station, central system, open only) has
its own sorted index of compact sort keys, so any page costs
O(log n + limit) whatever its offset or page token (a large index pays once
more per chunk of 1,000 to 2,000 keys, when a page first reads it, and
after a write it counts its chunks again): a token holds the sort key of
the last transaction returned, and the next page starts at its bisection
point.

The index of one station's transactions with one central system is the
exception: a fleet has hundreds of thousands of such pairs and few are ever
asked for, so the first page asking for a pair makes its index from the
station's (O(the station's transactions), once), and writes keep it in step
from then on. Which pairs have transactions at all is kept, so a pair with
none costs nothing.

Not thread-safe on its own: the Store's lock guards every call.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import gt, is_not, itemgetter, not_, or_
from typing import cast

from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos.reference import errors, key_index, validation, wire
from ocpp_broker_protos.reference.errors import FieldViolation
from ocpp_broker_protos.reference.paging import Cursor
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsResponse, Transaction

MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799
_NANOS_BITS = 30  # 999,999,999 < 2**30
_KEY_TIME_BYTES = 9  # (seconds range << 30) needs 69 bits
_ID_OF_KEY = itemgetter(slice(_KEY_TIME_BYTES, None))

IndexKey = tuple[str | None, int | None, bool]

#: Runs an iterator (a map over a column, say) to its end, in C.
consume: Callable[[Iterable[object]], None] = deque[object](maxlen=0).extend


def sort_key(started_at: Timestamp, transaction_id: str) -> bytes:
    """Bytes that sort as (started_at descending, id ascending).

    The time part is inverted and fixed-width; UTF-8 keeps the code point
    order of the id, so plain bytes comparison gives the documented order.
    """
    return time_key(started_at.seconds, started_at.nanos) + transaction_id.encode()


def time_key(seconds: int, nanos: int) -> bytes:
    """The started_at part of a sort key."""
    elapsed = ((seconds - MIN_SECONDS) << _NANOS_BITS) | nanos
    newest_first = ((MAX_SECONDS - MIN_SECONDS + 1) << _NANOS_BITS) - 1 - elapsed
    return newest_first.to_bytes(_KEY_TIME_BYTES, "big")


_RESPONSE_FIELDS = GetAllTransactionsResponse.DESCRIPTOR.fields_by_name
_TRANSACTIONS_TAG = wire.tag(_RESPONSE_FIELDS["transactions"])
_TOTAL_COUNT_TAG = wire.tag(_RESPONSE_FIELDS["total_count"])
_NEXT_PAGE_TOKEN_TAG = wire.tag(_RESPONSE_FIELDS["next_page_token"])


def frame(transaction: Transaction) -> bytes:
    body = transaction.SerializeToString()
    return _TRANSACTIONS_TAG + wire.varint(len(body)) + body


def unframe(framed: bytes) -> Transaction:
    return GetAllTransactionsResponse.FromString(framed).transactions[0]


def encode_page(parts: list[key_index.Part], total: int, next_page_token: bytes = b"") -> bytes:
    """A serialized GetAllTransactionsResponse, byte for byte what
    SerializeToString gives: fields in number order, zero values left out.
    parts, the framed transactions in pieces, is extended with the other
    fields."""
    # One join: appending to the joined items would copy the whole page again.
    if total:
        parts.append(_total_count_field(total))
    if next_page_token:
        parts.append(_NEXT_PAGE_TOKEN_TAG + wire.varint(len(next_page_token)) + next_page_token)
    return b"".join(parts)


@functools.lru_cache(maxsize=64)
def _total_count_field(total: int) -> bytes:
    # A list's total changes only when transactions are added, and pages of
    # the same few lists are read over and over: the field is kept.
    return _TOTAL_COUNT_TAG + wire.varint(total)


def _timestamp_violations(ts: Timestamp, path: str) -> list[FieldViolation]:
    if not (MIN_SECONDS <= ts.seconds <= MAX_SECONDS and 0 <= ts.nanos <= 999_999_999):
        return [FieldViolation(path, "must be between 0001-01-01 and 9999-12-31")]
    return []


def violations(t: Transaction) -> list[FieldViolation]:
    found = [
        *validation.bounded_text(t.id, "id", validation.TRANSACTION_ID_MAX),
        *validation.station_id(t.station_id),
        *validation.bounded_text(t.connector_id, "connector_id", validation.CONNECTOR_ID_MAX),
        *validation.positive_id(t.central_system_id, "central_system_id"),
    ]
    if not t.HasField("started_at"):
        found.append(FieldViolation("started_at", "must be set"))
    else:
        found += _timestamp_violations(t.started_at, "started_at")
    if t.HasField("ended_at"):
        found += _timestamp_violations(t.ended_at, "ended_at")
        if (t.ended_at.seconds, t.ended_at.nanos) < (t.started_at.seconds, t.started_at.nanos):
            found.append(FieldViolation("ended_at", "must not be before started_at"))
    return found


def _index_keys(station_id: str, central_system_id: int, is_open: bool) -> list[IndexKey]:
    actives = (False, True) if is_open else (False,)
    return [
        (station, cs, active)
        for station in (None, station_id)
        for cs in (None, central_system_id)
        for active in actives
    ]


def _is_pair(index_key: IndexKey) -> bool:
    return index_key[0] is not None and index_key[1] is not None


class TransactionLog:
    def __init__(self) -> None:
        # By the id's UTF-8 bytes (the tail of every sort key).
        self._framed: dict[bytes, bytes] = {}
        self._open: dict[tuple[str, str], str] = {}  # (station, connector) -> open transaction id
        self._indexes: dict[IndexKey, key_index.Index] = {}
        # (station, central system) pairs with transactions; a pair's own
        # indexes exist only once a page has asked for them (_pair_index).
        self._pairs: set[tuple[str, int]] = set()

    def __len__(self) -> int:
        return len(self._framed)

    def add(self, transactions: Sequence[Transaction]) -> None:
        """Add all of transactions, or none: the first bad one raises ApiError."""
        ids: set[str] = set()
        opened: dict[tuple[str, str], str] = {}
        for t in transactions:
            bad = violations(t)
            if bad:
                raise errors.invalid(bad)
            transaction_id = t.id
            if transaction_id.encode() in self._framed or transaction_id in ids:
                raise errors.already_exists(
                    errors.TRANSACTION_ALREADY_EXISTS, f"transaction {transaction_id!r} already exists"
                )
            ids.add(transaction_id)
            if not t.HasField("ended_at"):
                connector = (t.station_id, t.connector_id)
                holder = self._open.get(connector) or opened.get(connector)
                if holder is not None:
                    raise errors.failed_precondition(
                        errors.CONNECTOR_BUSY,
                        f"connector {t.connector_id!r} of station {t.station_id!r} already has open transaction "
                        f"{holder!r}",
                    )
                opened[connector] = transaction_id
        batches: dict[IndexKey, list[bytes]] = {}
        for t in transactions:
            key = sort_key(t.started_at, t.id)
            self._framed[key[_KEY_TIME_BYTES:]] = frame(t)
            self._pairs.add((t.station_id, t.central_system_id))
            for index_key in _index_keys(t.station_id, t.central_system_id, not t.HasField("ended_at")):
                if self._kept(index_key):
                    batches.setdefault(index_key, []).append(key)
        self._open.update(opened)
        self.index_keys(batches)

    def index_keys(self, batches: dict[IndexKey, list[bytes]]) -> None:
        """Add each list of new keys (their transactions already in
        self._framed) to its index; a SmallIndex given may become the index
        itself, and a log without indexes takes batches as its index dict."""
        if not self._indexes:
            self._adopt(batches)
            return
        indexes = self._indexes
        for index_key, keys in batches.items():
            if keys:
                index = indexes.get(index_key)
                indexes[index_key] = key_index.build(keys) if index is None else key_index.merged(index, keys)

    def _adopt(self, lists: dict[IndexKey, list[bytes]]) -> None:
        """Take lists as the indexes of a log that has none: hundreds of
        thousands of them when a fleet's history is loaded, most of them
        UnsortedSmallIndex lists already, which are kept as they are. Only
        the others (large, empty, or of another type), found in C loops, are
        built or dropped."""
        values = list(lists.values())
        lengths = list(map(len, values))
        others = list(
            compress(
                lists,
                map(
                    or_,
                    map(or_, map(gt, lengths, repeat(key_index.SMALL_MAX)), map(not_, lengths)),
                    map(is_not, map(type, values), repeat(key_index.UnsortedSmallIndex)),
                ),
            )
        )
        del values, lengths
        indexes = cast(dict[IndexKey, key_index.Index], lists)  # so it is, once the others are built
        for index_key in others:
            keys = lists[index_key]
            if keys:
                indexes[index_key] = key_index.build(keys)
            else:
                del indexes[index_key]
        self._indexes = indexes

    def _values_of(self, keys: list[bytes]) -> list[key_index.Part]:
        """The framed transactions of keys, found by the id each key ends with."""
        return list(map(self._framed.__getitem__, map(_ID_OF_KEY, keys)))

    def end(self, transaction_id: str, ended_at: Timestamp) -> Transaction:
        framed = self._framed.get(transaction_id.encode())
        if framed is None:
            raise errors.not_found(errors.TRANSACTION_NOT_FOUND, f"transaction {transaction_id!r} not found")
        current = unframe(framed)
        if current.HasField("ended_at"):
            raise errors.failed_precondition(
                errors.TRANSACTION_ALREADY_ENDED, f"transaction {transaction_id!r} has already ended"
            )
        ended = Transaction()
        ended.CopyFrom(current)
        ended.ended_at.CopyFrom(ended_at)
        bad = violations(ended)
        if bad:
            raise errors.invalid(bad)
        key = sort_key(current.started_at, transaction_id)
        for index_key in _index_keys(current.station_id, current.central_system_id, True):
            if self._kept(index_key):
                self._indexes[index_key].remove(key)
        del self._open[(current.station_id, current.connector_id)]
        del self._framed[transaction_id.encode()]
        self.add([ended])
        return ended

    def page(self, cursor: Cursor, offset: int, station_id: str, central_system_id: int, active_only: bool) -> bytes:
        """A serialized GetAllTransactionsResponse for these (validated) arguments."""
        index = self._indexes.get((station_id or None, central_system_id or None, active_only))
        if index is None and station_id and central_system_id:
            index = self._pair_index(station_id, central_system_id, active_only)
        if index is None:
            return encode_page([], 0)
        total = len(index)
        start, stop = cursor.window(0, total, index.bisect_right, skip=offset)
        return encode_page(
            index.parts(start, stop, self._values_of),
            total,
            cursor.next_token_bytes(stop, total, lambda: (index.key_at(stop - 1),)),
        )

    def _kept(self, index_key: IndexKey) -> bool:
        """Whether writes keep index_key's index: every index but a pair's not yet made."""
        return index_key in self._indexes or not _is_pair(index_key)

    def add_pairs(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Note that pairs (station, central system) have transactions, for
        keys a batch puts straight into index_keys; an index already made
        for one of them is dropped, to be made again with the new keys."""
        pairs = set(pairs)
        if self._indexes:
            for station_id, central_system_id in pairs.intersection(self._pairs):
                for active in (False, True):
                    self._indexes.pop((station_id, central_system_id, active), None)
        self._pairs |= pairs

    def _pair_index(self, station_id: str, central_system_id: int, active_only: bool) -> key_index.Index | None:
        """The index of a station's transactions with one central system,
        made from the station's index and kept from then on; None when the
        pair has no transactions."""
        station_index = self._indexes.get((station_id, None, active_only))
        if station_index is None or (station_id, central_system_id) not in self._pairs:
            return None
        framed = self._framed
        keys = [
            key
            for key in station_index
            if unframe(framed[key[_KEY_TIME_BYTES:]]).central_system_id == central_system_id
        ]
        index = self._indexes[(station_id, central_system_id, active_only)] = key_index.build(keys)
        return index

    def snapshot(self) -> list[bytes]:
        return [self._framed[k] for k in sorted(self._framed)]
