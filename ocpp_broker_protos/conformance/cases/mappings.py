"""Cases for MappingService: keys, the master rule, masks and cascades."""

from __future__ import annotations

from functools import partial

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.conformance.kit import Context, case
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as pb

S = "MappingService."


def _update(ctx: Context, station: str, cs_id: int, paths: list[str] | None = None, **values: object) -> pb.Mapping:
    request = pb.UpdateMappingRequest(station_id=station, central_system_id=cs_id, **values)  # type: ignore[arg-type]
    if paths is not None:
        request.update_mask.CopyFrom(FieldMask(paths=paths))
    return ctx.mappings.UpdateMapping(request).mapping


@case(S + "CreateMapping", S + "GetAllMappings")
def mapping_create_and_filter(ctx: Context) -> None:
    """CreateMapping returns the stored mapping; GetAllMappings filters by station and central system."""
    cs, other = ctx.new_central_system(), ctx.new_central_system()
    station = ctx.station()
    created = ctx.new_mapping(station, cs.id, weight=7, is_master=True)
    expected = pb.Mapping(station_id=station, central_system_id=cs.id, weight=7, is_master=True, is_enabled=True)
    ctx.expect_equal("created", created, expected)
    ctx.new_mapping(station, other.id, weight=3)
    by_station = ctx.mappings.GetAllMappings(pb.GetAllMappingsRequest(station_id=station)).mappings
    ctx.expect_equal("mappings of the station", [m.central_system_id for m in by_station], sorted([cs.id, other.id]))
    both = ctx.mappings.GetAllMappings(pb.GetAllMappingsRequest(station_id=station, central_system_id=cs.id)).mappings
    ctx.expect_equal("mappings of the pair", list(both), [expected])
    by_cs = ctx.mappings.GetAllMappings(pb.GetAllMappingsRequest(central_system_id=other.id)).mappings
    ctx.expect_equal("mappings of the other central system", [m.station_id for m in by_cs], [station])


#: Unfiltered mappings a case reads at most: a sample, however many the target holds.
SAMPLE = 2000


@case(S + "GetAllMappings")
def mappings_listed_in_key_order(ctx: Context) -> None:
    """GetAllMappings is ordered by (station_id, central_system_id), filtered or not (first 2000 unfiltered)."""
    cs, other = ctx.new_central_system(), ctx.new_central_system()
    base = ctx.station()
    for suffix, cs_id in (("-b", cs.id), ("-a", other.id), ("-a", cs.id), ("-b", other.id)):
        ctx.new_mapping(base + suffix, cs_id)
    by_cs = pb.GetAllMappingsRequest(central_system_id=cs.id)
    by_station = pb.GetAllMappingsRequest(station_id=base + "-a")
    for what, request, expected in (
        ("mappings of one central system", by_cs, [(base + "-a", cs.id), (base + "-b", cs.id)]),
        ("mappings of one station", by_station, sorted([(base + "-a", cs.id), (base + "-a", other.id)])),
    ):
        keys = [(m.station_id, m.central_system_id) for m in ctx.mappings.GetAllMappings(request).mappings]
        ctx.expect_equal(what, keys, expected)
    sample = ctx.walk(ctx.mappings.GetAllMappings, pb.GetAllMappingsRequest(), max_items=SAMPLE).items
    keys = [(m.station_id, m.central_system_id) for m in sample]
    ctx.expect_equal("order of the first unfiltered mappings", keys, sorted(keys))


@case(S + "CreateMapping")
def mapping_needs_an_existing_central_system(ctx: Context) -> None:
    """CreateMapping to a central system that does not exist is FAILED_PRECONDITION UNKNOWN_CENTRAL_SYSTEM."""
    gone = ctx.new_central_system()
    ctx.central_systems.DeleteCentralSystem(cs_pb.DeleteCentralSystemRequest(id=gone.id))
    ctx.expect_error(
        lambda: ctx.new_mapping(ctx.station(), gone.id),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.UNKNOWN_CENTRAL_SYSTEM,
    )


