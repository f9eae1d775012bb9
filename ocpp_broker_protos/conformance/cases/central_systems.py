"""Cases for CentralSystemService."""

from __future__ import annotations

from functools import partial

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as pb
from ocpp_broker_protos.conformance.kit import Context, case
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb

S = "CentralSystemService."
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@case(S + "CreateCentralSystem", S + "GetCentralSystem")
def central_system_create_then_get(ctx: Context) -> None:
    """Create returns the stored central system with a positive id; Get returns the same."""
    name = ctx.name()
    request = pb.CreateCentralSystemRequest(name=name, websocket_url="ws://csms.example:9000/ocpp", description="d")
    created = ctx.central_systems.CreateCentralSystem(request).central_system
    ctx.on_cleanup(lambda: ctx.central_systems.DeleteCentralSystem(pb.DeleteCentralSystemRequest(id=created.id)))
    ctx.expect(created.id > 0, "a positive id", created.id)
    expected = pb.CentralSystem(id=created.id, name=name, websocket_url=request.websocket_url, description="d")
    ctx.expect_equal("created", created, expected)
    got = ctx.central_systems.GetCentralSystem(pb.GetCentralSystemRequest(id=created.id)).central_system
    ctx.expect_equal("got", got, expected)


@case(S + "ListCentralSystems")
def central_systems_listed_by_id(ctx: Context) -> None:
    """ListCentralSystems, walked in pages of 1000, includes new central systems and is ordered by id ascending."""
    mine = {ctx.new_central_system().id for _ in range(3)}
    ids = [cs.id for cs in ctx.walk(ctx.central_systems.ListCentralSystems, pb.ListCentralSystemsRequest()).items]
    ctx.expect(mine <= set(ids), f"ids {sorted(mine)} listed", ids)
    ctx.expect_equal("order of ids", ids, sorted(ids))


@case(S + "CreateCentralSystem")
def central_system_create_validates_fields(ctx: Context) -> None:
    """Bad name, websocket_url and description are INVALID_ARGUMENT naming each field."""
    checks = [
        (pb.CreateCentralSystemRequest(name=" ", websocket_url="wss://ok.example"), {"name"}),
        (pb.CreateCentralSystemRequest(name=ctx.name(), websocket_url="https://x.example"), {"websocket_url"}),
        (pb.CreateCentralSystemRequest(name=ctx.name(), websocket_url="wss://u:p@x.example"), {"websocket_url"}),
        (pb.CreateCentralSystemRequest(name=ctx.name(), websocket_url="wss://x.example/#f"), {"websocket_url"}),
        (pb.CreateCentralSystemRequest(name="n" * 129, websocket_url="wss://x.example"), {"name"}),
        (
            pb.CreateCentralSystemRequest(name=ctx.name(), websocket_url="wss://x.example", description="d" * 1025),
            {"description"},
        ),
        (
            pb.CreateCentralSystemRequest(name="", websocket_url="", description="d" * 1025),
            {"name", "websocket_url", "description"},
        ),
    ]
    for request, fields in checks:
        ctx.expect_error(
            partial(ctx.central_systems.CreateCentralSystem, request), INVALID, errors.INVALID_FIELD, fields
        )


