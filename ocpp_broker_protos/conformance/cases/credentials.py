"""Cases for the credentials scheme: who may call, and that a refused call changes nothing.

They run only when the kit has a token (and a reader token, for the
read-only cases). Each case sets up objects of its own with the admin token,
then calls every RPC of the four services with a request that would change
those objects if it were served, and checks the refusal and that a read-back
with the admin token sees the same state as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.conformance.credentials import READER_TOKEN, TOKEN
from ocpp_broker_protos.conformance.kit import CaseFailure, Context, case, describe_error
from ocpp_broker_protos.connection.v1 import connection_pb2 as conn_pb
from ocpp_broker_protos.credentials import admin_methods, is_read
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.transaction.v1 import transaction_pb2 as tx_pb

METHODS = admin_methods()
ALL = tuple(f"{m.containing_service.name}.{m.name}" for m in METHODS)
READS = tuple(name for name in ALL if is_read(name.split(".")[-1]))
WRITES = tuple(name for name in ALL if not is_read(name.split(".")[-1]))
HEALTH_CHECK = "/grpc.health.v1.Health/Check"


@dataclass(frozen=True)
class Scene:
    """Objects a case owns: two central systems, a connected and a disconnected station,
    and a name and a station id that nothing uses yet."""

    cs_id: int
    other_cs_id: int
    connected: str
    disconnected: str
    fresh_name: str
    fresh_station: str


def set_scene(ctx: Context) -> Scene:
    """Create the scene's objects with the context's own (admin) credentials."""
    cs, other = ctx.new_central_system(), ctx.new_central_system()
    connected, disconnected = ctx.station(), ctx.station()
    ctx.new_mapping(connected, cs.id, weight=5, is_master=True, is_enabled=True)
    ctx.new_mapping(connected, other.id, is_enabled=True)
    ctx.new_mapping(disconnected, cs.id, is_master=True, is_enabled=True)
    for station in (connected, disconnected):
        ctx.connections.CreateConnection(conn_pb.CreateConnectionRequest(central_system_id=cs.id, station_id=station))
    ctx.connections.DisconnectStation(
        conn_pb.DisconnectStationRequest(central_system_id=cs.id, station_id=disconnected)
    )
    return Scene(cs.id, other.id, connected, disconnected, ctx.name("never"), ctx.station())


def requests(scene: Scene) -> dict[str, Message]:
    """Per method name, a request that succeeds (reads) or changes the scene (writes) when served."""
    cs, other, connected, disconnected = scene.cs_id, scene.other_cs_id, scene.connected, scene.disconnected
    url = "wss://conformance.example/changed"
    return {
        "CreateCentralSystem": cs_pb.CreateCentralSystemRequest(name=scene.fresh_name, websocket_url=url),
        "GetCentralSystem": cs_pb.GetCentralSystemRequest(id=cs),
        "ListCentralSystems": cs_pb.ListCentralSystemsRequest(),
        "UpdateCentralSystem": cs_pb.UpdateCentralSystemRequest(
            id=cs, websocket_url=url, update_mask=FieldMask(paths=["websocket_url"])
        ),
        "DeleteCentralSystem": cs_pb.DeleteCentralSystemRequest(id=cs, force=True),
        "ListWorkers": conn_pb.ListWorkersRequest(),
        "GetWorker": conn_pb.GetWorkerRequest(central_system_id=cs),
        "GetWorkerConnections": conn_pb.GetWorkerConnectionsRequest(central_system_id=cs),
        "CreateConnection": conn_pb.CreateConnectionRequest(central_system_id=other, station_id=connected),
        "RecreateConnection": conn_pb.RecreateConnectionRequest(central_system_id=cs, station_id=disconnected),
        "DisconnectStation": conn_pb.DisconnectStationRequest(central_system_id=cs, station_id=connected),
        "GetAllMappings": map_pb.GetAllMappingsRequest(station_id=connected),
        "CreateMapping": map_pb.CreateMappingRequest(station_id=scene.fresh_station, central_system_id=cs),
        "UpdateMapping": map_pb.UpdateMappingRequest(
            station_id=connected, central_system_id=cs, weight=6, update_mask=FieldMask(paths=["weight"])
        ),
        "DeleteMapping": map_pb.DeleteMappingRequest(station_id=connected, central_system_id=cs),
        "GetAllTransactions": tx_pb.GetAllTransactionsRequest(limit=1),
    }


def request_for(samples: dict[str, Message], method: MethodDescriptor) -> Message:
    """The sample request of method; an empty one for an RPC the samples do not know."""
    if method.name in samples:
        return samples[method.name]
    empty: Message = message_factory.GetMessageClass(method.input_type)()
    return empty


def call(channel: grpc.Channel, method: MethodDescriptor, request: Message) -> Message:
    """Call method (any RPC of the four services) on channel."""
    response: type[Message] = message_factory.GetMessageClass(method.output_type)
    stub = channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=type(request).SerializeToString,
        response_deserializer=response.FromString,
    )
    result: Message = stub(request)
    return result


def picture(ctx: Context, scene: Scene) -> dict[str, bytes]:
    """What the admin token reads of the scene, part by part."""
    cs = ctx.central_systems
    named = [c for c in cs.ListCentralSystems(cs_pb.ListCentralSystemsRequest()).central_systems]
    parts: dict[str, Callable[[], Message]] = {
        "central system": lambda: cs.GetCentralSystem(cs_pb.GetCentralSystemRequest(id=scene.cs_id)),
        "other central system": lambda: cs.GetCentralSystem(cs_pb.GetCentralSystemRequest(id=scene.other_cs_id)),
        "connections": lambda: ctx.connections.GetWorkerConnections(
            conn_pb.GetWorkerConnectionsRequest(central_system_id=scene.cs_id)
        ),
        "other connections": lambda: ctx.connections.GetWorkerConnections(
            conn_pb.GetWorkerConnectionsRequest(central_system_id=scene.other_cs_id)
        ),
        "mappings": lambda: ctx.mappings.GetAllMappings(map_pb.GetAllMappingsRequest(central_system_id=scene.cs_id)),
        "mappings of the unused station": lambda: ctx.mappings.GetAllMappings(
            map_pb.GetAllMappingsRequest(station_id=scene.fresh_station)
        ),
    }
    seen = {label: read().SerializeToString(deterministic=True) for label, read in parts.items()}
    seen["central systems named like the create"] = repr([c.id for c in named if c.name == scene.fresh_name]).encode()
    return seen


def expect_unchanged(ctx: Context, scene: Scene, before: dict[str, bytes], calls: str) -> None:
    after = picture(ctx, scene)
    for label, value in before.items():
        if after[label] != value:
            raise CaseFailure(f"{calls} to change nothing", f"the {label} changed")


def expect_refused_everywhere(
    ctx: Context, token: str | None, code: grpc.StatusCode, reason: str, writes: bool
) -> None:
    """Every RPC (only the writes, when writes is set) with token is refused with code and reason; nothing changes."""
    scene = set_scene(ctx)
    before = picture(ctx, scene)
    channel = ctx.channel_as(token)
    samples = requests(scene)
    for method in METHODS:
        if writes and is_read(method.name):
            continue
        request = request_for(samples, method)
        try:
            ctx.expect_error(lambda m=method, r=request: call(channel, m, r), code, reason)  # type: ignore[misc]
        except CaseFailure as failure:
            raise CaseFailure(f"{method.name}: {failure.expected}", failure.got) from None
    expect_unchanged(ctx, scene, before, "the refused calls")


def wrong_token(ctx: Context) -> str:
    mine = {ctx.credentials.token, ctx.credentials.reader_token} if ctx.credentials else set()
    token = f"conformance-wrong-{uuid.uuid4().hex}"
    return token if token not in mine else token + "x"


@case(*ALL, needs=(TOKEN,))
def credentials_missing_is_unauthenticated(ctx: Context) -> None:
    """Every RPC without credentials is UNAUTHENTICATED CREDENTIALS_MISSING and changes nothing, while
    grpc.health.v1.Health/Check still answers without credentials."""
    expect_refused_everywhere(ctx, None, grpc.StatusCode.UNAUTHENTICATED, errors.CREDENTIALS_MISSING, writes=False)
    health: grpc.UnaryUnaryMultiCallable[bytes, bytes] = ctx.channel_as(None).unary_unary(HEALTH_CHECK)
    try:
        health(b"")
    except grpc.RpcError as error:
        raise CaseFailure("Health/Check to answer without credentials", describe_error(error)) from None


@case(*ALL, needs=(TOKEN,))
def credentials_wrong_token_is_unauthenticated(ctx: Context) -> None:
    """Every RPC with a token the server does not know is UNAUTHENTICATED CREDENTIALS_INVALID and changes nothing."""
    expect_refused_everywhere(
        ctx, wrong_token(ctx), grpc.StatusCode.UNAUTHENTICATED, errors.CREDENTIALS_INVALID, writes=False
    )


@case(*READS, needs=(TOKEN, READER_TOKEN))
def reader_token_reads(ctx: Context) -> None:
    """Every read RPC (Get, List, GetAll) succeeds with the read-only token."""
    assert ctx.credentials is not None
    scene = set_scene(ctx)
    channel = ctx.channel_as(ctx.credentials.reader_token)
    samples = requests(scene)
    for method in METHODS:
        if is_read(method.name):
            try:
                call(channel, method, request_for(samples, method))
            except grpc.RpcError as error:
                raise CaseFailure(f"{method.name} with the read-only token to succeed", describe_error(error)) from None


@case(*WRITES, needs=(TOKEN, READER_TOKEN))
def reader_token_cannot_write(ctx: Context) -> None:
    """Every write RPC with the read-only token is PERMISSION_DENIED READ_ONLY_CREDENTIALS and changes nothing."""
    assert ctx.credentials is not None
    expect_refused_everywhere(
        ctx,
        ctx.credentials.reader_token,
        grpc.StatusCode.PERMISSION_DENIED,
        errors.READ_ONLY_CREDENTIALS,
        writes=True,
    )
