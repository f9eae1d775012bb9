"""The reference server's state: one store, one lock, copies handed out.

Every rule of the contract lives here, so the servicers stay thin and the
fixture loader and the Python API get exactly the behaviour a client sees.
Methods raise :class:`~ocpp_broker_protos.reference.errors.ApiError`.
"""

from __future__ import annotations

import threading
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import compress
from operator import attrgetter
from typing import Any, Protocol, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sortedcontainers import SortedDict

from ocpp_broker_protos.central_system.v1.central_system_pb2 import CentralSystem
from ocpp_broker_protos.connection.v1.connection_pb2 import WORKER_VIEW_BASIC, ConnectionInfo, WorkerInfo
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.reference import errors, paging, transaction_loading, validation
from ocpp_broker_protos.reference.errors import FieldViolation
from ocpp_broker_protos.reference.mapping_table import MappingTable
from ocpp_broker_protos.reference.paging import Cursor, Page
from ocpp_broker_protos.reference.transactions import TransactionLog
from ocpp_broker_protos.transaction.v1.transaction_pb2 import (
    GetAllTransactionsResponse,
    Transaction,
)

DEFAULT_PAGE_SIZE = paging.TRANSACTIONS.default_size
MAX_PAGE_SIZE = paging.MAX_PAGE_SIZE
CENTRAL_SYSTEM_FIELDS = ("name", "websocket_url", "description")
MAPPING_FIELDS = ("weight", "is_master", "is_enabled")
# Fields of the update requests that address the object and never change.
CENTRAL_SYSTEM_KEY = ("id",)
MAPPING_KEY = ("station_id", "central_system_id")
# Station ids are ASCII, so this sorts after every one of them.
_AFTER_ANY_STATION = "\U0010ffff"


class ConnectionRecord(Protocol):
    """What add_connections reads of a connection: a ConnectionInfo, or any
    object with these three attributes."""

    @property
    def station_id(self) -> str: ...

    @property
    def central_system_id(self) -> int: ...

    @property
    def connected(self) -> bool: ...


_STATION_ID, _CENTRAL_SYSTEM_ID = attrgetter("station_id"), attrgetter("central_system_id")
_WEIGHT, _CONNECTED = attrgetter("weight"), attrgetter("connected")


def _mask(paths: Sequence[str] | None, allowed: tuple[str, ...], immutable: tuple[str, ...]) -> tuple[str, ...]:
    """The fields an update replaces; no mask, an empty one or `*` alone mean all.

    A rejected mask gets one violation per bad path, saying what is wrong
    with it: a field that can never change, a name that is no field, or `*`
    next to other paths.
    """
    if not paths or list(paths) == ["*"]:
        return allowed
    choices = ", ".join(allowed)
    problems = []
    for path in dict.fromkeys(paths):
        if path == "*":
            problems.append(
                f"path '*' means every mutable field, so it must be the only path; or list some of: {choices}"
            )
        elif path in immutable:
            problems.append(f"path {path!r} names a field that cannot be changed; mutable fields: {choices}")
        elif path not in allowed:
            problems.append(f"path {path!r} is not a field of the request; mutable fields: {choices}")
    if problems:
        raise errors.invalid(
            [FieldViolation("update_mask", problem) for problem in problems], reason=errors.INVALID_UPDATE_MASK
        )
    return tuple(p for p in allowed if p in paths)


def _raise_if(violations: Iterable[FieldViolation]) -> None:
    found = list(violations)
    if found:
        raise errors.invalid(found)


