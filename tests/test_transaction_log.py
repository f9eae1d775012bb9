"""The transaction history against a plain list, through adds, ends, batch
loads and pages of every filter: an index made on first read (a station's
transactions with one central system) stays in step with later writes."""

from __future__ import annotations

import random

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ocpp_broker_protos.reference import Store
from ocpp_broker_protos.reference.transaction_loading import row_of
from ocpp_broker_protos.transaction.v1.transaction_pb2 import Transaction

STATIONS = ["CP-A", "CP-B", "CP-C"]
CONNECTORS = ["1", "2"]
SYSTEMS = [1, 2, 3]
FILTERS = [
    (station, cs, active) for station in ["", *STATIONS, "CP-Z"] for cs in [0, *SYSTEMS, 9] for active in (False, True)
]


def _expected(model: dict[str, Transaction], station: str, cs: int, active: bool) -> list[str]:
    chosen = [
        t
        for t in model.values()
        if (not station or t.station_id == station)
        and (not cs or t.central_system_id == cs)
        and not (active and t.HasField("ended_at"))
    ]
    chosen.sort(key=lambda t: (-t.started_at.seconds, -t.started_at.nanos, t.id))
    return [t.id for t in chosen]


@pytest.mark.parametrize("seed", range(6))
def test_every_filter_matches_the_model_through_writes(seed):
    rng = random.Random(seed)
    store, model = Store(), dict[str, Transaction]()
    open_on: dict[tuple[str, str], str] = {}
    for step in range(120):
        roll = rng.random()
        if roll < 0.45:
            # New transactions, by add or by a batch load, some open.
            batch: list[Transaction] = []
            for n in range(rng.randint(1, 4)):
                station, connector = rng.choice(STATIONS), rng.choice(CONNECTORS)
                t = Transaction(
                    id=f"T{step:03d}-{n}",
                    station_id=station,
                    connector_id=connector,
                    central_system_id=rng.choice(SYSTEMS),
                    started_at=Timestamp(seconds=1_700_000_000 + rng.randrange(50), nanos=rng.choice([0, 7])),
                )
                if (
                    (station, connector) in open_on
                    or any(
                        b.station_id == station and b.connector_id == connector and not b.HasField("ended_at")
                        for b in batch
                    )
                    or rng.random() < 0.5
                ):
                    t.ended_at.CopyFrom(Timestamp(seconds=t.started_at.seconds + 100))
                batch.append(t)
            if rng.random() < 0.5:
                store.add_transactions(batch)
            else:
                with store.loading_transactions() as loading:
                    loading.add_rows(map(row_of, batch))
            for t in batch:
                model[t.id] = t
                if not t.HasField("ended_at"):
                    open_on[(t.station_id, t.connector_id)] = t.id
        elif roll < 0.6 and open_on:
            busy = rng.choice(sorted(open_on))
            ended = store.end_transaction(open_on.pop(busy), Timestamp(seconds=1_800_000_000))
            model[ended.id] = ended
        else:
            for station, cs, active in rng.sample(FILTERS, 6):
                page = store.transactions_page(limit=1000, station_id=station, central_system_id=cs, active_only=active)
                assert [t.id for t in page.transactions] == _expected(model, station, cs, active), (station, cs, active)
                assert page.total_count == len(page.transactions)
    for station, cs, active in FILTERS:
        page = store.transactions_page(limit=1000, station_id=station, central_system_id=cs, active_only=active)
        assert list(page.transactions) == [model[i] for i in _expected(model, station, cs, active)]
