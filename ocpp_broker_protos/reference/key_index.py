"""Sorted indexes of transaction keys, small ones as plain sorted lists.

A page of transactions is the framed bytes of a run of keys. A
:class:`SmallIndex` (at most ``SMALL_MAX`` keys) looks them up when it is
read. A :class:`LargeIndex` keeps its keys in chunks and, once a chunk has
been read, that chunk's framed bytes beside it, kept in step by every insert
and removal: a page of a large index is then a slice, not a lookup per item.
Loading builds no values at all, and memory goes only to chunks clients read.

A fleet's history has an index per station (and per station and central
system, and their open transactions): hundreds of thousands of indexes of a
few keys each, most of which no client ever reads: loading leaves them
unsorted (:class:`UnsortedSmallIndex`) until a first read needs their order.
A sorted Python list holds them at the cost of its pointers;
an index that grows past ``SMALL_MAX`` keys becomes a LargeIndex, whose
chunks of at most ``2 * SMALL_MAX`` keys keep an insert or a removal to one
chunk's pointers.

Both kinds answer ``len``, ``bisect_right``, ``key_at``, ``values``,
``insert_key`` and ``remove`` (KeyError for a missing key); use
:func:`build` and :func:`merged` to make and grow one, since growing may
change its kind. Values come from a ``values_of`` function (a list of keys
to a new list of their framed transactions, which a LargeIndex keeps and
changes), given with each call that may need them. Reading may fill a
chunk, so reads change state too: not thread-safe, the Store's lock guards
every call.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from itertools import accumulate, chain
from typing import TypeAlias

#: Past this many keys an index is a LargeIndex; also its chunks' usual size.
SMALL_MAX = 1000

ValuesOf = Callable[[list[bytes]], list[bytes]]


class SmallIndex(list[bytes]):
    """A sorted list of at most SMALL_MAX keys."""

    __slots__ = ()

    def bisect_right(self, key: bytes) -> int:
        return bisect_right(self, key)

    def key_at(self, position: int) -> bytes:
        if not 0 <= position < len(self):  # never a key counted from the end
            raise IndexError(position)
        return self[position]

    def values(self, start: int, stop: int, values_of: ValuesOf) -> list[bytes]:
        return values_of(self[start:stop])

    def insert_key(self, key: bytes, values_of: ValuesOf) -> None:
        insort(self, key)

    def remove(self, key: bytes) -> None:
        at = bisect_left(self, key)
        if at == len(self) or self[at] != key:
            raise KeyError(key)
        del self[at]


class UnsortedSmallIndex(SmallIndex):
    """A SmallIndex whose keys are in no order yet. Loading a fleet's history
    makes hundreds of thousands of indexes, most of which no client reads:
    the first call that needs their order sorts the keys and makes this a
    plain SmallIndex, so only indexes that are read pay for sorting."""

    __slots__ = ()

    def bisect_right(self, key: bytes) -> int:
        return _sorted(self).bisect_right(key)

    def key_at(self, position: int) -> bytes:
        return _sorted(self).key_at(position)

    def values(self, start: int, stop: int, values_of: ValuesOf) -> list[bytes]:
        return _sorted(self).values(start, stop, values_of)

    def insert_key(self, key: bytes, values_of: ValuesOf) -> None:
        _sorted(self).insert_key(key, values_of)

    def remove(self, key: bytes) -> None:
        _sorted(self).remove(key)


def _sorted(keys: SmallIndex) -> SmallIndex:
    keys.sort()
    keys.__class__ = SmallIndex  # the same layout: a list with no slots
    return keys


class LargeIndex:
    """Sorted keys in chunks; a chunk's values once it has been read."""

    __slots__ = ("_keys", "_len", "_maxes", "_starts", "_values")

    def __init__(self, keys: list[bytes]) -> None:
        """keys sorted and unique."""
        self._keys = [keys[at : at + SMALL_MAX] for at in range(0, len(keys), SMALL_MAX)]
        self._values: list[list[bytes] | None] = [None] * len(self._keys)
        self._maxes = [chunk[-1] for chunk in self._keys]
        # Where each chunk starts, plus the length; None after a change, made
        # again on the next positional read (O(number of chunks), in C).
        self._starts: list[int] | None = None
        self._len = len(keys)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[bytes]:
        return chain.from_iterable(self._keys)

    def _chunk_starts(self) -> list[int]:
        if self._starts is None:
            self._starts = list(accumulate(map(len, self._keys), initial=0))
        return self._starts

    def bisect_right(self, key: bytes) -> int:
        chunk = bisect_right(self._maxes, key)
        if chunk == len(self._keys):
            return self._len
        return self._chunk_starts()[chunk] + bisect_right(self._keys[chunk], key)

    def key_at(self, position: int) -> bytes:
        if not 0 <= position < self._len:
            raise IndexError(position)
        starts = self._chunk_starts()
        chunk = bisect_right(starts, position) - 1
        return self._keys[chunk][position - starts[chunk]]

    def values(self, start: int, stop: int, values_of: ValuesOf) -> list[bytes]:
        """The values at positions [start, stop), as a list slice would give them."""
        stop = min(stop, self._len)
        if start >= stop:
            return []
        starts = self._chunk_starts()
        chunk = bisect_right(starts, start) - 1
        at = start - starts[chunk]
        found = self._chunk_values(chunk, values_of)[at : at + stop - start]
        while len(found) < stop - start:
            chunk += 1
            found += self._chunk_values(chunk, values_of)[: stop - start - len(found)]
        return found

    def _chunk_values(self, chunk: int, values_of: ValuesOf) -> list[bytes]:
        values = self._values[chunk]
        if values is None:
            values = self._values[chunk] = values_of(self._keys[chunk])
        return values

    def insert_key(self, key: bytes, values_of: ValuesOf) -> None:
        maxes = self._maxes
        if not maxes:
            self._keys, self._values, self._maxes = [[key]], [None], [key]
            self._len, self._starts = 1, None
            return
        chunk = bisect_left(maxes, key)
        if chunk == len(maxes):  # past the last key: the last chunk takes it
            chunk -= 1
        keys = self._keys[chunk]
        at = bisect_right(keys, key)
        keys.insert(at, key)
        values = self._values[chunk]
        if values is not None:
            values[at:at] = values_of([key])
        if at == len(keys) - 1:
            maxes[chunk] = key
        self._len += 1
        self._starts = None
        if len(keys) > 2 * SMALL_MAX:
            self._split(chunk)

    def remove(self, key: bytes) -> None:
        chunk = bisect_left(self._maxes, key)
        keys = self._keys[chunk] if chunk < len(self._keys) else []
        at = bisect_left(keys, key)
        if at == len(keys) or keys[at] != key:
            raise KeyError(key)
        del keys[at]
        values = self._values[chunk]
        if values is not None:
            del values[at]
        self._len -= 1
        self._starts = None
        if not keys:
            del self._keys[chunk], self._values[chunk], self._maxes[chunk]
            return
        self._maxes[chunk] = keys[-1]
        if len(keys) < SMALL_MAX // 2 and len(self._keys) > 1:
            # Join a thin chunk to a neighbour, so that chunks stay few.
            left = chunk - 1 if chunk == len(self._keys) - 1 else chunk
            first, second = self._values[left : left + 2]
            self._keys[left : left + 2] = [self._keys[left] + self._keys[left + 1]]
            self._values[left : left + 2] = [None if first is None or second is None else first + second]
            del self._maxes[left]
            if len(self._keys[left]) > 2 * SMALL_MAX:
                self._split(left)

    def _split(self, chunk: int) -> None:
        keys, values = self._keys[chunk], self._values[chunk]
        half = len(keys) // 2
        self._keys.insert(chunk + 1, keys[half:])
        self._values.insert(chunk + 1, None if values is None else values[half:])
        del keys[half:]
        if values is not None:
            del values[half:]
        self._maxes.insert(chunk, keys[-1])


Index: TypeAlias = SmallIndex | LargeIndex


def build(keys: list[bytes]) -> Index:
    """An index of keys (unique, in any order), which are sorted in place
    unless they are an UnsortedSmallIndex that stays one; a SmallIndex given
    as keys is the index itself."""
    if len(keys) > SMALL_MAX:
        keys.sort()
        return LargeIndex(keys)
    if isinstance(keys, UnsortedSmallIndex):
        return keys
    keys.sort()
    return keys if isinstance(keys, SmallIndex) else SmallIndex(keys)


def merged(index: Index, keys: list[bytes], values_of: ValuesOf) -> Index:
    """index with keys (new ones) added: the same object, or a new one when
    it outgrows its kind or when rebuilding beats inserting one by one."""
    # Inserting costs a chunk's pointers per key; rebuilding, the whole index once.
    one_by_one = (
        (len(index) + len(keys) <= SMALL_MAX) if isinstance(index, SmallIndex) else (len(keys) * 8 < len(index))
    )
    if one_by_one:
        insert = index.insert_key
        for key in keys:
            insert(key, values_of)
        return index
    return build([*index, *keys])
