"""A built-in, realistic demo data set, the same on every run and machine.

A fixed seed drives every choice, and times count back from a fixed instant,
so two servers started with ``--demo`` answer every call identically.
"""

from __future__ import annotations

import random
import uuid

from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos.reference.store import Store
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction

SEED = 20260101
#: 2026-10-01T00:00:00Z: the demo's "now"; every transaction starts before it.
NOW = 1_790_812_800

CENTRAL_SYSTEMS = (
    ("Northwind CSMS", "wss://csms.northwind.example/ocpp", "Primary operator back end"),
    ("Voltaic Cloud", "wss://ocpp.voltaic.example/ws", "Roaming partner, observes most stations"),
    ("City Charging Ops", "ws://city-ops.example:9000/ocpp", "Municipal chargers, plain ws inside the city network"),
)
SITES = ("HARBOUR", "MALL", "DEPOT", "CAMPUS")
STATIONS_PER_SITE = 9  # 36 stations


def demo_store(seed: int = SEED, store: Store | None = None) -> Store:
    """The demo data set, in a new store or added to the given (empty) one."""
    rng = random.Random(seed)
    store = Store() if store is None else store
    ids = [store.create_central_system(*cs).id for cs in CENTRAL_SYSTEMS]
    stations = [f"{site}-CP-{n:03d}" for site in SITES for n in range(1, STATIONS_PER_SITE + 1)]
    for station in stations:
        served_by = rng.sample(ids, k=rng.choice((1, 2, 2, 3)))
        for rank, cs_id in enumerate(served_by):
            master = rank == 0
            enabled = master or rng.random() < 0.8
            store.create_mapping(station, cs_id, weight=100 - 10 * rank, is_master=master, is_enabled=enabled)
            if enabled and rng.random() < 0.85:
                store.create_connection(cs_id, station)
                if rng.random() < 0.1:
                    store.disconnect_station(cs_id, station)
    masters = {m.station_id: m.central_system_id for m in store.list_mappings() if m.is_master}
    for station in stations:
        for connector in range(1, rng.choice((2, 2, 4)) + 1):
            _add_sessions(store, rng, station, str(connector), masters[station])
    return store


def _add_sessions(store: Store, rng: random.Random, station: str, connector: str, cs_id: int) -> None:
    """A connector's history: sessions one after another up to NOW; one that
    runs past NOW is still open."""
    start = NOW - 90 * 86_400 + rng.randrange(0, 86_400)
    while start < NOW:
        duration = rng.randrange(600, 8 * 3600)
        transaction = Transaction(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            station_id=station,
            connector_id=connector,
            central_system_id=cs_id,
            started_at=Timestamp(seconds=start, nanos=rng.randrange(0, 1000) * 1_000_000),
        )
        if start + duration < NOW:
            transaction.ended_at.CopyFrom(Timestamp(seconds=start + duration))
        store.add_transaction(transaction)
        start += duration + rng.randrange(1800, 2 * 86_400)
