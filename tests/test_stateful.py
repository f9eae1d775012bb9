"""Random sequences of every mutating RPC, against the server and a model.

After every step the server's answer (code, ErrorInfo reason and body) must
equal the model's, and the whole listed state must equal the model's and
satisfy the contract's invariants. OCPP_STATEFUL_EXAMPLES raises the budget
for long local runs (default 50 sequences of up to 40 steps).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from ocpp_broker_protos.conformance.kit import error_parts
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.connection.v1 import connection_pb2_grpc as conn_grpc
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2_grpc as map_grpc
from ocpp_broker_protos.reference import ReferenceServer
from tests import model as m

EXAMPLES = int(os.environ.get("OCPP_STATEFUL_EXAMPLES", "50"))
FIGURES: Counter[str] = Counter()


def mostly(valid: tuple[Any, ...], invalid: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """Mostly valid values, so that sequences get somewhere; invalid ones now and then."""
    return st.sampled_from(valid * max(1, 8 // len(valid)) + invalid)


names = mostly(m.VALID_NAMES, m.INVALID_NAMES)
urls = mostly(m.VALID_URLS, m.INVALID_URLS)
descriptions = st.sampled_from(("", "primary", "ßecond"))
stations = mostly(m.VALID_STATIONS, m.INVALID_STATIONS)
weights = mostly((0, 3, 100), (-1,))
# Flags lean to True so that enabled masters, and clashes between them, are common.
flags = st.sampled_from((True, True, False))
cs_masks = st.one_of(
    st.none(),
    st.lists(st.sampled_from((*m.CS_FIELDS, "*", "id", "bogus")), max_size=3, unique=True),
)
mapping_masks = st.one_of(
    st.none(),
    st.lists(st.sampled_from((*m.MAPPING_FIELDS, "*", "station_id")), max_size=3, unique=True),
)


def call(fn: Any, request: Any) -> tuple[str, str, Any]:
    FIGURES["calls"] += 1
    try:
        response = fn(request, timeout=10)
    except grpc.RpcError as error:
        code, reason, _ = error_parts(error)
        assert code is not None
        return (code.name, reason, None)
    return ("OK", "", response)


def _row(which: str, item: Any) -> tuple[Any, ...]:
    if which == "central_systems":
        return (item.id, item.name, item.websocket_url, item.description)
    if which == "mappings":
        return (item.station_id, item.central_system_id, item.weight, item.is_master, item.is_enabled)
    if which == "worker_connections":
        return (item.station_id, item.central_system_id, item.connected)
    connections = tuple(_row("worker_connections", c) for c in item.connections)
    return (item.central_system_id, item.central_system_name, item.connections_count, connections)


def has_central_systems(machine: BrokerMachine) -> bool:
    # Rules that address central systems wait for one to exist; they still
    # draw a missing or invalid id now and then.
    return bool(machine.model.central_systems)


class BrokerMachine(RuleBasedStateMachine):
    server: ReferenceServer
    channel: grpc.Channel

    def __init__(self) -> None:
        super().__init__()
        self.model = m.Model()
        self.cs = cs_grpc.CentralSystemServiceStub(self.channel)
        self.conn = conn_grpc.ConnectionServiceStub(self.channel)
        self.maps = map_grpc.MappingServiceStub(self.channel)

    @initialize()
    def fresh_server_with_two_central_systems(self) -> None:
        # Starting from two central systems lets mapping and connection rules
        # meet each other from the first step instead of after many.
        self.server.reset()
        FIGURES["examples"] += 1
        for name in m.VALID_NAMES[:2]:
            self.create_central_system(name, m.VALID_URLS[0], "")

    def cs_ids(self) -> st.SearchStrategy[int]:
        return mostly(tuple(sorted(self.model.central_systems)), (0, 987_654))

    def mapping_key(self, data: st.DataObject) -> tuple[str, int]:
        """Mostly a pair that has a mapping, so updates, deletes and
        connections meet real objects; otherwise any pair from the pools."""
        if self.model.mappings and data.draw(st.integers(0, 9), label="aim") < 7:
            key: tuple[str, int] = data.draw(st.sampled_from(sorted(self.model.mappings)), label="existing mapping")
            return key
        return data.draw(stations, label="station_id"), data.draw(self.cs_ids(), label="central_system_id")

    def agree(self, got: tuple[str, str, Any], want: m.Outcome) -> Any:
        FIGURES["steps"] += 1
        FIGURES[got[0]] += 1
        assert got[:2] == want[:2], f"server {got[:2]} != model {want[:2]}"
        return got[2]

    # -- central systems -------------------------------------------------

    def create_central_system(self, name: str, url: str, description: str) -> None:
        want = self.model.create_central_system(name, url, description)
        got = call(
            self.cs.CreateCentralSystem,
            cs_pb.CreateCentralSystemRequest(name=name, websocket_url=url, description=description),
        )
        response = self.agree(got, want)
        if response is not None:
            created = response.central_system
            assert created.id > 0
            assert created.id not in self.model.ids_seen, created.id
            assert (created.name, created.websocket_url, created.description) == (name, url, description)
            self.model.record_central_system(created.id, want[2])

    def update_central_system(
        self, data: st.DataObject, name: str, url: str, description: str, mask: list[str] | None
    ) -> None:
        cs_id = data.draw(self.cs_ids())
        request = cs_pb.UpdateCentralSystemRequest(id=cs_id, name=name, websocket_url=url, description=description)
        if mask is not None:
            request.update_mask.CopyFrom(FieldMask(paths=mask))
        want = self.model.update_central_system(cs_id, name, url, description, mask)
        response = self.agree(call(self.cs.UpdateCentralSystem, request), want)
        if response is not None:
            stored = response.central_system
            assert {
                "name": stored.name,
                "websocket_url": stored.websocket_url,
                "description": stored.description,
            } == want[2]

    def delete_central_system(self, data: st.DataObject, force: bool) -> None:
        cs_id = data.draw(self.cs_ids())
        want = self.model.delete_central_system(cs_id, force)
        self.agree(call(self.cs.DeleteCentralSystem, cs_pb.DeleteCentralSystemRequest(id=cs_id, force=force)), want)

    # -- mappings --------------------------------------------------------

    def create_mapping(self, data: st.DataObject, station: str, weight: int, master: bool, enabled: bool) -> None:
        cs_id = data.draw(self.cs_ids())
        want = self.model.create_mapping(station, cs_id, weight, master, enabled)
        request = map_pb.CreateMappingRequest(
            station_id=station, central_system_id=cs_id, weight=weight, is_master=master, is_enabled=enabled
        )
        response = self.agree(call(self.maps.CreateMapping, request), want)
        if response is not None:
            got = response.mapping
            assert {"weight": got.weight, "is_master": got.is_master, "is_enabled": got.is_enabled} == want[2]

    def update_mapping(
        self, data: st.DataObject, weight: int, master: bool, enabled: bool, mask: list[str] | None
    ) -> None:
        station, cs_id = self.mapping_key(data)
        request = map_pb.UpdateMappingRequest(
            station_id=station, central_system_id=cs_id, weight=weight, is_master=master, is_enabled=enabled
        )
        if mask is not None:
            request.update_mask.CopyFrom(FieldMask(paths=mask))
        want = self.model.update_mapping(station, cs_id, weight, master, enabled, mask)
        response = self.agree(call(self.maps.UpdateMapping, request), want)
        if response is not None:
            got = response.mapping
            assert {"weight": got.weight, "is_master": got.is_master, "is_enabled": got.is_enabled} == want[2]

    def delete_mapping(self, data: st.DataObject) -> None:
        station, cs_id = self.mapping_key(data)
        want = self.model.delete_mapping(station, cs_id)
        self.agree(
            call(self.maps.DeleteMapping, map_pb.DeleteMappingRequest(station_id=station, central_system_id=cs_id)),
            want,
        )

    # -- connections -----------------------------------------------------

    def connection(self, data: st.DataObject, action: str) -> None:
        station, cs_id = self.mapping_key(data)
        rpc, request_type, model_call = {
            "create": (self.conn.CreateConnection, conn_pb.CreateConnectionRequest, self.model.create_connection),
            "recreate": (
                self.conn.RecreateConnection,
                conn_pb.RecreateConnectionRequest,
                self.model.recreate_connection,
            ),
            "disconnect": (
                self.conn.DisconnectStation,
                conn_pb.DisconnectStationRequest,
                self.model.disconnect_station,
            ),
        }[action]
        want = model_call(cs_id, station)
        response = self.agree(call(rpc, request_type(central_system_id=cs_id, station_id=station)), want)
        if response is not None:
            assert response.connection == conn_pb.ConnectionInfo(
                station_id=station, central_system_id=cs_id, connected=want[2]
            )

    # -- the rules: one per service, the action drawn inside ----------------
    # Few rules keep hypothesis' swarm testing (which turns rules off per
    # example) from starving the interactions between services.

    @rule(data=st.data(), action=st.sampled_from(("create", "update", "delete")))
    def central_system_step(self, data: st.DataObject, action: str) -> None:
        if action == "create" or not self.model.central_systems:
            self.create_central_system(data.draw(names), data.draw(urls), data.draw(descriptions))
        elif action == "update":
            self.update_central_system(
                data, data.draw(names), data.draw(urls), data.draw(descriptions), data.draw(cs_masks)
            )
        else:
            self.delete_central_system(data, data.draw(st.booleans()))

    @precondition(has_central_systems)
    @rule(data=st.data(), action=st.sampled_from(("create", "create", "update", "delete")))
    def mapping_step(self, data: st.DataObject, action: str) -> None:
        if action == "create":
            self.create_mapping(data, data.draw(stations), data.draw(weights), data.draw(flags), data.draw(flags))
        elif action == "update":
            self.update_mapping(data, data.draw(weights), data.draw(flags), data.draw(flags), data.draw(mapping_masks))
        else:
            self.delete_mapping(data)

    @precondition(has_central_systems)
    @rule(data=st.data(), action=st.sampled_from(("create", "recreate", "disconnect")))
    def connection_step(self, data: st.DataObject, action: str) -> None:
        self.connection(data, action)

    # -- after every step ------------------------------------------------

    @invariant()
    def listed_state_equals_the_model_and_keeps_the_rules(self) -> None:
        FIGURES["invariant checks"] += 1
        listed = self.cs.ListCentralSystems(cs_pb.ListCentralSystemsRequest(), timeout=10).central_systems
        ids = [c.id for c in listed]
        assert ids == sorted(ids)
        assert {
            c.id: {"name": c.name, "websocket_url": c.websocket_url, "description": c.description} for c in listed
        } == (self.model.central_systems)
        mappings = self.maps.GetAllMappings(map_pb.GetAllMappingsRequest(), timeout=10).mappings
        keys = [(x.station_id, x.central_system_id) for x in mappings]
        assert keys == sorted(keys)
        assert {
            (x.station_id, x.central_system_id): {
                "weight": x.weight,
                "is_master": x.is_master,
                "is_enabled": x.is_enabled,
            }
            for x in mappings
        } == self.model.mappings
        masters = Counter(x.station_id for x in mappings if x.is_master and x.is_enabled)
        assert all(n <= 1 for n in masters.values()), masters
        workers = self.conn.ListWorkers(conn_pb.ListWorkersRequest(), timeout=10).workers
        assert [w.central_system_id for w in workers] == ids  # one worker per central system, same order
        enabled = {(x.central_system_id, x.station_id) for x in mappings if x.is_enabled}
        connections = {}
        for worker in workers:
            assert worker.connections_count == len(worker.connections)
            assert worker.central_system_name == next(c.name for c in listed if c.id == worker.central_system_id)
            stations_of_worker = [c.station_id for c in worker.connections]
            assert stations_of_worker == sorted(stations_of_worker)
            for c in worker.connections:
                assert c.central_system_id == worker.central_system_id
                assert not c.connected or (c.central_system_id, c.station_id) in enabled
                connections[(c.central_system_id, c.station_id)] = c.connected
        assert connections == self.model.connections


class PagingMachine(BrokerMachine):
    """The machine plus walks with page tokens through every list, at drawn
    page sizes, filters and views, against the model."""

    @rule(
        data=st.data(),
        which=st.sampled_from(m.LISTS),
        page_size=st.sampled_from((1, 1, 2, 3, 0, 1001, -1)),
        bogus_token=st.sampled_from((False, False, False, False, True)),
    )
    def list_step(self, data: st.DataObject, which: str, page_size: int, bogus_token: bool) -> None:
        """Walk a list with tokens at a drawn page size, filters and view."""
        FIGURES["list walks"] += 1
        filters: dict[str, Any] = {}
        if which == "mappings":
            filters["station_id"] = data.draw(st.sampled_from(("", "", *m.VALID_STATIONS, m.INVALID_STATIONS[1])))
            filters["central_system_id"] = data.draw(st.sampled_from((0, 0, -1, *sorted(self.model.central_systems))))
        elif which == "workers":
            filters["view"] = data.draw(st.sampled_from((*m.VIEWS, 9)))
        elif which == "worker_connections":
            known = self.cs_ids() if self.model.central_systems else st.sampled_from((0, 987_654))
            filters["central_system_id"] = data.draw(known)
        want = self.model.list_rows(which, page_size, bogus_token, **filters)
        walked = self.walk(which, page_size, "bogus" if bogus_token else "", filters)
        got = self.agree(walked, want)
        if got is not None:
            assert got == want[2], f"{which} {filters} page_size={page_size}: {got} != {want[2]}"

    def walk(self, which: str, page_size: int, token: str, filters: dict[str, Any]) -> tuple[str, str, Any]:
        """The rows of a whole walk, checking every page's size, token and count."""
        rpc, request_type, field = {
            "central_systems": (self.cs.ListCentralSystems, cs_pb.ListCentralSystemsRequest, "central_systems"),
            "mappings": (self.maps.GetAllMappings, map_pb.GetAllMappingsRequest, "mappings"),
            "workers": (self.conn.ListWorkers, conn_pb.ListWorkersRequest, "workers"),
            "worker_connections": (
                self.conn.GetWorkerConnections,
                conn_pb.GetWorkerConnectionsRequest,
                "connections",
            ),
        }[which]
        rows: list[tuple[Any, ...]] = []
        while True:
            code, reason, response = call(rpc, request_type(page_size=page_size, page_token=token, **filters))
            if response is None:
                return (code, reason, None) if not rows else ("OK-then-" + code, reason, None)
            items = list(getattr(response, field))
            limit = min(page_size, 1000) or len(items)
            assert len(items) <= limit
            rows += [_row(which, item) for item in items]
            token = response.next_page_token
            if not token:
                assert response.total_count == len(rows)
                return ("OK", "", rows)
            assert len(items) == limit  # only the last page may be short
            assert response.total_count > len(rows)


