"""Cases for ConnectionService: workers and the connection lifecycle."""

from __future__ import annotations

from functools import partial

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.conformance.kit import Context, case
from ocpp_broker_protos.connection.v1 import connection_pb2 as pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb

S = "ConnectionService."


def _connect(ctx: Context, central_system_id: int, station_id: str) -> pb.ConnectionInfo:
    request = pb.CreateConnectionRequest(central_system_id=central_system_id, station_id=station_id)
    return ctx.connections.CreateConnection(request).connection


BASIC = pb.ListWorkersRequest(view=pb.WORKER_VIEW_BASIC)


@case(S + "ListWorkers", S + "GetWorker")
def worker_per_central_system(ctx: Context) -> None:
    """One worker per central system, listed in id order even with no connections; its name follows renames."""
    cs = ctx.new_central_system()

    def listed() -> set[int]:
        return {c.id for c in ctx.walk(ctx.central_systems.ListCentralSystems, cs_pb.ListCentralSystemsRequest()).items}

    # Others may create or delete central systems meanwhile: judge only those
    # that existed both before and after the ListWorkers walk. The basic view
    # keeps every page small whatever the workers hold.
    before = listed()
    workers = ctx.walk(ctx.connections.ListWorkers, BASIC).items
    ids = [w.central_system_id for w in workers]
    stable = before & listed()
    ctx.expect_equal("order of worker ids", ids, sorted(ids))
    ctx.expect_equal("duplicate worker ids", len(ids), len(set(ids)))
    ctx.expect(cs.id in ids, f"a worker for central system {cs.id}", ids)
    ctx.expect(stable <= set(ids), f"a worker for each of {sorted(stable)}", ids)
    with_connections = [w.central_system_id for w in workers if w.connections]
    ctx.expect_equal("workers with connections listed in the basic view", with_connections, [])
    new_name = ctx.name("renamed")
    ctx.central_systems.UpdateCentralSystem(
        cs_pb.UpdateCentralSystemRequest(id=cs.id, name=new_name, update_mask=FieldMask(paths=["name"]))
    )
    worker = ctx.connections.GetWorker(pb.GetWorkerRequest(central_system_id=cs.id)).worker
    expected = pb.WorkerInfo(central_system_id=cs.id, central_system_name=new_name, connections_count=0)
    ctx.expect_equal("worker", worker, expected)


@case(S + "CreateConnection", S + "GetWorker", S + "GetWorkerConnections", S + "ListWorkers")
def worker_connections_ordered_and_counted(ctx: Context) -> None:
    """Connections appear on their worker ordered by station_id; connections_count counts them in every view."""
    cs = ctx.new_central_system()
    stations = [ctx.station() + suffix for suffix in ("-c", "-a", "-b")]
    for station in stations:
        ctx.new_mapping(station, cs.id, is_master=True)
        created = _connect(ctx, cs.id, station)
        ctx.expect_equal(
            "created connection",
            created,
            pb.ConnectionInfo(station_id=station, central_system_id=cs.id, connected=True),
        )
    for view in (pb.WORKER_VIEW_UNSPECIFIED, pb.WORKER_VIEW_FULL):
        worker = ctx.connections.GetWorker(pb.GetWorkerRequest(central_system_id=cs.id, view=view)).worker
        ctx.expect_equal(
            f"stations of the worker in view {view}", [c.station_id for c in worker.connections], sorted(stations)
        )
        ctx.expect_equal(f"connections_count in view {view}", worker.connections_count, len(worker.connections))
    listed = ctx.connections.GetWorkerConnections(pb.GetWorkerConnectionsRequest(central_system_id=cs.id)).connections
    ctx.expect_equal("GetWorkerConnections", list(listed), list(worker.connections))
    basic = ctx.connections.GetWorker(pb.GetWorkerRequest(central_system_id=cs.id, view=pb.WORKER_VIEW_BASIC)).worker
    ctx.expect_equal("worker in the basic view", (basic.connections_count, list(basic.connections)), (3, []))
    mine = [w for w in ctx.walk(ctx.connections.ListWorkers, BASIC).items if w.central_system_id == cs.id]
    ctx.expect_equal(
        "connections_count of the worker listed in the basic view", [w.connections_count for w in mine], [3]
    )


@case(S + "CreateConnection")
def connection_needs_a_central_system(ctx: Context) -> None:
    """CreateConnection to a central system that does not exist is NOT_FOUND CENTRAL_SYSTEM_NOT_FOUND."""
    gone = ctx.new_central_system()
    ctx.central_systems.DeleteCentralSystem(cs_pb.DeleteCentralSystemRequest(id=gone.id))
    ctx.expect_error(
        lambda: _connect(ctx, gone.id, ctx.station()), grpc.StatusCode.NOT_FOUND, errors.CENTRAL_SYSTEM_NOT_FOUND
    )


@case(S + "CreateConnection")
def connection_needs_an_enabled_mapping(ctx: Context) -> None:
    """CreateConnection without a mapping, or with a disabled one, is FAILED_PRECONDITION NO_ENABLED_MAPPING."""
    cs = ctx.new_central_system()
    unmapped, disabled = ctx.station(), ctx.station()
    ctx.new_mapping(disabled, cs.id, is_enabled=False)
    for station in (unmapped, disabled):
        ctx.expect_error(
            partial(_connect, ctx, cs.id, station), grpc.StatusCode.FAILED_PRECONDITION, errors.NO_ENABLED_MAPPING
        )


