"""Walks with page tokens while others write: every stable item exactly once.

The contract's guarantee: during a walk with tokens, every item that exists
for the whole walk and keeps its sort key is returned exactly once, no item is
returned twice, and items created or deleted meanwhile may or may not appear.
Walkers page through every list over a real channel at small page sizes while
writer threads create and delete items whose keys interleave with the stable
ones (so every page boundary moves under the walkers), and flip the state of
stable items without changing their keys.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos.connection.v1.connection_pb2 import WORKER_VIEW_BASIC, WORKER_VIEW_FULL
from ocpp_broker_protos.reference import ReferenceServer, Store
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction
from tests.paged_lists import (
    CENTRAL_SYSTEMS,
    MAPPINGS,
    TRANSACTIONS,
    WORKER_CONNECTIONS,
    WORKERS,
    PagedList,
    items_of,
    walk,
)

STATIONS = 400  # even ones stable, odd ones churned
CENTRAL_SYSTEM_PAIRS = 30  # odd ids stable, even ids churned
WALKS_PER_LIST = 3
HUB = 1  # the stable central system every station maps to
PAUSE = 0.002  # seconds between two writes of one writer
MAX_PAGES = 5000  # a walk longer than this is stuck


def station(n: int) -> str:
    return f"CP-{n:04d}"


def build(store: Store) -> dict[str, set[Any]]:
    """The starting state; returns the stable keys of each list."""
    for n in range(2 * CENTRAL_SYSTEM_PAIRS):
        store.create_central_system(f"CS-{n}", "wss://cs.example/ocpp")
    stable_cs = {cs.id for cs in store.list_central_systems() if cs.id % 2 == 1}
    for n in range(STATIONS):
        store.create_mapping(station(n), HUB, is_enabled=True)
        store.create_connection(HUB, station(n))
        if n % 2 == 0:
            store.create_mapping(station(n), 3)
    transactions = [_transaction(f"OLD-{n:05d}", 1_700_000_000 + n * 37) for n in range(1500)]
    store.add_transactions(transactions)
    return {
        "central_systems": {(i,) for i in stable_cs},
        "workers": {(i,) for i in stable_cs},
        "mappings": {(station(n), HUB) for n in range(0, STATIONS, 2)}
        | {(station(n), 3) for n in range(0, STATIONS, 2)},
        "mappings_of_hub": {(station(n), HUB) for n in range(0, STATIONS, 2)},
        "worker_connections": {(station(n),) for n in range(0, STATIONS, 2)},
        "transactions": {TRANSACTIONS.key(t) for t in transactions},
    }


def _transaction(transaction_id: str, seconds: int) -> Transaction:
    return Transaction(
        id=transaction_id,
        station_id="CP-0000",
        connector_id=transaction_id,
        central_system_id=HUB,
        started_at=Timestamp(seconds=seconds),
        ended_at=Timestamp(seconds=seconds + 60),
    )


class Writers:
    """Threads that churn items between (and around) the stable ones."""

    def __init__(self, store: Store, stable_central_systems: set[int]) -> None:
        self.store = store
        self.stable_central_systems = stable_central_systems
        self.stop = threading.Event()
        self.figures: Counter[str] = Counter()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._run, args=(work,), daemon=True)
            for work in (self._central_systems, self._stations, self._stations, self._states, self._transactions)
        ]

    def _run(self, work: Callable[[random.Random], None]) -> None:
        rng = random.Random(hash(work.__name__))
        try:
            # A pause per write keeps the churn below the walkers' pace, so a
            # walk at the tail of a growing list still reaches its end.
            while not self.stop.wait(PAUSE):
                work(rng)
        except BaseException as error:  # surfaced by the test, not lost in a thread
            self.errors.append(error)

    def _central_systems(self, rng: random.Random) -> None:
        # Delete a churned central system (at first the even ids, between the
        # stable ones) and create another: ids only grow, so new ones land
        # after the rest, and the count stays put.
        churned = [cs.id for cs in self.store.list_central_systems() if cs.id not in self.stable_central_systems]
        if churned:
            self.store.delete_central_system(rng.choice(churned), force=True)
        self.store.create_central_system(f"NEW-{self.figures['central systems']}", "wss://cs.example/ocpp")
        self.figures["central systems"] += 2

    def _stations(self, rng: random.Random) -> None:
        # An odd station's mapping (and connection) to the hub comes and goes.
        n = rng.randrange(1, STATIONS, 2)
        with self.store._lock:  # create-or-delete decided atomically
            if self.store._mappings.get((station(n), HUB)) is None:
                self.store.create_mapping(station(n), HUB, is_enabled=True)
                self.store.create_connection(HUB, station(n))
            else:
                self.store.delete_mapping(station(n), HUB)
        self.figures["mapping churn"] += 1

    def _states(self, rng: random.Random) -> None:
        # Stable items change state, never key.
        n = rng.randrange(0, STATIONS, 2)
        if rng.random() < 0.5:
            self.store.disconnect_station(HUB, station(n))
        else:
            self.store.recreate_connection(HUB, station(n))
        self.store.update_mapping(station(n), 3, rng.randrange(10), False, True)
        self.figures["state flips"] += 1

    def _transactions(self, rng: random.Random) -> None:
        # New transactions land everywhere in the order, newest first included.
        n = self.figures["transactions"]
        self.store.add_transaction(_transaction(f"NEW-{n:06d}", 1_700_000_000 + rng.randrange(-1000, 70_000)))
        self.figures["transactions"] += 1

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


# (name of the stable set, list, filters)
WALKS: list[tuple[str, PagedList, dict[str, Any]]] = [
    ("central_systems", CENTRAL_SYSTEMS, {}),
    ("workers", WORKERS, {"view": WORKER_VIEW_BASIC}),
    ("workers", WORKERS, {"view": WORKER_VIEW_FULL}),
    ("mappings", MAPPINGS, {}),
    ("mappings_of_hub", MAPPINGS, {"central_system_id": HUB}),
    ("worker_connections", WORKER_CONNECTIONS, {"central_system_id": HUB}),
    ("transactions", TRANSACTIONS, {}),
    ("transactions", TRANSACTIONS, {"station_id": "CP-0000"}),
]


@pytest.fixture
def server():
    with ReferenceServer() as running:
        yield running


def test_every_stable_item_exactly_once_while_others_write(server, figure):
    stable = build(server.store)
    figures: Counter[str] = Counter()
    rng = random.Random(5)
    with (
        grpc.insecure_channel(server.target) as channel,
        Writers(server.store, {i for (i,) in stable["central_systems"]}) as writers,
    ):
        for _ in range(WALKS_PER_LIST):
            for name, paged, filters in WALKS:
                page_size = rng.choice((1, 3, 7, 50)) if paged is not TRANSACTIONS else rng.choice((50, 200))
                responses = walk(channel, paged, page_size, max_pages=MAX_PAGES, **filters)
                keys = [paged.key(item) for item in items_of(paged, responses)]
                assert keys == sorted(keys), f"{paged.name} {filters}: out of order"
                duplicates = len(keys) - len(set(keys))
                missed = stable[name] - set(keys)
                assert (duplicates, len(missed)) == (0, 0), (paged.name, filters, duplicates, sorted(missed)[:5])
                figures["walks"] += 1
                figures["pages"] += len(responses)
                figures["stable items checked"] += len(stable[name])
    assert not writers.errors, writers.errors
    # The writers really raced the walkers.
    assert writers.figures["mapping churn"] > 100, writers.figures
    assert writers.figures["transactions"] > 100, writers.figures
    figure(
        f"paging under writes: {figures['walks']} walks, {figures['pages']} pages, "
        f"{figures['stable items checked']} stable items checked, 0 duplicates, 0 misses; "
        f"writers: {dict(writers.figures)}"
    )
