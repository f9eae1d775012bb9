"""Sorted indexes of transaction keys, each with its transactions' bytes.

An index holds sort keys in order and, in the same order, the framed bytes
of each key's transaction, so a page is a slice of stored bytes: no lookup
per item. Positions count from the start of the index, so a page can start
at an offset or right after a token's key.

A fleet's history has an index per station (and per station and central
system, and their open transactions): hundreds of thousands of indexes of a
few keys each. Those are a :class:`SmallIndex`: a sorted list of keys with
its values in a second list. Past ``SMALL_MAX`` keys an index is a
:class:`LargeIndex`: chunks of at most ``2 * SMALL_MAX`` keys, so an insert
or a removal moves one chunk's pointers, never the whole index's.

Both kinds answer ``len``, ``bisect_right``, ``key_at``, ``values`` and
``remove``; use :func:`build` and :func:`merged` to make and grow one, since
growing may change its kind. Not thread-safe: the Store's lock guards them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import TypeAlias

#: Past this many keys an index is a LargeIndex; also its chunks' usual size.
SMALL_MAX = 1000

ValueOf = Callable[[bytes], bytes]


class SmallIndex(list[bytes]):
    """At most SMALL_MAX sorted keys, and their values in ``values``."""

    __slots__ = ("_values",)

    def __init__(self, keys: list[bytes] | None = None, values: list[bytes] | None = None) -> None:
        super().__init__(keys or ())
        self._values: list[bytes] = values if values is not None else []

    def bisect_right(self, key: bytes) -> int:
        return bisect_right(self, key)

    def key_at(self, position: int) -> bytes:
        return self[position]

    def values(self, start: int, stop: int) -> list[bytes]:
        return self._values[start:stop]

    def insert_pair(self, key: bytes, value: bytes) -> None:
        at = bisect_right(self, key)
        self.insert(at, key)
        self._values.insert(at, value)

    def remove(self, key: bytes) -> None:
        at = bisect_left(self, key)
        if at == len(self) or self[at] != key:
            raise KeyError(key)
        del self[at]
        del self._values[at]

    def pairs(self) -> tuple[list[bytes], list[bytes]]:
        return list(self), list(self._values)


class LargeIndex:
    """Sorted keys in chunks, with their values in chunks of the same shape."""

    __slots__ = ("_keys", "_len", "_maxes", "_starts", "_values")

    def __init__(self, keys: list[bytes], values: list[bytes]) -> None:
        """keys sorted and unique, values in their order."""
        self._keys = [keys[at : at + SMALL_MAX] for at in range(0, len(keys), SMALL_MAX)]
        self._values = [values[at : at + SMALL_MAX] for at in range(0, len(values), SMALL_MAX)]
        self._maxes = [chunk[-1] for chunk in self._keys]
        # Where each chunk starts, plus the length; None after a change, made
        # again on the next positional read (O(number of chunks), in C).
        self._starts: list[int] | None = None
        self._len = len(keys)

    def __len__(self) -> int:
        return self._len

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
        starts = self._chunk_starts()
        chunk = bisect_right(starts, position) - 1
        return self._keys[chunk][position - starts[chunk]]

    def values(self, start: int, stop: int) -> list[bytes]:
        """The values at positions [start, stop), as a list slice would give them."""
        stop = min(stop, self._len)
        if start >= stop:
            return []
        starts = self._chunk_starts()
        chunk = bisect_right(starts, start) - 1
        at = start - starts[chunk]
        found = self._values[chunk][at : at + stop - start]
        while len(found) < stop - start:
            chunk += 1
            found += self._values[chunk][: stop - start - len(found)]
        return found

    def insert_pair(self, key: bytes, value: bytes) -> None:
        maxes = self._maxes
        if not maxes:
            self._keys, self._values, self._maxes = [[key]], [[value]], [key]
            self._len, self._starts = 1, None
            return
        chunk = bisect_left(maxes, key)
        if chunk == len(maxes):  # past the last key: the last chunk takes it
            chunk -= 1
        keys = self._keys[chunk]
        at = bisect_right(keys, key)
        keys.insert(at, key)
        self._values[chunk].insert(at, value)
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
        del keys[at], self._values[chunk][at]
        self._len -= 1
        self._starts = None
        if not keys:
            del self._keys[chunk], self._values[chunk], self._maxes[chunk]
            return
        self._maxes[chunk] = keys[-1]
        if len(keys) < SMALL_MAX // 2 and len(self._keys) > 1:
            # Join a thin chunk to a neighbour, so that chunks stay few.
            left = chunk - 1 if chunk == len(self._keys) - 1 else chunk
            self._keys[left : left + 2] = [self._keys[left] + self._keys[left + 1]]
            self._values[left : left + 2] = [self._values[left] + self._values[left + 1]]
            del self._maxes[left]
            if len(self._keys[left]) > 2 * SMALL_MAX:
                self._split(left)

    def _split(self, chunk: int) -> None:
        keys, values = self._keys[chunk], self._values[chunk]
        half = len(keys) // 2
        self._keys.insert(chunk + 1, keys[half:])
        self._values.insert(chunk + 1, values[half:])
        del keys[half:], values[half:]
        self._maxes.insert(chunk, keys[-1])

    def pairs(self) -> tuple[list[bytes], list[bytes]]:
        """All keys and all values, each in one new list."""
        return [k for chunk in self._keys for k in chunk], [v for chunk in self._values for v in chunk]


Index: TypeAlias = SmallIndex | LargeIndex


def build(keys: list[bytes], value_of: ValueOf) -> Index:
    """An index of keys (unique, in any order; sorted in place) and their values."""
    keys.sort()
    values = list(map(value_of, keys))
    if len(keys) > SMALL_MAX:
        return LargeIndex(keys, values)
    if isinstance(keys, SmallIndex):  # a batch's list becomes the index
        keys._values = values
        return keys
    return SmallIndex(keys, values)


def merged(index: Index, keys: list[bytes], value_of: ValueOf) -> Index:
    """index with keys (new ones) added: the same object, or a new one when
    it outgrows its kind or when rebuilding beats inserting one by one."""
    if len(index) + len(keys) <= SMALL_MAX if isinstance(index, SmallIndex) else len(keys) * 8 < len(index):
        insert = index.insert_pair
        for key in keys:
            insert(key, value_of(key))
        return index
    old_keys, old_values = index.pairs()
    known = dict(zip(old_keys, old_values, strict=True))
    return build([*old_keys, *keys], lambda key: known[key] if key in known else value_of(key))