class Store:
    """All state of the reference server, guarded by one lock."""

    #: GetAllTransactions' page size when its limit is 0, and the largest page served.
    default_page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything, as if freshly constructed."""
        with self._lock:
            self._next_id = 1
            self._central_systems: SortedDict[int, CentralSystem] = SortedDict()
            self._names: dict[str, int] = {}
            # (station_id, central_system_id) -> Mapping, and by central system
            self._mappings = MappingTable()
            # (central_system_id, station_id) -> connected
            self._connections: SortedDict[tuple[int, str], bool] = SortedDict()
            self._transactions = TransactionLog()

    # -- central systems -------------------------------------------------

    def _central_system(self, central_system_id: int) -> CentralSystem:
        found: CentralSystem | None = self._central_systems.get(central_system_id)
        if found is None:
            raise errors.not_found(
                errors.CENTRAL_SYSTEM_NOT_FOUND,
                f"central system {central_system_id} not found",
                central_system_id=str(central_system_id),
            )
        return found

    def _check_name_free(self, name: str, owner: int | None = None) -> None:
        holder = self._names.get(name)
        if holder is not None and holder != owner:
            raise errors.already_exists(
                errors.CENTRAL_SYSTEM_ALREADY_EXISTS,
                f"central system name {name!r} is taken by central system {holder}",
                name=name,
            )

    def create_central_system(self, name: str, websocket_url: str, description: str = "") -> CentralSystem:
        _raise_if(
            [
                *validation.name(name),
                *validation.websocket_url(websocket_url),
                *validation.description(description),
            ]
        )
        with self._lock:
            self._check_name_free(name)
            if self._next_id > validation.INT32_MAX:
                raise errors.ApiError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    errors.CENTRAL_SYSTEM_IDS_EXHAUSTED,
                    "every int32 id has been used",
                )
            stored = CentralSystem(id=self._next_id, name=name, websocket_url=websocket_url, description=description)
            self._next_id += 1
            self._central_systems[stored.id] = stored
            self._names[name] = stored.id
            return _copy(stored)

    def add_central_system(self, central_system: CentralSystem) -> CentralSystem:
        """Insert a central system with a given id (fixtures); later ids follow it."""
        cs = central_system
        _raise_if(
            [
                *validation.positive_id(cs.id, "id"),
                *validation.name(cs.name),
                *validation.websocket_url(cs.websocket_url),
                *validation.description(cs.description),
            ]
        )
        with self._lock:
            if cs.id in self._central_systems:
                raise errors.already_exists(
                    errors.CENTRAL_SYSTEM_ALREADY_EXISTS, f"central system {cs.id} already exists"
                )
            self._check_name_free(cs.name)
            stored = _copy(cs)
            self._central_systems[cs.id] = stored
            self._names[cs.name] = cs.id
            self._next_id = max(self._next_id, cs.id + 1)
            return _copy(stored)

    def get_central_system(self, central_system_id: int) -> CentralSystem:
        _raise_if(validation.positive_id(central_system_id, "id"))
        with self._lock:
            return _copy(self._central_system(central_system_id))

    def list_central_systems(self) -> list[CentralSystem]:
        with self._lock:
            return [_copy(cs) for cs in self._central_systems.values()]

    def central_systems_page(self, page_size: int = 0, page_token: str = "") -> Page[CentralSystem]:
        """One page of ListCentralSystems; see the RPC's documentation."""
        _raise_if(paging.size_violations(page_size))
        cursor = paging.CENTRAL_SYSTEMS.cursor(page_size, page_token, ())
        if cursor.whole:
            found = self.list_central_systems()
            return Page(found, "", len(found))
        with self._lock:
            table = self._central_systems
            hi = len(table)
            start, stop = cursor.window(0, hi, table.bisect_right)
            items = [_copy(cs) for cs in table.values()[start:stop]]
            return cursor.page(items, stop, 0, hi, lambda: (items[-1].id,))

    def update_central_system(
        self,
        central_system_id: int,
        name: str,
        websocket_url: str,
        description: str,
        update_mask: Sequence[str] | None = None,
    ) -> CentralSystem:
        paths = _mask(update_mask, CENTRAL_SYSTEM_FIELDS, CENTRAL_SYSTEM_KEY)
        checks = {
            "name": validation.name(name),
            "websocket_url": validation.websocket_url(websocket_url),
            "description": validation.description(description),
        }
        _raise_if(
            [
                *validation.positive_id(central_system_id, "id"),
                *(v for p in paths for v in checks[p]),
            ]
        )
        new_values = {"name": name, "websocket_url": websocket_url, "description": description}
        with self._lock:
            stored = self._central_system(central_system_id)
            if "name" in paths:
                self._check_name_free(name, owner=central_system_id)
                del self._names[stored.name]
                self._names[name] = central_system_id
            for path in paths:
                setattr(stored, path, new_values[path])
            return _copy(stored)

    def delete_central_system(self, central_system_id: int, force: bool = False) -> None:
        _raise_if(validation.positive_id(central_system_id, "id"))
        with self._lock:
            stored = self._central_system(central_system_id)
            mappings = [(station, central_system_id) for station in self._mappings.stations_of(central_system_id)]
            connections = list(self._worker_keys(central_system_id))
            if (mappings or connections) and not force:
                raise errors.failed_precondition(
                    errors.CENTRAL_SYSTEM_IN_USE,
                    f"central system {central_system_id} is still referenced by "
                    f"{len(mappings)} mapping(s) and {len(connections)} connection(s); "
                    "delete them first or set force",
                    central_system_id=str(central_system_id),
                )
            for mapping_key in mappings:
                del self._mappings[mapping_key]
            for connection_key in connections:
                del self._connections[connection_key]
            del self._names[stored.name]
            del self._central_systems[central_system_id]

    # -- mappings --------------------------------------------------------

    def _station_mappings(self, station_id: str) -> Iterable[Mapping]:
        keys = self._mappings.irange((station_id, -1), (station_id, validation.INT32_MAX + 1))
        return [self._mappings[k] for k in keys]

    def _check_master_rule(self, candidate: Mapping) -> None:
        if not (candidate.is_master and candidate.is_enabled):
            return
        for other in self._station_mappings(candidate.station_id):
            if other.central_system_id != candidate.central_system_id and other.is_master and other.is_enabled:
                raise _second_master(candidate.station_id, other.central_system_id)

    def _mapping(self, station_id: str, central_system_id: int) -> Mapping:
        found: Mapping | None = self._mappings.get((station_id, central_system_id))
        if found is None:
            raise errors.not_found(
                errors.MAPPING_NOT_FOUND,
                f"mapping of station {station_id!r} to central system {central_system_id} not found",
                station_id=station_id,
                central_system_id=str(central_system_id),
            )
        return found

    def list_mappings(self, station_id: str = "", central_system_id: int = 0) -> list[Mapping]:
        _raise_if(self._mapping_filter_violations(station_id, central_system_id))
        cursor = paging.MAPPINGS.cursor(0, "", (station_id, central_system_id))
        with self._lock:
            return self._mappings_window(cursor, station_id, central_system_id).items

    def mappings_page(
        self, station_id: str = "", central_system_id: int = 0, page_size: int = 0, page_token: str = ""
    ) -> Page[Mapping]:
        """One page of GetAllMappings; see the RPC's documentation."""
        _raise_if([*self._mapping_filter_violations(station_id, central_system_id), *paging.size_violations(page_size)])
        cursor = paging.MAPPINGS.cursor(page_size, page_token, (station_id, central_system_id))
        if cursor.whole:
            found = self.list_mappings(station_id, central_system_id)
            return Page(found, "", len(found))
        with self._lock:
            return self._mappings_window(cursor, station_id, central_system_id)

    @staticmethod
    def _mapping_filter_violations(station_id: str, central_system_id: int) -> list[FieldViolation]:
        return [
            *validation.optional_station_id(station_id),
            *validation.non_negative(central_system_id, "central_system_id"),
        ]

    def _mappings_window(self, cursor: Cursor, station_id: str, central_system_id: int) -> Page[Mapping]:
        table = self._mappings
        if central_system_id and not station_id:
            # That central system's own sorted station ids: no scan of others.
            stations = table.stations_of(central_system_id)
            hi = len(stations)
            start, stop = cursor.window(0, hi, lambda station, _system: stations.bisect_right(station))
            items = [_copy(table[(station, central_system_id)]) for station in stations[start:stop]]
            return cursor.page(items, stop, 0, hi, lambda: (items[-1].station_id, central_system_id))
        if station_id:
            # One station's mappings, or the one mapping of both filters.
            first, last = (central_system_id, central_system_id) if central_system_id else (0, validation.INT32_MAX)
            lo, hi = table.bisect_left((station_id, first)), table.bisect_right((station_id, last))
        else:
            lo, hi = 0, len(table)
        start, stop = cursor.window(lo, hi, lambda station, system: table.bisect_right((station, system)))
        items = [_copy(table[key]) for key in table.islice(start, stop)]
        return cursor.page(items, stop, lo, hi, lambda: (items[-1].station_id, items[-1].central_system_id))

    def create_mapping(
        self,
        station_id: str,
        central_system_id: int,
        weight: int = 0,
        is_master: bool = False,
        is_enabled: bool = False,
    ) -> Mapping:
        """Create a mapping; like a CreateMapping request that leaves a field
        out, it is disabled, no master, weight 0 unless told otherwise."""
        _raise_if(
            [
                *validation.station_id(station_id),
                *validation.positive_id(central_system_id, "central_system_id"),
                *validation.non_negative(weight, "weight"),
            ]
        )
        mapping = Mapping(
            station_id=station_id,
            central_system_id=central_system_id,
            weight=weight,
            is_master=is_master,
            is_enabled=is_enabled,
        )
        with self._lock:
            self._admit_mapping(mapping, {})
            self._mappings[(station_id, central_system_id)] = mapping
            return _copy(mapping)

    def add_mappings(self, mappings: Iterable[Mapping], *, copy: bool = True) -> int:
        """Record many mappings at once, all or none; returns how many.

        Each is checked as CreateMapping checks it, against the stored
        mappings and the batch's earlier ones; the batch is then stored in
        one step, which makes large fleets (tests, benchmarks) quick to build.
        With copy=False the store keeps the given messages themselves (as the
        fixture loader does with the ones it makes): the caller must not
        change them afterwards.
        """
        batch = [_copy(m) for m in mappings] if copy else list(mappings)
        stations, systems = list(map(_STATION_ID, batch)), list(map(_CENTRAL_SYSTEM_ID, batch))
        # The whole batch in a few passes while all is well; mapping by
        # mapping, for the first one's precise violations, when not.
        if not (
            validation.all_station_ids(set(stations))
            and min(systems, default=1) > 0
            and min(map(_WEIGHT, batch), default=0) >= 0
        ):
            for m in batch:
                _raise_if(
                    [
                        *validation.station_id(m.station_id),
                        *validation.positive_id(m.central_system_id, "central_system_id"),
                        *validation.non_negative(m.weight, "weight"),
                    ]
                )
        keys = list(zip(stations, systems, strict=True))
        with self._lock:
            if not self._admits_mappings(batch, keys, systems):
                # Some rule fails: the first mapping that breaks one raises.
                pending: dict[tuple[str, int], Mapping] = {}
                masters: dict[str, int] = {}
                for m in batch:
                    self._admit_mapping(m, pending)
                    if m.is_master and m.is_enabled:
                        holder = masters.setdefault(m.station_id, m.central_system_id)
                        if holder != m.central_system_id:
                            raise _second_master(m.station_id, holder)
                    pending[(m.station_id, m.central_system_id)] = m
            self._mappings.update(zip(keys, batch, strict=True))
        return len(batch)

    def _admits_mappings(self, batch: list[Mapping], keys: list[tuple[str, int]], systems: list[int]) -> bool:
        """Whether every mapping of batch may join the stored ones and the
        batch's others, decided in a few passes; False when any may not."""
        if not (
            self._central_systems.keys() >= set(systems)
            and len(set(keys)) == len(keys)
            and self._mappings.isdisjoint(keys)
        ):
            return False
        active = [m for m in batch if m.is_master and m.is_enabled]
        if len({m.station_id for m in active}) != len(active):
            return False  # two enabled masters of one station (their keys differ)
        try:
            for m in active if len(self._mappings) else ():
                self._check_master_rule(m)
        except errors.ApiError:
            return False
        return True

    def _admit_mapping(self, mapping: Mapping, pending: dict[tuple[str, int], Mapping]) -> None:
        """Raise unless mapping may join the stored ones and the pending ones."""
        station_id, central_system_id = mapping.station_id, mapping.central_system_id
        if central_system_id not in self._central_systems:
            raise errors.failed_precondition(
                errors.UNKNOWN_CENTRAL_SYSTEM,
                f"cannot map station {station_id!r} to central system {central_system_id}: it does not exist",
                central_system_id=str(central_system_id),
            )
        key = (station_id, central_system_id)
        if key in self._mappings or key in pending:
            raise errors.already_exists(
                errors.MAPPING_ALREADY_EXISTS,
                f"station {station_id!r} is already mapped to central system {central_system_id}",
                station_id=station_id,
                central_system_id=str(central_system_id),
            )
        self._check_master_rule(mapping)

    def update_mapping(
        self,
        station_id: str,
        central_system_id: int,
        weight: int,
        is_master: bool,
        is_enabled: bool,
        update_mask: Sequence[str] | None = None,
    ) -> Mapping:
        paths = _mask(update_mask, MAPPING_FIELDS, MAPPING_KEY)
        _raise_if(
            [
                *validation.station_id(station_id),
                *validation.positive_id(central_system_id, "central_system_id"),
                *(validation.non_negative(weight, "weight") if "weight" in paths else []),
            ]
        )
        new_values: dict[str, Any] = {
            "weight": weight,
            "is_master": is_master,
            "is_enabled": is_enabled,
        }
        with self._lock:
            stored = self._mapping(station_id, central_system_id)
            result = _copy(stored)
            for path in paths:
                setattr(result, path, new_values[path])
            self._check_master_rule(result)
            stored.CopyFrom(result)
            key = (central_system_id, station_id)
            if not result.is_enabled and key in self._connections:
                self._connections[key] = False
            return _copy(stored)

    def delete_mapping(self, station_id: str, central_system_id: int) -> None:
        _raise_if(
            [
                *validation.station_id(station_id),
                *validation.positive_id(central_system_id, "central_system_id"),
            ]
        )
        with self._lock:
            self._mapping(station_id, central_system_id)
            del self._mappings[(station_id, central_system_id)]
            self._connections.pop((central_system_id, station_id), None)

    # -- workers and connections ----------------------------------------

    def _worker_keys(self, central_system_id: int) -> Iterable[tuple[int, str]]:
        return list(self._connections.irange((central_system_id, ""), (central_system_id, _AFTER_ANY_STATION)))

    def _worker_range(self, central_system_id: int) -> tuple[int, int]:
        """Positions of a worker's connections among all connections: O(log n)."""
        connections = self._connections
        return (
            connections.bisect_left((central_system_id, "")),
            connections.bisect_left((central_system_id, _AFTER_ANY_STATION)),
        )

    def _worker_connections(self, central_system_id: int) -> list[ConnectionInfo]:
        return [
            ConnectionInfo(station_id=station, central_system_id=cs, connected=self._connections[(cs, station)])
            for cs, station in self._worker_keys(central_system_id)
        ]

    def _worker(self, cs: CentralSystem) -> WorkerInfo:
        connections = self._worker_connections(cs.id)
        return WorkerInfo(
            central_system_id=cs.id,
            central_system_name=cs.name,
            connections_count=len(connections),
            connections=connections,
        )

    def _worker_in_view(self, cs: CentralSystem, view: int) -> WorkerInfo:
        if view != WORKER_VIEW_BASIC:
            return self._worker(cs)
        lo, hi = self._worker_range(cs.id)
        return WorkerInfo(central_system_id=cs.id, central_system_name=cs.name, connections_count=hi - lo)

    def list_workers(self) -> list[WorkerInfo]:
        with self._lock:
            return [self._worker(cs) for cs in self._central_systems.values()]

    def workers_page(self, page_size: int = 0, page_token: str = "", view: int = 0) -> Page[WorkerInfo]:
        """One page of ListWorkers; see the RPC's documentation."""
        _raise_if([*paging.size_violations(page_size), *validation.worker_view(view)])
        # Unspecified is the full view, so a token serves both spellings.
        basic = view == WORKER_VIEW_BASIC
        cursor = paging.WORKERS.cursor(page_size, page_token, (basic,))
        if cursor.whole and not basic:
            found = self.list_workers()
            return Page(found, "", len(found))
        with self._lock:
            table = self._central_systems
            hi = len(table)
            start, stop = cursor.window(0, hi, table.bisect_right)
            items = [self._worker_in_view(cs, view) for cs in table.values()[start:stop]]
            return cursor.page(items, stop, 0, hi, lambda: (items[-1].central_system_id,))

    def get_worker(self, central_system_id: int, view: int = 0) -> WorkerInfo:
        _raise_if([*validation.positive_id(central_system_id, "central_system_id"), *validation.worker_view(view)])
        with self._lock:
            return self._worker_in_view(self._central_system(central_system_id), view)

    def worker_connections(self, central_system_id: int) -> list[ConnectionInfo]:
        _raise_if(validation.positive_id(central_system_id, "central_system_id"))
        with self._lock:
            self._central_system(central_system_id)
            return self._worker_connections(central_system_id)

    def worker_connections_page(
        self, central_system_id: int, page_size: int = 0, page_token: str = ""
    ) -> Page[ConnectionInfo]:
        """One page of GetWorkerConnections; see the RPC's documentation."""
        _raise_if([*validation.positive_id(central_system_id, "central_system_id"), *paging.size_violations(page_size)])
        cursor = paging.WORKER_CONNECTIONS.cursor(page_size, page_token, (central_system_id,))
        if cursor.whole:
            found = self.worker_connections(central_system_id)
            return Page(found, "", len(found))
        with self._lock:
            self._central_system(central_system_id)
            connections = self._connections
            lo, hi = self._worker_range(central_system_id)
            start, stop = cursor.window(lo, hi, lambda station: connections.bisect_right((central_system_id, station)))
            items = [
                ConnectionInfo(station_id=station, central_system_id=cs, connected=connected)
                for (cs, station), connected in connections.items()[start:stop]
            ]
            return cursor.page(items, stop, lo, hi, lambda: (items[-1].station_id,))

    def _connection_args(self, central_system_id: int, station_id: str) -> None:
        _raise_if(
            [
                *validation.positive_id(central_system_id, "central_system_id"),
                *validation.station_id(station_id),
            ]
        )

    def _require_enabled_mapping(self, central_system_id: int, station_id: str) -> None:
        mapping = self._mappings.get((station_id, central_system_id))
        if mapping is None or not mapping.is_enabled:
            state = "no mapping" if mapping is None else "a disabled mapping"
            raise errors.failed_precondition(
                errors.NO_ENABLED_MAPPING,
                f"station {station_id!r} has {state} to central system {central_system_id}",
                station_id=station_id,
                central_system_id=str(central_system_id),
            )

    def _existing_connection(self, central_system_id: int, station_id: str) -> tuple[int, str]:
        key = (central_system_id, station_id)
        if key not in self._connections:
            raise errors.not_found(
                errors.CONNECTION_NOT_FOUND,
                f"station {station_id!r} has no connection to central system {central_system_id}",
                station_id=station_id,
                central_system_id=str(central_system_id),
            )
        return key

    def create_connection(self, central_system_id: int, station_id: str) -> ConnectionInfo:
        """Open a connection; the pair needs an enabled mapping."""
        self._connection_args(central_system_id, station_id)
        with self._lock:
            self._central_system(central_system_id)
            self._require_enabled_mapping(central_system_id, station_id)
            return self._insert_connection(central_system_id, station_id, connected=True)

    def add_connection(self, central_system_id: int, station_id: str, connected: bool = True) -> ConnectionInfo:
        """Open a connection, or (fixtures) record one already disconnected.

        A connected one needs an enabled mapping; a disconnected record only
        needs the mapping, enabled or not, as disabling leaves it behind.
        """
        if connected:
            return self.create_connection(central_system_id, station_id)
        self._connection_args(central_system_id, station_id)
        with self._lock:
            self._central_system(central_system_id)
            self._mapping(station_id, central_system_id)
            return self._insert_connection(central_system_id, station_id, connected=False)

    def _insert_connection(self, central_system_id: int, station_id: str, connected: bool) -> ConnectionInfo:
        key = (central_system_id, station_id)
        self._check_connection_free(key)
        self._connections[key] = connected
        return ConnectionInfo(station_id=station_id, central_system_id=central_system_id, connected=connected)

    def _check_connection_free(self, key: tuple[int, str], pending: Container[tuple[int, str]] = ()) -> None:
        if key in self._connections or key in pending:
            central_system_id, station_id = key
            raise errors.already_exists(
                errors.CONNECTION_ALREADY_EXISTS,
                f"station {station_id!r} already has a connection to central system {central_system_id}",
                station_id=station_id,
                central_system_id=str(central_system_id),
            )

    def add_connections(self, connections: Iterable[ConnectionRecord]) -> int:
        """Record many connections at once, all or none; returns how many.

        Each is checked as :meth:`add_connection` checks it, against the
        stored connections and the batch's earlier ones."""
        batch = list(connections)
        stations, systems = list(map(_STATION_ID, batch)), list(map(_CENTRAL_SYSTEM_ID, batch))
        # As add_mappings: in a few passes, or one by one for the first one's violations.
        if not (validation.all_station_ids(set(stations)) and min(systems, default=1) > 0):
            for c in batch:
                self._connection_args(c.central_system_id, c.station_id)
        connected = list(map(_CONNECTED, batch))
        keys = list(zip(systems, stations, strict=True))
        mapping_keys = list(zip(stations, systems, strict=True))
        with self._lock:
            if not (
                self._central_systems.keys() >= set(systems)
                and len(set(keys)) == len(keys)
                and dict.keys(self._connections).isdisjoint(keys)
                # A connected one needs an enabled mapping; any other, a mapping.
                and self._mappings.all_present(mapping_keys)
                and self._mappings.all_enabled(compress(mapping_keys, connected))
            ):
                # Some rule fails: the first connection that breaks one raises.
                pending: dict[tuple[int, str], bool] = {}
                for c in batch:
                    pending[self._admit_connection(c.central_system_id, c.station_id, c.connected, pending)] = True
            self._connections.update(zip(keys, connected, strict=True))
        return len(batch)

    def _admit_connection(
        self, central_system_id: int, station_id: str, connected: bool, pending: dict[tuple[int, str], bool]
    ) -> tuple[int, str]:
        """The new connection's key; raises unless it may join the stored and pending ones."""
        self._central_system(central_system_id)
        if connected:
            self._require_enabled_mapping(central_system_id, station_id)
        else:
            self._mapping(station_id, central_system_id)
        key = (central_system_id, station_id)
        self._check_connection_free(key, pending)
        return key

    def recreate_connection(self, central_system_id: int, station_id: str) -> ConnectionInfo:
        self._connection_args(central_system_id, station_id)
        with self._lock:
            key = self._existing_connection(central_system_id, station_id)
            self._require_enabled_mapping(central_system_id, station_id)
            self._connections[key] = True
            return ConnectionInfo(station_id=station_id, central_system_id=central_system_id, connected=True)

    def disconnect_station(self, central_system_id: int, station_id: str) -> ConnectionInfo:
        self._connection_args(central_system_id, station_id)
        with self._lock:
            key = self._existing_connection(central_system_id, station_id)
            self._connections[key] = False
            return ConnectionInfo(station_id=station_id, central_system_id=central_system_id, connected=False)

    # -- transactions ----------------------------------------------------

    def add_transaction(self, transaction: Transaction) -> Transaction:
        """Record a transaction (fixtures, tests); open while ``ended_at`` is unset."""
        with self._lock:
            self._transactions.add([transaction])
        return _copy(transaction)

    def add_transactions(self, transactions: Iterable[Transaction]) -> int:
        """Record many transactions at once, all or none; returns how many."""
        batch = list(transactions)
        with self._lock:
            self._transactions.add(batch)
        return len(batch)

    def end_transaction(self, transaction_id: str, ended_at: Timestamp) -> Transaction:
        """Close an open transaction (tests that watch `active_only` change)."""
        with self._lock:
            return self._transactions.end(transaction_id, ended_at)

    def transactions_page_encoded(
        self,
        limit: int = 0,
        offset: int = 0,
        station_id: str = "",
        central_system_id: int = 0,
        active_only: bool = False,
        page_token: str = "",
    ) -> bytes:
        """The serialized GetAllTransactionsResponse, straight from the stored bytes."""
        # The rules are only looked at when something may break one: this is
        # the list a client reads most, and most reads have no station filter.
        if station_id or not (limit >= 0 and offset >= 0 and central_system_id >= 0):
            _raise_if(
                [
                    *validation.non_negative(limit, "limit"),
                    *validation.non_negative(offset, "offset"),
                    *validation.optional_station_id(station_id),
                    *validation.non_negative(central_system_id, "central_system_id"),
                ]
            )
        cursor = paging.TRANSACTIONS.cursor(
            limit,
            page_token,
            (station_id, central_system_id, bool(active_only)),
            (self.default_page_size, self.max_page_size),
        )
        with self._lock:
            return self._transactions.page(cursor, offset, station_id, central_system_id, active_only)

    def transactions_page(
        self,
        limit: int = 0,
        offset: int = 0,
        station_id: str = "",
        central_system_id: int = 0,
        active_only: bool = False,
        page_token: str = "",
    ) -> GetAllTransactionsResponse:
        """One page, ordered by started_at descending then id; see the RPC's documentation."""
        return GetAllTransactionsResponse.FromString(
            self.transactions_page_encoded(limit, offset, station_id, central_system_id, active_only, page_token)
        )

    def transaction_count(self) -> int:
        with self._lock:
            return len(self._transactions)

    # -- bulk loading (fixture files) -------------------------------------

    @contextmanager
    def loading_transactions(self) -> Iterator[transaction_loading.Batch]:
        """A batch to fill with transactions, under the store's lock; they
        reach the store, all of them, when the block ends without an error.
        add_transactions' rules, at a fraction of its cost per transaction."""
        with self._lock:
            batch = transaction_loading.Batch(self._transactions)
            yield batch
            batch.commit()

    # -- whole state -----------------------------------------------------

    def replace_with(self, other: Store) -> None:
        """Take over other's whole state at once; other must not be used afterwards.

        The servicers of a running server hold this store, so new state is
        moved into it rather than swapping the store object. Every attribute
        but the lock is state, so one added to ``reset`` is carried too.
        """
        with self._lock, other._lock:
            for name, value in vars(other).items():
                if name != "_lock":
                    setattr(self, name, value)

    def snapshot(self) -> dict[str, list[bytes]]:
        """A comparable picture of the whole state, for tests that check a
        rejected request changed nothing."""
        with self._lock:
            return {
                "central_systems": [cs.SerializeToString() for cs in self._central_systems.values()],
                "mappings": [m.SerializeToString() for m in self._mappings.values()],
                "connections": [repr(item).encode() for item in self._connections.items()],
                "transactions": self._transactions.snapshot(),
                "next_id": [str(self._next_id).encode()],
            }


def _second_master(station_id: str, master_central_system_id: int) -> errors.ApiError:
    return errors.failed_precondition(
        errors.SECOND_ENABLED_MASTER,
        f"station {station_id!r} already has an enabled master: central system {master_central_system_id}",
        station_id=station_id,
        master_central_system_id=str(master_central_system_id),
    )


_M = TypeVar("_M", bound=Message)


def _copy(message: _M) -> _M:
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate
