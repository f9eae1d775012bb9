"""The mappings, in key order, with a second sorted index by central system.

Mappings are keyed by (station_id, central_system_id), the order of
``GetAllMappings``; a page filtered by central system instead bisects that
central system's own sorted list of station ids, so every page of every
filter costs O(log n + page size). Every write goes through this class, so
the two orders never drift apart.

Not thread-safe on its own: the Store's lock guards every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from collections.abc import Mapping as MappingABC
from itertools import filterfalse
from operator import attrgetter

from sortedcontainers import SortedDict, SortedList

from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping

Key = tuple[str, int]
_IS_ENABLED = attrgetter("is_enabled")
_NONE: SortedList = SortedList()


class MappingTable:
    def __init__(self) -> None:
        self._rows: SortedDict[Key, Mapping] = SortedDict()
        self._stations_by_central_system: dict[int, SortedList] = {}
        self.bisect_left = self._rows.bisect_left
        self.bisect_right = self._rows.bisect_right
        self.islice = self._rows.islice
        self.irange = self._rows.irange

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __getitem__(self, key: Key) -> Mapping:
        found: Mapping = self._rows[key]
        return found

    def __iter__(self) -> Iterator[Key]:
        return iter(self._rows)

    def get(self, key: Key) -> Mapping | None:
        found: Mapping | None = self._rows.get(key)
        return found

    def keys(self) -> Iterable[Key]:
        found: Iterable[Key] = self._rows.keys()
        return found

    def values(self) -> Iterable[Mapping]:
        found: Iterable[Mapping] = self._rows.values()
        return found

    def items(self) -> Iterable[tuple[Key, Mapping]]:
        found: Iterable[tuple[Key, Mapping]] = self._rows.items()
        return found

    def isdisjoint(self, keys: Iterable[Key]) -> bool:
        """Whether none of keys is stored (one C loop)."""
        return dict.keys(self._rows).isdisjoint(keys)

    def all_present(self, keys: Iterable[Key]) -> bool:
        return all(map(self._rows.__contains__, keys))

    def all_enabled(self, keys: Iterable[Key]) -> bool:
        """Whether every one of keys (all stored) is an enabled mapping."""
        return all(map(_IS_ENABLED, map(self._rows.__getitem__, keys)))

    def __setitem__(self, key: Key, mapping: Mapping) -> None:
        if key not in self._rows:
            station_id, central_system_id = key
            stations = self._stations_by_central_system.get(central_system_id)
            if stations is None:
                self._stations_by_central_system[central_system_id] = SortedList([station_id])
            else:
                stations.add(station_id)
        self._rows[key] = mapping

    def __delitem__(self, key: Key) -> None:
        del self._rows[key]
        station_id, central_system_id = key
        stations = self._stations_by_central_system[central_system_id]
        stations.remove(station_id)
        if not stations:
            del self._stations_by_central_system[central_system_id]

    def pop(self, key: Key, default: Mapping | None = None) -> Mapping | None:
        found = self.get(key)
        if found is not None:
            del self[key]
        return found if found is not None else default

    def update(self, pairs: MappingABC[Key, Mapping] | Iterable[tuple[Key, Mapping]]) -> None:
        """Store many mappings in one step: one sort, not one insert each."""
        batch: dict[Key, Mapping] = dict(pairs)
        added: dict[int, list[str]] = {}
        for station_id, central_system_id in filterfalse(self._rows.__contains__, batch) if self._rows else batch:
            added.setdefault(central_system_id, []).append(station_id)
        self._rows.update(batch)
        for central_system_id, station_ids in added.items():
            stations = self._stations_by_central_system.get(central_system_id)
            if stations is None:
                self._stations_by_central_system[central_system_id] = SortedList(station_ids)
            else:
                stations.update(station_ids)

    def stations_of(self, central_system_id: int) -> SortedList:
        """The station ids mapped to a central system, sorted; do not modify."""
        return self._stations_by_central_system.get(central_system_id, _NONE)
