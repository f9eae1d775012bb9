"""Many clients at once: no lost or phantom writes, invariants kept, no deadlock.

Each worker thread (and one asyncio client) owns a namespace of central
systems and stations, so the state it should find at the end follows from
the writes the server acknowledged to it, whatever the others did. Shared
stations add contention on the master rule across all of them.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from ocpp_broker_protos.conformance.kit import error_parts
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.connection.v1 import connection_pb2_grpc as conn_grpc
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2_grpc as map_grpc
from ocpp_broker_protos.reference import ReferenceServer, Store

THREADS = 8
OPS_PER_THREAD = 400
SHARED_STATIONS = ("SHARED-1", "SHARED-2")
DEADLINE = 120.0


class Client:
    """One worker: its own channel, its namespace, what it was told."""

    def __init__(self, target: str, index: int, shared_cs: list[int], figures: Counter[str]) -> None:
        self.channel = grpc.insecure_channel(target)
        self.cs = cs_grpc.CentralSystemServiceStub(self.channel)
        self.maps = map_grpc.MappingServiceStub(self.channel)
        self.conn = conn_grpc.ConnectionServiceStub(self.channel)
        self.rng = random.Random(index)
        self.prefix = f"T{index}"
        self.shared_cs = shared_cs
        self.figures = figures
        self.own_cs: dict[int, str] = {}
        self.mappings: dict[tuple[str, int], tuple[int, bool, bool]] = {}
        self.connections: dict[tuple[int, str], bool] = {}

    def call(self, method: Any, request: Any) -> Any:
        self.figures["calls"] += 1
        try:
            response = method(request, timeout=30)
        except grpc.RpcError as error:
            failure = error_parts(error)
        else:
            return response
        # Only the contract's refusals; anything else is a server fault.
        assert failure[0] in (
            grpc.StatusCode.ALREADY_EXISTS,
            grpc.StatusCode.FAILED_PRECONDITION,
            grpc.StatusCode.NOT_FOUND,
        ), failure
        self.figures["rejected"] += 1
        return None

    def run(self) -> None:
        for n in range(2):
            created = self.call(
                self.cs.CreateCentralSystem,
                cs_pb.CreateCentralSystemRequest(name=f"{self.prefix}-cs-{n}", websocket_url="wss://t.example"),
            )
            self.own_cs[created.central_system.id] = created.central_system.name
            self.figures["acknowledged writes"] += 1
        stations = [f"{self.prefix}-S{j}" for j in range(4)]
        for _ in range(OPS_PER_THREAD):
            op = self.rng.random()
            cs_id = self.rng.choice(list(self.own_cs))
            station = self.rng.choice(stations)
            if op < 0.25:
                self.create_mapping(station, cs_id)
            elif op < 0.45:
                self.update_mapping(station, cs_id)
            elif op < 0.5:
                self.delete_mapping(station, cs_id)
            elif op < 0.7:
                self.connection(station, cs_id)
            elif op < 0.8:
                self.shared_master(self.rng.choice(SHARED_STATIONS), self.rng.choice(self.shared_cs))
            else:
                self.read(cs_id)
        self.channel.close()

    def create_mapping(self, station: str, cs_id: int) -> None:
        master, enabled = self.rng.random() < 0.5, self.rng.random() < 0.8
        request = map_pb.CreateMappingRequest(
            station_id=station, central_system_id=cs_id, weight=1, is_master=master, is_enabled=enabled
        )
        if self.call(self.maps.CreateMapping, request) is not None:
            self.mappings[(station, cs_id)] = (1, master, enabled)
            self.figures["acknowledged writes"] += 1

    def update_mapping(self, station: str, cs_id: int) -> None:
        field = self.rng.choice(("is_master", "is_enabled", "weight"))
        value: Any = self.rng.randint(0, 9) if field == "weight" else self.rng.random() < 0.5
        request = map_pb.UpdateMappingRequest(
            station_id=station, central_system_id=cs_id, update_mask=FieldMask(paths=[field]), **{field: value}
        )
        response = self.call(self.maps.UpdateMapping, request)
        if response is not None:
            m = response.mapping
            self.mappings[(station, cs_id)] = (m.weight, m.is_master, m.is_enabled)
            if not m.is_enabled and (cs_id, station) in self.connections:
                self.connections[(cs_id, station)] = False
            self.figures["acknowledged writes"] += 1

    def delete_mapping(self, station: str, cs_id: int) -> None:
        if self.call(self.maps.DeleteMapping, map_pb.DeleteMappingRequest(station_id=station, central_system_id=cs_id)):
            del self.mappings[(station, cs_id)]
            self.connections.pop((cs_id, station), None)
            self.figures["acknowledged writes"] += 1

    def connection(self, station: str, cs_id: int) -> None:
        kind = self.rng.choice(("create", "recreate", "disconnect"))
        method, request_type = {
            "create": (self.conn.CreateConnection, conn_pb.CreateConnectionRequest),
            "recreate": (self.conn.RecreateConnection, conn_pb.RecreateConnectionRequest),
            "disconnect": (self.conn.DisconnectStation, conn_pb.DisconnectStationRequest),
        }[kind]
        response = self.call(method, request_type(central_system_id=cs_id, station_id=station))
        if response is not None:
            self.connections[(cs_id, station)] = response.connection.connected
            self.figures["acknowledged writes"] += 1

    def shared_master(self, station: str, cs_id: int) -> None:
        request = map_pb.CreateMappingRequest(
            station_id=station, central_system_id=cs_id, is_master=True, is_enabled=True
        )
        if self.call(self.maps.CreateMapping, request) is None:
            return
        self.figures["shared masters won"] += 1
        # Give the master back, so that others get to contend again.
        self.call(self.maps.DeleteMapping, map_pb.DeleteMappingRequest(station_id=station, central_system_id=cs_id))

    def read(self, cs_id: int) -> None:
        self.figures["calls"] += 1
        worker = self.conn.GetWorker(conn_pb.GetWorkerRequest(central_system_id=cs_id), timeout=30).worker
        assert worker.connections_count == len(worker.connections)
        stations = [c.station_id for c in worker.connections]
        assert stations == sorted(stations)


def assert_invariants(store: Store) -> None:
    mappings = store.list_mappings()
    masters = Counter(m.station_id for m in mappings if m.is_master and m.is_enabled)
    assert all(n <= 1 for n in masters.values()), masters
    enabled = {(m.central_system_id, m.station_id) for m in mappings if m.is_enabled}
    known = {(m.central_system_id, m.station_id) for m in mappings}
    workers = store.list_workers()
    assert [w.central_system_id for w in workers] == [cs.id for cs in store.list_central_systems()]
    for worker in workers:
        assert worker.connections_count == len(worker.connections)
        for c in worker.connections:
            assert (c.central_system_id, c.station_id) in known
            assert not c.connected or (c.central_system_id, c.station_id) in enabled


async def async_client(target: str, figures: Counter[str]) -> dict[int, str]:
    """An asyncio client creating and renaming its own central systems, all at once."""
    created: dict[int, str] = {}
    async with grpc.aio.insecure_channel(target) as channel:
        stub = cs_grpc.CentralSystemServiceStub(channel)
        responses = await asyncio.gather(
            *(
                stub.CreateCentralSystem(cs_pb.CreateCentralSystemRequest(name=f"A-cs-{n}", websocket_url="ws://a"))
                for n in range(40)
            )
        )
        for response in responses:
            created[response.central_system.id] = response.central_system.name
        renames = await asyncio.gather(
            *(
                stub.UpdateCentralSystem(
                    cs_pb.UpdateCentralSystemRequest(
                        id=cs_id, name=f"{name}-renamed", update_mask=FieldMask(paths=["name"])
                    )
                )
                for cs_id, name in created.items()
            )
        )
        for renamed in renames:
            created[renamed.central_system.id] = renamed.central_system.name
        figures["calls"] += 80
        figures["acknowledged writes"] += 80
    return created


def test_mixed_concurrent_clients_lose_nothing_and_keep_the_rules(figure):
    figures: Counter[str] = Counter()
    with ReferenceServer(max_workers=8) as server:
        shared_cs = [server.store.create_central_system(f"shared-{n}", "wss://s.example").id for n in range(3)]
        clients = [Client(server.target, i, shared_cs, figures) for i in range(THREADS)]
        errors: list[tuple[str, BaseException]] = []
        async_result: dict[int, str] = {}

        def run_async() -> None:
            async_result.update(asyncio.run(async_client(server.target, figures)))

        def guarded(name: str, run: Any) -> threading.Thread:
            def body() -> None:
                try:
                    run()
                except BaseException as error:  # reported below, with the thread's name
                    errors.append((name, error))

            return threading.Thread(target=body, name=name)

        threads = [guarded(f"client-{i}", c.run) for i, c in enumerate(clients)]
        threads.append(guarded("aio-client", run_async))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, DEADLINE - (time.monotonic() - started)))
        assert not [t.name for t in threads if t.is_alive()], "deadlock or hang"
        assert not errors, errors
        elapsed = time.monotonic() - started

        store = server.store
        assert_invariants(store)
        names = {cs.id: cs.name for cs in store.list_central_systems()}
        for client in clients:
            assert {i: names.get(i) for i in client.own_cs} == client.own_cs
            own = {
                (m.station_id, m.central_system_id): (m.weight, m.is_master, m.is_enabled)
                for m in store.list_mappings()
                if m.station_id.startswith(client.prefix + "-")
            }
            assert own == client.mappings, client.prefix
            connections = {
                (c.central_system_id, c.station_id): c.connected
                for cs_id in client.own_cs
                for c in store.worker_connections(cs_id)
            }
            assert connections == client.connections, client.prefix
        assert {i: names.get(i) for i in async_result} == async_result
        leftovers = [m for m in store.list_mappings() if m.station_id in SHARED_STATIONS]
        assert leftovers == []
    figure(
        f"concurrency: {THREADS} threads + 1 asyncio client, {figures['calls']} calls in {elapsed:.1f}s, "
        f"{figures['acknowledged writes']} acknowledged writes, {figures['rejected']} rejected, "
        f"{figures['shared masters won']} shared masters won, 0 lost writes, 0 phantom writes"
    )


class MasterCheckOutsideTheLock(Store):
    """The race the concurrency test exists for: the master rule checked
    before taking the lock, so two updates can both pass it."""

    _skip = threading.local()

    def _check_master_rule(self, candidate: map_pb.Mapping) -> None:
        if not getattr(self._skip, "on", False):
            super()._check_master_rule(candidate)

    def update_mapping(self, station_id: str, central_system_id: int, *values: Any, **kwargs: Any) -> map_pb.Mapping:
        current = self.list_mappings(station_id, central_system_id)
        if current:
            candidate = map_pb.Mapping()
            candidate.CopyFrom(current[0])
            candidate.is_master = candidate.is_enabled = True
            super()._check_master_rule(candidate)  # outside the lock
            time.sleep(0.005)
        self._skip.on = True
        try:
            return super().update_mapping(station_id, central_system_id, *values, **kwargs)
        finally:
            self._skip.on = False


def race_for_master(store: Store, rounds: int) -> Counter[int]:
    """Each round: two clients make two mappings of one station master at once."""
    winners: Counter[int] = Counter()
    with ReferenceServer(store=store) as server:
        a = store.create_central_system("race-a", "wss://a.example").id
        b = store.create_central_system("race-b", "wss://b.example").id
        channels = [grpc.insecure_channel(server.target) for _ in range(2)]
        stubs = [map_grpc.MappingServiceStub(c) for c in channels]
        for r in range(rounds):
            station = f"RACE-{r}"
            for cs_id in (a, b):
                store.create_mapping(station, cs_id, is_master=False, is_enabled=True)
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def promote(
                stub: map_grpc.MappingServiceStub,
                cs_id: int,
                st: str = station,
                barrier: threading.Barrier = barrier,
                outcomes: list[str] = outcomes,
            ) -> None:
                request = map_pb.UpdateMappingRequest(
                    station_id=st, central_system_id=cs_id, is_master=True, update_mask=FieldMask(paths=["is_master"])
                )
                barrier.wait(timeout=10)
                try:
                    stub.UpdateMapping(request, timeout=30)
                    outcomes.append("won")
                except grpc.RpcError as error:
                    code, reason, _ = error_parts(error)
                    outcomes.append(f"{code.name if code else None}:{reason}")

            racers = [threading.Thread(target=promote, args=(stubs[i], cs_id)) for i, cs_id in enumerate((a, b))]
            for t in racers:
                t.start()
            for t in racers:
                t.join(timeout=30)
            assert sorted(outcomes) in (
                ["FAILED_PRECONDITION:SECOND_ENABLED_MASTER", "won"],
                ["won", "won"],
            ), outcomes
            winners[outcomes.count("won")] += 1
        for channel in channels:
            channel.close()
    return winners


def test_two_clients_racing_for_master_exactly_one_wins(figure):
    rounds = 200
    winners = race_for_master(Store(), rounds)
    assert winners == Counter({1: rounds})
    figure(f"master race: {rounds} rounds, exactly one winner in each")


def test_the_race_test_catches_a_master_check_outside_the_lock():
    winners = race_for_master(MasterCheckOutsideTheLock(), 30)
    assert winners[2] > 0, winners


@pytest.mark.parametrize("workers", [2])
def test_a_flood_beyond_the_worker_pool_is_served_or_refused_cleanly(workers, figure):
    with ReferenceServer(max_workers=workers) as server:
        server.store.create_central_system("flooded", "wss://f.example")
        with grpc.insecure_channel(server.target) as channel:
            stub = cs_grpc.CentralSystemServiceStub(channel)
            futures = [
                stub.ListCentralSystems.future(cs_pb.ListCentralSystemsRequest(), timeout=60) for _ in range(500)
            ]
            codes: Counter[str] = Counter()
            for future in futures:
                try:
                    assert len(future.result().central_systems) == 1
                    codes["OK"] += 1
                except grpc.RpcError as error:
                    code = error.code()
                    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, code
                    codes[code.name] += 1
            assert sum(codes.values()) == 500
    figure(f"flood: 500 concurrent calls on {workers} workers: {dict(codes)}, 0 lost")
