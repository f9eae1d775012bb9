"""An obviously-correct model of the admin API's mutable state.

Plain dicts and the contract's rules written out one by one, in the order the
contract's precedence puts them: malformed arguments first (a bad update mask
before bad field values), then what is addressed but missing, then conflicts
and preconditions. The inputs the stateful test draws come from small pools
whose validity is known up front, so the model needs no validator of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK = "OK"
INVALID = "INVALID_ARGUMENT"

VALID_NAMES = ("Alpha", "Bravo", "Charlie", "Ünï 🚗")
INVALID_NAMES = ("", "   ")
VALID_URLS = ("wss://a.example/ocpp", "ws://10.1.2.3:9000/x?y=1")
INVALID_URLS = ("", "http://a.example", "wss://u:p@a.example")
VALID_STATIONS = ("CP-1", "cp.3@x")
INVALID_STATIONS = ("", "bad id")
CS_FIELDS = ("name", "websocket_url", "description")
MAPPING_FIELDS = ("weight", "is_master", "is_enabled")
VIEWS = (0, 1, 2)  # WorkerView: unspecified (= full), basic, full
BASIC_VIEW = 1
LISTS = ("central_systems", "mappings", "workers", "worker_connections")

Outcome = tuple[str, str, Any]  # (code name, reason or "", body or None)


def ok(body: Any = None) -> Outcome:
    return (OK, "", body)


def err(code: str, reason: str) -> Outcome:
    return (code, reason, None)


@dataclass
class Model:
    central_systems: dict[int, dict[str, str]] = field(default_factory=dict)
    mappings: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    connections: dict[tuple[int, str], bool] = field(default_factory=dict)
    ids_seen: set[int] = field(default_factory=set)

    # -- helpers ---------------------------------------------------------

    @staticmethod
    def paths(mask: list[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...] | None:
        """The replaced fields, or None when the mask is bad."""
        if not mask or mask == ["*"]:
            return allowed
        if any(p not in allowed for p in mask):
            return None
        return tuple(p for p in allowed if p in mask)

    def name_owner(self, name: str) -> int | None:
        return next((i for i, cs in self.central_systems.items() if cs["name"] == name), None)

    def enabled_master(self, station: str, other_than: int) -> bool:
        return any(
            s == station and c != other_than and m["is_master"] and m["is_enabled"]
            for (s, c), m in self.mappings.items()
        )

    # -- central systems -------------------------------------------------

    def create_central_system(self, name: str, url: str, description: str) -> Outcome:
        if name not in VALID_NAMES or url not in VALID_URLS:
            return err(INVALID, "INVALID_FIELD")
        if self.name_owner(name) is not None:
            return err("ALREADY_EXISTS", "CENTRAL_SYSTEM_ALREADY_EXISTS")
        return ok({"name": name, "websocket_url": url, "description": description})

    def record_central_system(self, cs_id: int, body: dict[str, str]) -> None:
        self.central_systems[cs_id] = dict(body)
        self.ids_seen.add(cs_id)

    def update_central_system(
        self, cs_id: int, name: str, url: str, description: str, mask: list[str] | None
    ) -> Outcome:
        paths = self.paths(mask, CS_FIELDS)
        if paths is None:
            return err(INVALID, "INVALID_UPDATE_MASK")
        bad = (
            cs_id <= 0
            or ("name" in paths and name not in VALID_NAMES)
            or ("websocket_url" in paths and url not in VALID_URLS)
        )
        if bad:
            return err(INVALID, "INVALID_FIELD")
        if cs_id not in self.central_systems:
            return err("NOT_FOUND", "CENTRAL_SYSTEM_NOT_FOUND")
        if "name" in paths and self.name_owner(name) not in (None, cs_id):
            return err("ALREADY_EXISTS", "CENTRAL_SYSTEM_ALREADY_EXISTS")
        new = {"name": name, "websocket_url": url, "description": description}
        for p in paths:
            self.central_systems[cs_id][p] = new[p]
        return ok(dict(self.central_systems[cs_id]))

    def delete_central_system(self, cs_id: int, force: bool) -> Outcome:
        if cs_id <= 0:
            return err(INVALID, "INVALID_FIELD")
        if cs_id not in self.central_systems:
            return err("NOT_FOUND", "CENTRAL_SYSTEM_NOT_FOUND")
        used = any(c == cs_id for _, c in self.mappings) or any(c == cs_id for c, _ in self.connections)
        if used and not force:
            return err("FAILED_PRECONDITION", "CENTRAL_SYSTEM_IN_USE")
        self.mappings = {k: v for k, v in self.mappings.items() if k[1] != cs_id}
        self.connections = {k: v for k, v in self.connections.items() if k[0] != cs_id}
        del self.central_systems[cs_id]
        return ok()

    # -- mappings --------------------------------------------------------

    def create_mapping(self, station: str, cs_id: int, weight: int, master: bool, enabled: bool) -> Outcome:
        if station not in VALID_STATIONS or cs_id <= 0 or weight < 0:
            return err(INVALID, "INVALID_FIELD")
        if cs_id not in self.central_systems:
            return err("FAILED_PRECONDITION", "UNKNOWN_CENTRAL_SYSTEM")
        if (station, cs_id) in self.mappings:
            return err("ALREADY_EXISTS", "MAPPING_ALREADY_EXISTS")
        if master and enabled and self.enabled_master(station, cs_id):
            return err("FAILED_PRECONDITION", "SECOND_ENABLED_MASTER")
        self.mappings[(station, cs_id)] = {"weight": weight, "is_master": master, "is_enabled": enabled}
        return ok(dict(self.mappings[(station, cs_id)]))

    def update_mapping(
        self, station: str, cs_id: int, weight: int, master: bool, enabled: bool, mask: list[str] | None
    ) -> Outcome:
        paths = self.paths(mask, MAPPING_FIELDS)
        if paths is None:
            return err(INVALID, "INVALID_UPDATE_MASK")
        if station not in VALID_STATIONS or cs_id <= 0 or ("weight" in paths and weight < 0):
            return err(INVALID, "INVALID_FIELD")
        if (station, cs_id) not in self.mappings:
            return err("NOT_FOUND", "MAPPING_NOT_FOUND")
        result = dict(self.mappings[(station, cs_id)])
        new = {"weight": weight, "is_master": master, "is_enabled": enabled}
        for p in paths:
            result[p] = new[p]
        if result["is_master"] and result["is_enabled"] and self.enabled_master(station, cs_id):
            return err("FAILED_PRECONDITION", "SECOND_ENABLED_MASTER")
        self.mappings[(station, cs_id)] = result
        if not result["is_enabled"] and (cs_id, station) in self.connections:
            self.connections[(cs_id, station)] = False
        return ok(dict(result))

    def delete_mapping(self, station: str, cs_id: int) -> Outcome:
        if station not in VALID_STATIONS or cs_id <= 0:
            return err(INVALID, "INVALID_FIELD")
        if (station, cs_id) not in self.mappings:
            return err("NOT_FOUND", "MAPPING_NOT_FOUND")
        del self.mappings[(station, cs_id)]
        self.connections.pop((cs_id, station), None)
        return ok()

    # -- connections -----------------------------------------------------

    def _enabled(self, station: str, cs_id: int) -> bool:
        mapping = self.mappings.get((station, cs_id))
        return mapping is not None and mapping["is_enabled"]

    def create_connection(self, cs_id: int, station: str) -> Outcome:
        if cs_id <= 0 or station not in VALID_STATIONS:
            return err(INVALID, "INVALID_FIELD")
        if cs_id not in self.central_systems:
            return err("NOT_FOUND", "CENTRAL_SYSTEM_NOT_FOUND")
        if not self._enabled(station, cs_id):
            return err("FAILED_PRECONDITION", "NO_ENABLED_MAPPING")
        if (cs_id, station) in self.connections:
            return err("ALREADY_EXISTS", "CONNECTION_ALREADY_EXISTS")
        self.connections[(cs_id, station)] = True
        return ok(True)

    def recreate_connection(self, cs_id: int, station: str) -> Outcome:
        if cs_id <= 0 or station not in VALID_STATIONS:
            return err(INVALID, "INVALID_FIELD")
        if (cs_id, station) not in self.connections:
            return err("NOT_FOUND", "CONNECTION_NOT_FOUND")
        if not self._enabled(station, cs_id):
            return err("FAILED_PRECONDITION", "NO_ENABLED_MAPPING")
        self.connections[(cs_id, station)] = True
        return ok(True)

    def disconnect_station(self, cs_id: int, station: str) -> Outcome:
        if cs_id <= 0 or station not in VALID_STATIONS:
            return err(INVALID, "INVALID_FIELD")
        if (cs_id, station) not in self.connections:
            return err("NOT_FOUND", "CONNECTION_NOT_FOUND")
        self.connections[(cs_id, station)] = False
        return ok(False)

    # -- lists, page by page ----------------------------------------------

    def list_rows(self, which: str, page_size: int, bogus_token: bool, **filters: Any) -> Outcome:
        """Everything a walk with tokens returns, in order, or the first page's error.

        Errors come in the contract's order: bad fields, then the token, then
        what is addressed but missing."""
        station, cs, view = filters.get("station_id", ""), filters.get("central_system_id", 0), filters.get("view", 0)
        bad = (
            page_size < 0
            or {
                "central_systems": False,
                "mappings": (station and station not in VALID_STATIONS) or cs < 0,
                "workers": view not in VIEWS,
                "worker_connections": cs <= 0,
            }[which]
        )
        if bad:
            return err(INVALID, "INVALID_FIELD")
        if bogus_token:
            return err(INVALID, "INVALID_PAGE_TOKEN")
        if which == "worker_connections" and cs not in self.central_systems:
            return err("NOT_FOUND", "CENTRAL_SYSTEM_NOT_FOUND")
        return ok(self.rows(which, station, cs, view))

    def rows(self, which: str, station: str, cs: int, view: int) -> list[tuple[Any, ...]]:
        if which == "central_systems":
            return [
                (i, c["name"], c["websocket_url"], c["description"]) for i, c in sorted(self.central_systems.items())
            ]
        if which == "mappings":
            return [
                (s, c, m["weight"], m["is_master"], m["is_enabled"])
                for (s, c), m in sorted(self.mappings.items())
                if station in ("", s) and cs in (0, c)
            ]
        if which == "worker_connections":
            return [(s, c, up) for (c, s), up in sorted(self.connections.items()) if c == cs]
        workers = []
        for i, central_system in sorted(self.central_systems.items()):
            held = [(s, c, up) for (c, s), up in sorted(self.connections.items()) if c == i]
            workers.append((i, central_system["name"], len(held), () if view == BASIC_VIEW else tuple(held)))
        return workers
