"""A server too big for any unbounded list is walked completely by a default client.

150,000 stations, two mappings and two connections each: the whole mapping
list, the full workers and even one worker's connections exceed the 4 MiB a
default gRPC client accepts, while pages of at most 1000 items walk through
all of it.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from ocpp_broker_protos.connection.v1.connection_pb2 import WORKER_VIEW_BASIC
from ocpp_broker_protos.reference import ReferenceServer, Store
from tests.fleet import build_fleet, station
from tests.paged_lists import CENTRAL_SYSTEMS, MAPPINGS, WORKER_CONNECTIONS, WORKERS, PagedList, items_of, walk

STATIONS = 150_000


@pytest.fixture(scope="module")
def fleet():
    store = Store()
    ids = build_fleet(store, STATIONS)
    with ReferenceServer(store=store) as server, grpc.insecure_channel(server.target) as channel:
        yield server, channel, ids


def walk_keys(channel: grpc.Channel, paged: PagedList, **filters: Any) -> list[tuple[Any, ...]]:
    responses = walk(channel, paged, 1000, **filters)
    assert all(len(getattr(r, paged.items)) == 1000 for r in responses[:-1])
    return [paged.key(item) for item in items_of(paged, responses)]


def test_the_unbounded_lists_exceed_a_default_client(fleet):
    _, channel, ids = fleet
    # The smallest of them, so the others (the full workers, all mappings)
    # are over the limit too.
    with pytest.raises(grpc.RpcError) as raised:
        WORKER_CONNECTIONS.call(channel, central_system_id=ids[0])
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_every_list_is_walked_completely_by_a_default_client(fleet):
    _, channel, ids = fleet
    assert walk_keys(channel, CENTRAL_SYSTEMS) == [(i,) for i in ids]
    workers = items_of(WORKERS, walk(channel, WORKERS, 1000, view=WORKER_VIEW_BASIC))
    assert [(w.central_system_id, w.connections_count, len(w.connections)) for w in workers] == [
        (i, STATIONS, 0) for i in ids
    ]
    expected_stations = [(station(n),) for n in range(STATIONS)]
    for cs in ids:
        assert walk_keys(channel, WORKER_CONNECTIONS, central_system_id=cs) == expected_stations
    mapping_keys = walk_keys(channel, MAPPINGS)
    assert len(mapping_keys) == 2 * STATIONS
    assert mapping_keys == [(station(n), cs) for n in range(STATIONS) for cs in ids]
