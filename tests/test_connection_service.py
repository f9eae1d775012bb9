"""ConnectionService through a real channel against the reference server."""

from __future__ import annotations

import grpc
import pytest

from ocpp_broker_protos import errors
from ocpp_broker_protos.connection.v1.connection_pb2 import (
    ConnectionInfo,
    CreateConnectionRequest,
    DisconnectStationRequest,
    GetWorkerConnectionsRequest,
    GetWorkerRequest,
    ListWorkersRequest,
    RecreateConnectionRequest,
)
from tests.rpc_checks import expect_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def world(ocpp_server):
    """Two central systems; CP-1 and CP-2 enabled on the first, CP-3 disabled."""
    store = ocpp_server.store
    a = store.create_central_system("Alpha", "wss://a.example").id
    b = store.create_central_system("Bravo", "wss://b.example").id
    store.create_mapping("CP-2", a, is_master=True, is_enabled=True)
    store.create_mapping("CP-1", a, is_master=True, is_enabled=True)
    store.create_mapping("CP-3", a)
    return a, b


def test_workers_exist_per_central_system_even_without_connections(ocpp_connection_stub, world):
    a, b = world
    workers = ocpp_connection_stub.ListWorkers(ListWorkersRequest()).workers
    assert [(w.central_system_id, w.central_system_name, w.connections_count, len(w.connections)) for w in workers] == [
        (a, "Alpha", 0, 0),
        (b, "Bravo", 0, 0),
    ]


def test_create_connection_then_workers_show_it_ordered_by_station(ocpp_connection_stub, world):
    a, _ = world
    for station in ("CP-2", "CP-1"):
        created = ocpp_connection_stub.CreateConnection(
            CreateConnectionRequest(central_system_id=a, station_id=station)
        )
        assert created.connection == ConnectionInfo(station_id=station, central_system_id=a, connected=True)
    worker = ocpp_connection_stub.GetWorker(GetWorkerRequest(central_system_id=a)).worker
    assert [c.station_id for c in worker.connections] == ["CP-1", "CP-2"]
    assert worker.connections_count == len(worker.connections) == 2
    listed = ocpp_connection_stub.GetWorkerConnections(GetWorkerConnectionsRequest(central_system_id=a)).connections
    assert list(listed) == list(worker.connections)
    assert ocpp_connection_stub.ListWorkers(ListWorkersRequest()).workers[0] == worker


def test_disconnect_keeps_the_record_and_is_idempotent_and_recreate_reconnects(ocpp_connection_stub, world):
    a, _ = world
    pair = {"central_system_id": a, "station_id": "CP-1"}
    ocpp_connection_stub.CreateConnection(CreateConnectionRequest(**pair))
    for _ in range(2):
        gone = ocpp_connection_stub.DisconnectStation(DisconnectStationRequest(**pair)).connection
        assert gone == ConnectionInfo(station_id="CP-1", central_system_id=a, connected=False)
    worker = ocpp_connection_stub.GetWorker(GetWorkerRequest(central_system_id=a)).worker
    assert worker.connections_count == 1
    assert not worker.connections[0].connected
    back = ocpp_connection_stub.RecreateConnection(RecreateConnectionRequest(**pair)).connection
    assert back.connected
    assert ocpp_connection_stub.RecreateConnection(RecreateConnectionRequest(**pair)).connection.connected


def test_create_errors(ocpp_server, ocpp_connection_stub, world):
    a, b = world

    def create(cs, station):
        return lambda: ocpp_connection_stub.CreateConnection(
            CreateConnectionRequest(central_system_id=cs, station_id=station)
        )

    expect_error(create(99, "CP-1"), grpc.StatusCode.NOT_FOUND, errors.CENTRAL_SYSTEM_NOT_FOUND, server=ocpp_server)
    expect_error(
        create(2**32 - 1, "CP-1"), grpc.StatusCode.NOT_FOUND, errors.CENTRAL_SYSTEM_NOT_FOUND, server=ocpp_server
    )
    expect_error(create(b, "CP-1"), grpc.StatusCode.FAILED_PRECONDITION, errors.NO_ENABLED_MAPPING, server=ocpp_server)
    expect_error(create(a, "CP-3"), grpc.StatusCode.FAILED_PRECONDITION, errors.NO_ENABLED_MAPPING, server=ocpp_server)
    expect_error(create(0, "bad id"), INVALID, errors.INVALID_FIELD, {"central_system_id", "station_id"}, ocpp_server)
    create(a, "CP-1")()
    expect_error(
        create(a, "CP-1"), grpc.StatusCode.ALREADY_EXISTS, errors.CONNECTION_ALREADY_EXISTS, server=ocpp_server
    )
    ocpp_connection_stub.DisconnectStation(DisconnectStationRequest(central_system_id=a, station_id="CP-1"))
    expect_error(
        create(a, "CP-1"), grpc.StatusCode.ALREADY_EXISTS, errors.CONNECTION_ALREADY_EXISTS, server=ocpp_server
    )


@pytest.mark.parametrize("rpc", ["RecreateConnection", "DisconnectStation"])
def test_recreate_and_disconnect_need_an_existing_connection(ocpp_server, ocpp_connection_stub, world, rpc):
    a, _ = world
    request_type = RecreateConnectionRequest if rpc == "RecreateConnection" else DisconnectStationRequest
    call = getattr(ocpp_connection_stub, rpc)
    expect_error(
        lambda: call(request_type(central_system_id=a, station_id="CP-1")),
        grpc.StatusCode.NOT_FOUND,
        errors.CONNECTION_NOT_FOUND,
        server=ocpp_server,
    )
    expect_error(
        lambda: call(request_type(central_system_id=0, station_id="")),
        INVALID,
        errors.INVALID_FIELD,
        {"central_system_id", "station_id"},
        ocpp_server,
    )


def test_recreate_after_the_mapping_was_disabled_is_refused(ocpp_server, ocpp_connection_stub, world):
    a, _ = world
    ocpp_server.store.create_connection(a, "CP-1")
    ocpp_server.store.update_mapping("CP-1", a, 0, True, False)
    expect_error(
        lambda: ocpp_connection_stub.RecreateConnection(
            RecreateConnectionRequest(central_system_id=a, station_id="CP-1")
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.NO_ENABLED_MAPPING,
        server=ocpp_server,
    )


@pytest.mark.parametrize("rpc", ["GetWorker", "GetWorkerConnections"])
def test_worker_lookups_validate_and_report_unknown_central_systems(ocpp_server, ocpp_connection_stub, world, rpc):
    request_type = GetWorkerRequest if rpc == "GetWorker" else GetWorkerConnectionsRequest
    call = getattr(ocpp_connection_stub, rpc)
    expect_error(
        lambda: call(request_type(central_system_id=77)), grpc.StatusCode.NOT_FOUND, errors.CENTRAL_SYSTEM_NOT_FOUND
    )
    expect_error(lambda: call(request_type(central_system_id=0)), INVALID, errors.INVALID_FIELD, {"central_system_id"})