@case(S + "CreateConnection")
def connection_pair_is_unique(ctx: Context) -> None:
    """A second CreateConnection for the same pair is ALREADY_EXISTS, even after a disconnect."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    _connect(ctx, cs.id, station)
    ctx.expect_error(
        lambda: _connect(ctx, cs.id, station), grpc.StatusCode.ALREADY_EXISTS, errors.CONNECTION_ALREADY_EXISTS
    )
    ctx.connections.DisconnectStation(pb.DisconnectStationRequest(central_system_id=cs.id, station_id=station))
    ctx.expect_error(
        lambda: _connect(ctx, cs.id, station), grpc.StatusCode.ALREADY_EXISTS, errors.CONNECTION_ALREADY_EXISTS
    )


@case(S + "CreateConnection", S + "RecreateConnection", S + "DisconnectStation")
def connection_arguments_are_validated(ctx: Context) -> None:
    """central_system_id 0 and a malformed station_id are INVALID_ARGUMENT naming both fields."""
    calls = [
        lambda: ctx.connections.CreateConnection(pb.CreateConnectionRequest(central_system_id=0, station_id="bad id")),
        lambda: ctx.connections.RecreateConnection(pb.RecreateConnectionRequest(central_system_id=0, station_id="")),
        lambda: ctx.connections.DisconnectStation(
            pb.DisconnectStationRequest(central_system_id=0, station_id="x" * 49)
        ),
    ]
    for call in calls:
        ctx.expect_error(
            call, grpc.StatusCode.INVALID_ARGUMENT, errors.INVALID_FIELD, {"central_system_id", "station_id"}
        )


@case(S + "DisconnectStation", S + "RecreateConnection")
def connection_disconnect_and_recreate(ctx: Context) -> None:
    """Disconnect keeps the record with connected=false (twice is fine); Recreate makes it connected again."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    _connect(ctx, cs.id, station)
    disconnected = pb.ConnectionInfo(central_system_id=cs.id, station_id=station, connected=False)
    for _ in range(2):
        gone = ctx.connections.DisconnectStation(
            pb.DisconnectStationRequest(central_system_id=cs.id, station_id=station)
        ).connection
        ctx.expect_equal("after disconnect", gone, disconnected)
    listed = ctx.connections.GetWorkerConnections(pb.GetWorkerConnectionsRequest(central_system_id=cs.id)).connections
    ctx.expect_equal("records after disconnect", list(listed), [disconnected])
    back = ctx.connections.RecreateConnection(
        pb.RecreateConnectionRequest(central_system_id=cs.id, station_id=station)
    ).connection
    ctx.expect_equal(
        "after recreate", back, pb.ConnectionInfo(central_system_id=cs.id, station_id=station, connected=True)
    )


@case(S + "RecreateConnection", S + "DisconnectStation")
def connection_must_exist(ctx: Context) -> None:
    """Recreate and Disconnect of a pair with no connection are NOT_FOUND CONNECTION_NOT_FOUND."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    ctx.expect_error(
        lambda: ctx.connections.RecreateConnection(
            pb.RecreateConnectionRequest(central_system_id=cs.id, station_id=station)
        ),
        grpc.StatusCode.NOT_FOUND,
        errors.CONNECTION_NOT_FOUND,
    )
    ctx.expect_error(
        lambda: ctx.connections.DisconnectStation(
            pb.DisconnectStationRequest(central_system_id=cs.id, station_id=station)
        ),
        grpc.StatusCode.NOT_FOUND,
        errors.CONNECTION_NOT_FOUND,
    )


@case(S + "GetWorker", S + "GetWorkerConnections")
def worker_of_unknown_central_system(ctx: Context) -> None:
    """GetWorker and GetWorkerConnections of an unknown central system are NOT_FOUND; id 0 is INVALID_ARGUMENT."""
    gone = ctx.new_central_system()
    ctx.central_systems.DeleteCentralSystem(cs_pb.DeleteCentralSystemRequest(id=gone.id))
    ctx.expect_error(
        lambda: ctx.connections.GetWorker(pb.GetWorkerRequest(central_system_id=gone.id)),
        grpc.StatusCode.NOT_FOUND,
        errors.CENTRAL_SYSTEM_NOT_FOUND,
    )
    ctx.expect_error(
        lambda: ctx.connections.GetWorkerConnections(pb.GetWorkerConnectionsRequest(central_system_id=gone.id)),
        grpc.StatusCode.NOT_FOUND,
        errors.CENTRAL_SYSTEM_NOT_FOUND,
    )
    ctx.expect_error(
        lambda: ctx.connections.GetWorker(pb.GetWorkerRequest(central_system_id=0)),
        grpc.StatusCode.INVALID_ARGUMENT,
        errors.INVALID_FIELD,
        {"central_system_id"},
    )


@case(S + "RecreateConnection", "MappingService.UpdateMapping")
def disabled_mapping_blocks_recreate(ctx: Context) -> None:
    """Once the mapping is disabled, RecreateConnection is FAILED_PRECONDITION NO_ENABLED_MAPPING."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    _connect(ctx, cs.id, station)
    ctx.mappings.UpdateMapping(
        map_pb.UpdateMappingRequest(
            station_id=station, central_system_id=cs.id, is_enabled=False, update_mask=FieldMask(paths=["is_enabled"])
        )
    )
    ctx.expect_error(
        lambda: ctx.connections.RecreateConnection(
            pb.RecreateConnectionRequest(central_system_id=cs.id, station_id=station)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.NO_ENABLED_MAPPING,
    )
