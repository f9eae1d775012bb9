"""Sorted indexes of transaction keys, small ones as plain sorted lists.

A page of transactions is the framed bytes of a run of keys. A
:class:`SmallIndex` (at most ``SMALL_MAX`` keys) looks them up when it is
read. A :class:`LargeIndex` keeps its keys in chunks and, once a chunk has
been read, that chunk's framed bytes joined into one buffer beside it: a page
of a large index is then a slice of a buffer or two, copied once into the
response, not a lookup and a copy per item. A change to a chunk drops its
buffer, and the next read of the chunk joins it again (transactions are
written far less often than read: no RPC writes them). Loading builds no
buffers at all, and memory goes only to chunks clients read.

A fleet's history has an index per station (and per central system, and
their open transactions): hundreds of thousands of indexes of a few keys
each, most of which no client ever reads: loading leaves them unsorted
(:class:`UnsortedSmallIndex`) until a first read needs their order. A sorted
Python list holds them at the cost of its pointers; an index that grows past
``SMALL_MAX`` keys becomes a LargeIndex, whose chunks of at most
``2 * SMALL_MAX`` keys keep an insert or a removal to one chunk's pointers.

Both kinds answer ``len``, ``bisect_right``, ``key_at``, ``parts``,
``insert_key`` and ``remove`` (KeyError for a missing key); use
:func:`build` and :func:`merged` to make and grow one, since growing may
change its kind. A page's bytes come from ``parts``, pieces to join, made
with a ``values_of`` function (a list of keys to a new list of their framed
transactions). Reading may join a chunk, so reads change state too: not
thread-safe, the Store's lock guards every call.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from itertools import accumulate, chain
from typing import TypeAlias

#: Past this many keys an index is a LargeIndex; also its chunks' usual size.
SMALL_MAX = 1000

#: A piece of a page's bytes.
Part: TypeAlias = bytes | memoryview
ValuesOf = Callable[[list[bytes]], list[Part]]


class SmallIndex(list[bytes]):
    """A sorted list of at most SMALL_MAX keys."""

    __slots__ = ()

    def bisect_right(self, key: bytes) -> int:
        return bisect_right(self, key)

    def key_at(self, position: int) -> bytes:
        if not 0 <= position < len(self):  # never a key counted from the end
            raise IndexError(position)
        return self[position]

    def parts(self, start: int, stop: int, values_of: ValuesOf) -> list[Part]:
        return values_of(self[start:stop])

    def insert_key(self, key: bytes) -> None:
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

    def parts(self, start: int, stop: int, values_of: ValuesOf) -> list[Part]:
        return _sorted(self).parts(start, stop, values_of)

    def insert_key(self, key: bytes) -> None:
        _sorted(self).insert_key(key)

    def remove(self, key: bytes) -> None:
        _sorted(self).remove(key)


def _sorted(keys: SmallIndex) -> SmallIndex:
    keys.sort()
    keys.__class__ = SmallIndex  # the same layout: a list with no slots
    return keys


class LargeIndex:
    """Sorted keys in chunks; a chunk's values, joined, once it has been read."""

    __slots__ = ("_joined", "_keys", "_len", "_maxes", "_starts")

    def __init__(self, keys: list[bytes]) -> None:
        """keys sorted and unique."""
        self._keys = [keys[at : at + SMALL_MAX] for at in range(0, len(keys), SMALL_MAX)]
        # Per chunk: its values joined, and where each starts in them (plus
        # the end); None until a read needs them, and again after a change.
        self._joined: list[tuple[memoryview, array[int]] | None] = [None] * len(self._keys)
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
        return (self._starts or self._chunk_starts())[chunk] + bisect_right(self._keys[chunk], key)

    def key_at(self, position: int) -> bytes:
        if not 0 <= position < self._len:
            raise IndexError(position)
        starts = self._starts or self._chunk_starts()
        chunk = bisect_right(starts, position) - 1
        return self._keys[chunk][position - starts[chunk]]

    def parts(self, start: int, stop: int, values_of: ValuesOf) -> list[Part]:
        """The values at positions [start, stop) as one piece per chunk."""
        if stop > self._len:  # (not min(): see paging.Cursor.window)
            stop = self._len
        if start >= stop:
            return []
        # (Calls inlined: a page of a large index is the most common read.)
        starts = self._starts or self._chunk_starts()
        chunk = bisect_right(starts, start) - 1
        at, left = start - starts[chunk], stop - start
        found: list[Part] = []
        while True:
            joined, offsets = self._joined[chunk] or self._join(chunk, values_of)
            end = at + left
            if end < len(offsets):  # the rest of the page is in this chunk
                found.append(joined[offsets[at] : offsets[end]])
                return found
            end = len(offsets) - 1
            found.append(joined[offsets[at] : offsets[end]])
            left -= end - at
            chunk, at = chunk + 1, 0

    def _join(self, chunk: int, values_of: ValuesOf) -> tuple[memoryview, array[int]]:
        values = values_of(self._keys[chunk])
        joined = self._joined[chunk] = (
            memoryview(b"".join(values)),
            array("Q", accumulate(map(len, values), initial=0)),
        )
        return joined

    def insert_key(self, key: bytes) -> None:
        maxes = self._maxes
        if not maxes:
            self._keys, self._joined, self._maxes = [[key]], [None], [key]
            self._len, self._starts = 1, None
            return
        chunk = bisect_left(maxes, key)
        if chunk == len(maxes):  # past the last key: the last chunk takes it
            chunk -= 1
        keys = self._keys[chunk]
        at = bisect_right(keys, key)
        keys.insert(at, key)
        self._joined[chunk] = None
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
        self._joined[chunk] = None
        self._len -= 1
        self._starts = None
        if not keys:
            del self._keys[chunk], self._joined[chunk], self._maxes[chunk]
            return
        self._maxes[chunk] = keys[-1]
        if len(keys) < SMALL_MAX // 2 and len(self._keys) > 1:
            # Join a thin chunk to a neighbour, so that chunks stay few.
            left = chunk - 1 if chunk == len(self._keys) - 1 else chunk
            self._keys[left : left + 2] = [self._keys[left] + self._keys[left + 1]]
            self._joined[left : left + 2] = [None]
            del self._maxes[left]
            if len(self._keys[left]) > 2 * SMALL_MAX:
                self._split(left)

    def _split(self, chunk: int) -> None:
        keys = self._keys[chunk]
        half = len(keys) // 2
        self._keys.insert(chunk + 1, keys[half:])
        self._joined[chunk : chunk + 1] = [None, None]
        del keys[half:]
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


def merged(index: Index, keys: list[bytes]) -> Index:
    """index with keys (new ones) added: the same object, or a new one when
    it outgrows its kind or when rebuilding beats inserting one by one."""
    # Inserting costs a chunk's pointers per key; rebuilding, the whole index once.
    one_by_one = (
        (len(index) + len(keys) <= SMALL_MAX) if isinstance(index, SmallIndex) else (len(keys) * 8 < len(index))
    )
    if one_by_one:
        insert = index.insert_key
        for key in keys:
            insert(key)
        return index
    return build([*index, *keys])