@case(S + "CreateCentralSystem")
def central_system_name_is_unique(ctx: Context) -> None:
    """Creating a second central system with a taken name is ALREADY_EXISTS."""
    existing = ctx.new_central_system()
    ctx.expect_error(
        lambda: ctx.central_systems.CreateCentralSystem(
            pb.CreateCentralSystemRequest(name=existing.name, websocket_url="wss://other.example")
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        errors.CENTRAL_SYSTEM_ALREADY_EXISTS,
    )


@case(S + "GetCentralSystem", S + "UpdateCentralSystem", S + "DeleteCentralSystem")
def central_system_unknown_id_is_not_found(ctx: Context) -> None:
    """Get, Update and Delete of an id that does not exist are NOT_FOUND CENTRAL_SYSTEM_NOT_FOUND."""
    gone = ctx.new_central_system()
    ctx.central_systems.DeleteCentralSystem(pb.DeleteCentralSystemRequest(id=gone.id))
    calls = [
        lambda: ctx.central_systems.GetCentralSystem(pb.GetCentralSystemRequest(id=gone.id)),
        lambda: ctx.central_systems.UpdateCentralSystem(
            pb.UpdateCentralSystemRequest(id=gone.id, name=ctx.name(), websocket_url="wss://x.example")
        ),
        lambda: ctx.central_systems.DeleteCentralSystem(pb.DeleteCentralSystemRequest(id=gone.id)),
    ]
    for call in calls:
        ctx.expect_error(call, grpc.StatusCode.NOT_FOUND, errors.CENTRAL_SYSTEM_NOT_FOUND)


@case(S + "GetCentralSystem", S + "DeleteCentralSystem")
def central_system_id_must_be_positive(ctx: Context) -> None:
    """An id of 0 or below is INVALID_ARGUMENT naming `id`."""
    for bad in (0, -1):
        ctx.expect_error(
            partial(ctx.central_systems.GetCentralSystem, pb.GetCentralSystemRequest(id=bad)),
            INVALID,
            errors.INVALID_FIELD,
            {"id"},
        )
        ctx.expect_error(
            partial(ctx.central_systems.DeleteCentralSystem, pb.DeleteCentralSystemRequest(id=bad)),
            INVALID,
            errors.INVALID_FIELD,
            {"id"},
        )


@case(S + "CreateCentralSystem", S + "DeleteCentralSystem")
def central_system_ids_are_never_reused(ctx: Context) -> None:
    """After a delete, the next central system gets a larger id."""
    first = ctx.new_central_system()
    ctx.central_systems.DeleteCentralSystem(pb.DeleteCentralSystemRequest(id=first.id))
    second = ctx.new_central_system()
    ctx.expect(second.id > first.id, f"an id above {first.id}", second.id)


@case(S + "UpdateCentralSystem")
def central_system_update_without_mask_replaces_all(ctx: Context) -> None:
    """Without update_mask, name, websocket_url and description are all replaced (empty ones too)."""
    cs = ctx.new_central_system(description="old")
    name = ctx.name()
    request = pb.UpdateCentralSystemRequest(id=cs.id, name=name, websocket_url="ws://new.example")
    updated = ctx.central_systems.UpdateCentralSystem(request).central_system
    expected = pb.CentralSystem(id=cs.id, name=name, websocket_url="ws://new.example", description="")
    ctx.expect_equal("updated", updated, expected)
    got = ctx.central_systems.GetCentralSystem(pb.GetCentralSystemRequest(id=cs.id)).central_system
    ctx.expect_equal("stored", got, expected)


@case(S + "UpdateCentralSystem")
def central_system_update_mask_limits_the_change(ctx: Context) -> None:
    """With update_mask only the listed paths change; unlisted request fields are ignored."""
    cs = ctx.new_central_system(description="old")
    request = pb.UpdateCentralSystemRequest(
        id=cs.id, name="", websocket_url="not a url", description="new", update_mask=FieldMask(paths=["description"])
    )
    updated = ctx.central_systems.UpdateCentralSystem(request).central_system
    expected = pb.CentralSystem(id=cs.id, name=cs.name, websocket_url=cs.websocket_url, description="new")
    ctx.expect_equal("updated", updated, expected)


@case(S + "UpdateCentralSystem")
def central_system_update_mask_paths_are_checked(ctx: Context) -> None:
    """A mask path other than name, websocket_url, description (or `*`) is INVALID_UPDATE_MASK; nothing changes."""
    cs = ctx.new_central_system(description="keep")
    for path in ("id", "no_such_field"):
        request = pb.UpdateCentralSystemRequest(
            id=cs.id, description="changed", update_mask=FieldMask(paths=["description", path])
        )
        ctx.expect_error(
            partial(ctx.central_systems.UpdateCentralSystem, request),
            INVALID,
            errors.INVALID_UPDATE_MASK,
            {"update_mask"},
        )
    got = ctx.central_systems.GetCentralSystem(pb.GetCentralSystemRequest(id=cs.id)).central_system
    ctx.expect_equal("description after rejected updates", got.description, "keep")


@case(S + "UpdateCentralSystem")
def central_system_rename_to_taken_name(ctx: Context) -> None:
    """Renaming to another central system's name is ALREADY_EXISTS; keeping one's own name is fine."""
    first, second = ctx.new_central_system(), ctx.new_central_system()
    ctx.expect_error(
        lambda: ctx.central_systems.UpdateCentralSystem(
            pb.UpdateCentralSystemRequest(id=first.id, name=second.name, update_mask=FieldMask(paths=["name"]))
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        errors.CENTRAL_SYSTEM_ALREADY_EXISTS,
    )
    same = pb.UpdateCentralSystemRequest(id=first.id, name=first.name, websocket_url="wss://moved.example")
    ctx.expect_equal(
        "websocket_url",
        ctx.central_systems.UpdateCentralSystem(same).central_system.websocket_url,
        "wss://moved.example",
    )


@case(S + "DeleteCentralSystem")
def central_system_delete_in_use_needs_force(ctx: Context) -> None:
    """Deleting a referenced central system without force is FAILED_PRECONDITION CENTRAL_SYSTEM_IN_USE."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    ctx.expect_error(
        lambda: ctx.central_systems.DeleteCentralSystem(pb.DeleteCentralSystemRequest(id=cs.id)),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.CENTRAL_SYSTEM_IN_USE,
    )
    still = ctx.mappings.GetAllMappings(map_pb.GetAllMappingsRequest(station_id=station)).mappings
    ctx.expect_equal("mappings after the refused delete", len(still), 1)


@case(S + "DeleteCentralSystem", "MappingService.GetAllMappings", "ConnectionService.ListWorkers")
def central_system_force_delete_cascades(ctx: Context) -> None:
    """Delete with force removes the central system's mappings, connections and worker, and nothing else."""
    cs, other = ctx.new_central_system(), ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id, is_master=True)
    ctx.new_mapping(station, other.id)
    ctx.connections.CreateConnection(conn_pb.CreateConnectionRequest(central_system_id=cs.id, station_id=station))
    ctx.connections.CreateConnection(conn_pb.CreateConnectionRequest(central_system_id=other.id, station_id=station))
    ctx.central_systems.DeleteCentralSystem(pb.DeleteCentralSystemRequest(id=cs.id, force=True))
    left = ctx.mappings.GetAllMappings(map_pb.GetAllMappingsRequest(station_id=station)).mappings
    ctx.expect_equal("mappings left for the station", [m.central_system_id for m in left], [other.id])
    basic = conn_pb.ListWorkersRequest(view=conn_pb.WORKER_VIEW_BASIC)
    workers = {w.central_system_id for w in ctx.walk(ctx.connections.ListWorkers, basic).items}
    ctx.expect(cs.id not in workers, f"no worker for deleted central system {cs.id}", sorted(workers))
    ctx.expect(other.id in workers, f"the worker of central system {other.id}", sorted(workers))
    kept = ctx.connections.GetWorkerConnections(conn_pb.GetWorkerConnectionsRequest(central_system_id=other.id))
    ctx.expect_equal("connections of the other worker", [c.station_id for c in kept.connections], [station])
