"""Sorted indexes of transaction keys, small ones as plain sorted lists.

A fleet's history has an index per station (and per station and central
system, and their open transactions): hundreds of thousands of indexes of a
few keys each. A ``SortedList`` costs about half a kilobyte and microseconds
of set-up before its first key, more than the keys it holds; a sorted Python
list holds them at the cost of its pointers, and below ``SortedList``'s own
chunk size its bisection, slicing, insertion and removal are what the
``SortedList`` would do inside its single chunk anyway. An index that grows
past that size becomes a ``SortedList``.

Both kinds answer ``len``, slicing, ``bisect_right`` and ``remove``; use
:func:`build` and :func:`merged` to make and grow one, since growing may
change its kind.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable
from typing import TypeAlias

from sortedcontainers import SortedList

#: Past this many keys an index is a SortedList (its own chunk size).
SMALL_MAX = SortedList.DEFAULT_LOAD_FACTOR


class SmallIndex(list[bytes]):
    """A sorted list of at most SMALL_MAX keys, with SortedList's bisect_right."""

    __slots__ = ()

    def bisect_right(self, key: bytes) -> int:
        return bisect_right(self, key)


Index: TypeAlias = SmallIndex | SortedList


def build(keys: list[bytes]) -> Index:
    """An index of keys; a SmallIndex is sorted in place and kept."""
    if len(keys) > SMALL_MAX:
        return SortedList(keys)
    small = keys if isinstance(keys, SmallIndex) else SmallIndex(keys)
    small.sort()
    return small


def merged(index: Index, keys: Iterable[bytes]) -> Index:
    """index with keys added: the same object, or a SortedList once it outgrows a SmallIndex."""
    if isinstance(index, SortedList):
        index.update(keys)
        return index
    added = list(keys)
    if len(index) + len(added) > SMALL_MAX:
        return SortedList([*index, *added])
    for key in added:
        insort(index, key)
    return index