@case(S + "CreateMapping")
def mapping_key_is_unique(ctx: Context) -> None:
    """A second mapping of the same station to the same central system is ALREADY_EXISTS."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    ctx.expect_error(
        lambda: ctx.new_mapping(station, cs.id, weight=5), grpc.StatusCode.ALREADY_EXISTS, errors.MAPPING_ALREADY_EXISTS
    )


@case(S + "CreateMapping")
def mapping_fields_are_validated(ctx: Context) -> None:
    """Malformed station_id, non-positive central_system_id and negative weight are INVALID_ARGUMENT naming each."""
    cs = ctx.new_central_system()
    checks = [
        ("", cs.id, 0, {"station_id"}),
        ("has space", cs.id, 0, {"station_id"}),
        ("x" * 49, cs.id, 0, {"station_id"}),
        (ctx.station(), 0, 0, {"central_system_id"}),
        (ctx.station(), cs.id, -1, {"weight"}),
        ("bad/id", -1, -1, {"station_id", "central_system_id", "weight"}),
    ]
    for station, cs_id, weight, fields in checks:
        ctx.expect_error(
            partial(ctx.new_mapping, station, cs_id, weight=weight),
            grpc.StatusCode.INVALID_ARGUMENT,
            errors.INVALID_FIELD,
            fields,
        )


@case(S + "CreateMapping")
def one_enabled_master_on_create(ctx: Context) -> None:
    """A second enabled master for a station is FAILED_PRECONDITION SECOND_ENABLED_MASTER; a disabled one is allowed."""
    first, second = ctx.new_central_system(), ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, first.id, is_master=True)
    ctx.expect_error(
        lambda: ctx.new_mapping(station, second.id, is_master=True),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.SECOND_ENABLED_MASTER,
    )
    ctx.new_mapping(station, second.id, is_master=True, is_enabled=False)


@case(S + "UpdateMapping")
def one_enabled_master_on_update(ctx: Context) -> None:
    """Enabling a second master, or making a second enabled mapping master, is SECOND_ENABLED_MASTER."""
    first, second, third = ctx.new_central_system(), ctx.new_central_system(), ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, first.id, is_master=True)
    ctx.new_mapping(station, second.id, is_master=True, is_enabled=False)
    ctx.new_mapping(station, third.id)
    ctx.expect_error(
        lambda: _update(ctx, station, second.id, ["is_enabled"], is_enabled=True),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.SECOND_ENABLED_MASTER,
    )
    ctx.expect_error(
        lambda: _update(ctx, station, third.id, ["is_master"], is_master=True),
        grpc.StatusCode.FAILED_PRECONDITION,
        errors.SECOND_ENABLED_MASTER,
    )
    masters = [
        m.central_system_id
        for m in ctx.mappings.GetAllMappings(pb.GetAllMappingsRequest(station_id=station)).mappings
        if m.is_master and m.is_enabled
    ]
    ctx.expect_equal("enabled masters", masters, [first.id])


@case(S + "UpdateMapping")
def mapping_update_without_mask_replaces_all(ctx: Context) -> None:
    """Without update_mask, weight, is_master and is_enabled are all replaced."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id, weight=5, is_master=True)
    updated = _update(ctx, station, cs.id, None, weight=2)
    ctx.expect_equal("updated", updated, pb.Mapping(station_id=station, central_system_id=cs.id, weight=2))


@case(S + "UpdateMapping")
def mapping_update_mask_limits_the_change(ctx: Context) -> None:
    """With update_mask only the listed paths change."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id, weight=5, is_master=True)
    updated = _update(ctx, station, cs.id, ["weight"], weight=9)
    expected = pb.Mapping(station_id=station, central_system_id=cs.id, weight=9, is_master=True, is_enabled=True)
    ctx.expect_equal("updated", updated, expected)


@case(S + "UpdateMapping")
def mapping_update_mask_paths_are_checked(ctx: Context) -> None:
    """A mask naming a key field or an unknown path is INVALID_ARGUMENT INVALID_UPDATE_MASK."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    for path in ("station_id", "central_system_id", "bogus"):
        ctx.expect_error(
            partial(_update, ctx, station, cs.id, [path]),
            grpc.StatusCode.INVALID_ARGUMENT,
            errors.INVALID_UPDATE_MASK,
            {"update_mask"},
        )


@case(S + "UpdateMapping", S + "DeleteMapping")
def mapping_must_exist(ctx: Context) -> None:
    """Update and Delete of a mapping that does not exist are NOT_FOUND MAPPING_NOT_FOUND."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.expect_error(lambda: _update(ctx, station, cs.id, None), grpc.StatusCode.NOT_FOUND, errors.MAPPING_NOT_FOUND)
    ctx.expect_error(
        lambda: ctx.mappings.DeleteMapping(pb.DeleteMappingRequest(station_id=station, central_system_id=cs.id)),
        grpc.StatusCode.NOT_FOUND,
        errors.MAPPING_NOT_FOUND,
    )


@case(S + "UpdateMapping", "ConnectionService.GetWorkerConnections")
def disabling_a_mapping_disconnects(ctx: Context) -> None:
    """Disabling a mapping leaves its connection in place with connected=false."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id, is_master=True)
    ctx.connections.CreateConnection(conn_pb.CreateConnectionRequest(central_system_id=cs.id, station_id=station))
    _update(ctx, station, cs.id, ["is_enabled"], is_enabled=False)
    listed = ctx.connections.GetWorkerConnections(conn_pb.GetWorkerConnectionsRequest(central_system_id=cs.id))
    expected = [conn_pb.ConnectionInfo(station_id=station, central_system_id=cs.id, connected=False)]
    ctx.expect_equal("connections after disabling", list(listed.connections), expected)


@case(S + "DeleteMapping", "ConnectionService.GetWorker")
def deleting_a_mapping_removes_its_connection(ctx: Context) -> None:
    """Deleting a mapping removes the mapping and the connection of its pair."""
    cs = ctx.new_central_system()
    station = ctx.station()
    ctx.new_mapping(station, cs.id)
    ctx.connections.CreateConnection(conn_pb.CreateConnectionRequest(central_system_id=cs.id, station_id=station))
    ctx.mappings.DeleteMapping(pb.DeleteMappingRequest(station_id=station, central_system_id=cs.id))
    worker = ctx.connections.GetWorker(conn_pb.GetWorkerRequest(central_system_id=cs.id)).worker
    ctx.expect_equal("connections after the delete", (worker.connections_count, list(worker.connections)), (0, []))
    left = ctx.mappings.GetAllMappings(pb.GetAllMappingsRequest(station_id=station)).mappings
    ctx.expect_equal("mappings after the delete", list(left), [])