@pytest.fixture(scope="module")
def machine_server():
    with ReferenceServer() as server, grpc.insecure_channel(server.target) as channel:
        yield server, channel


def run_machine(
    server: ReferenceServer,
    channel: grpc.Channel,
    examples: int,
    machine: type[BrokerMachine],
    **options: Any,
) -> None:
    machine.server, machine.channel = server, channel
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            **options,
        ),
    )


def test_server_agrees_with_the_model_over_random_sequences(machine_server, figure):
    FIGURES.clear()
    server, channel = machine_server
    run_machine(server, channel, EXAMPLES, PagingMachine)
    figure(
        f"stateful: {FIGURES['examples']} sequences, {FIGURES['steps']} steps, {FIGURES['calls']} RPCs, "
        f"{FIGURES['invariant checks']} invariant checks, {FIGURES['list walks']} paged list walks, "
        "0 divergences"
    )
    assert FIGURES["steps"] >= EXAMPLES  # the budget was really spent


@pytest.mark.parametrize(
    "variant", ["allows_second_enabled_master", "keeps_connections_after_disable", "disconnect_deletes_the_record"]
)
def test_the_machine_catches_a_broken_store(variant, monkeypatch):
    from tests.broken_variants import VARIANTS

    store_class, _ = VARIANTS[variant]
    # Deterministic and without shrinking: this only shows that the machine
    # notices, quickly and the same way on every run. These variants break
    # writes, so the machine without list walks spends its budget on writes.
    with (
        ReferenceServer(store=store_class()) as server,
        grpc.insecure_channel(server.target) as channel,
        pytest.raises(AssertionError),
    ):
        run_machine(server, channel, 400, BrokerMachine, derandomize=True, phases=[Phase.generate])
