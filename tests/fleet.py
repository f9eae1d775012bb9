"""A production-size fleet, built through the store's batch methods.

Station ids are 20 characters, as real OCPP identities often are, so a fleet
of 150,000 stations puts every unbounded list over a default gRPC client's
4 MiB limit: one worker's connections alone come to about 4.3 MB.
"""

from __future__ import annotations

from ocpp_broker_protos.connection.v1.connection_pb2 import ConnectionInfo
from ocpp_broker_protos.mapping.v1.mapping_pb2 import Mapping
from ocpp_broker_protos.reference import Store

CENTRAL_SYSTEMS = ("Fleet primary", "Fleet roaming")


def station(n: int) -> str:
    return f"DE-BERLIN-CP-{n:07d}"


def build_fleet(store: Store, stations: int) -> list[int]:
    """Two central systems; each station mapped to both (the first as
    master) and connected to both. Returns the central system ids."""
    ids = [store.create_central_system(name, f"wss://cs{n}.example/ocpp").id for n, name in enumerate(CENTRAL_SYSTEMS)]
    names = [station(n) for n in range(stations)]
    store.add_mappings(
        Mapping(station_id=s, central_system_id=cs, weight=10 - rank, is_master=rank == 0, is_enabled=True)
        for s in names
        for rank, cs in enumerate(ids)
    )
    store.add_connections(
        ConnectionInfo(station_id=s, central_system_id=cs, connected=True) for s in names for cs in ids
    )
    return ids
