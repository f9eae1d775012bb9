"""The server around the services: lifecycle, health, reflection, asyncio clients, limits."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from ocpp_broker_protos.reference import ReferenceServer, Store
from ocpp_broker_protos.reference.server import MAX_RECEIVE_MESSAGE_BYTES
from tests.contract_modules import all_services
from tests.rpc_checks import expect_error


def test_context_manager_binds_a_free_loopback_port_and_stops():
    with ReferenceServer() as first, ReferenceServer() as second:
        assert first.target.startswith("127.0.0.1:")
        assert first.port != second.port
        with grpc.insecure_channel(first.target) as channel:
            stub = cs_grpc.CentralSystemServiceStub(channel)
            stub.CreateCentralSystem(cs_pb.CreateCentralSystemRequest(name="A", websocket_url="ws://a"))
            assert len(first.store.list_central_systems()) == 1
            assert second.store.list_central_systems() == []
        stopped_target = second.target
    with pytest.raises(RuntimeError):
        _ = first.target
    with grpc.insecure_channel(stopped_target) as channel:
        with pytest.raises(grpc.RpcError) as raised:
            cs_grpc.CentralSystemServiceStub(channel).ListCentralSystems(cs_pb.ListCentralSystemsRequest(), timeout=2)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_given_store_is_served_and_reset_empties_it():
    store = Store()
    store.create_central_system("Preloaded", "wss://p.example")
    with ReferenceServer(store=store) as server, grpc.insecure_channel(server.target) as channel:
        stub = cs_grpc.CentralSystemServiceStub(channel)
        assert [cs.name for cs in stub.ListCentralSystems(cs_pb.ListCentralSystemsRequest()).central_systems] == [
            "Preloaded"
        ]
        server.reset()
        assert list(stub.ListCentralSystems(cs_pb.ListCentralSystemsRequest()).central_systems) == []


def test_health_reports_every_service_serving_then_not_serving_on_shutdown():
    server = ReferenceServer().start()
    names = ["", "grpc.health.v1.Health", *(s.full_name for s in all_services())]
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in names:
            status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
            assert status == health_pb2.HealthCheckResponse.SERVING, name
        with pytest.raises(grpc.RpcError) as raised:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        server.stop(grace=2)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_a_server_started_again_after_stop_reports_serving_again():
    server = ReferenceServer()
    names = ["", *(s.full_name for s in all_services())]
    try:
        for round_ in range(3):
            server.start()
            with grpc.insecure_channel(server.target) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                for name in names:
                    status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
                    assert status == health_pb2.HealthCheckResponse.SERVING, (round_, name)
            server.stop(grace=0)
    finally:
        server.stop(grace=0)


def test_reflection_lists_every_service_and_serves_the_contract_files(ocpp_server, ocpp_channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(ocpp_channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        *(reflection_pb2.ServerReflectionRequest(file_containing_symbol=s.full_name) for s in all_services()),
    ]
    responses = list(stub.ServerReflectionInfo(iter(requests)))
    listed = {s.name for s in responses[0].list_services_response.service}
    assert listed == {
        *(s.full_name for s in all_services()),
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    for response in responses[1:]:
        assert response.file_descriptor_response.file_descriptor_proto


def test_asyncio_clients_work_against_the_server(ocpp_server):
    async def scenario() -> list[str]:
        async with grpc.aio.insecure_channel(ocpp_server.target) as channel:
            stub = cs_grpc.CentralSystemServiceStub(channel)
            await asyncio.gather(
                *(
                    stub.CreateCentralSystem(cs_pb.CreateCentralSystemRequest(name=f"cs{i}", websocket_url="ws://x"))
                    for i in range(20)
                )
            )
            listed = await stub.ListCentralSystems(cs_pb.ListCentralSystemsRequest())
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.GetCentralSystem(cs_pb.GetCentralSystemRequest(id=999))
            assert raised.value.code() == grpc.StatusCode.NOT_FOUND
            return [cs.name for cs in listed.central_systems]

    names = asyncio.run(scenario())
    assert sorted(names) == sorted(f"cs{i}" for i in range(20))


def test_a_request_above_the_size_limit_is_resource_exhausted(ocpp_server, ocpp_central_system_stub):
    huge = cs_pb.CreateCentralSystemRequest(
        name="x", websocket_url="ws://x", description="d" * MAX_RECEIVE_MESSAGE_BYTES
    )
    with pytest.raises(grpc.RpcError) as raised:
        ocpp_central_system_stub.CreateCentralSystem(huge)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert ocpp_server.store.list_central_systems() == []
    # Just below the limit the field rules answer instead.
    big = cs_pb.CreateCentralSystemRequest(name="x", websocket_url="ws://x", description="d" * 100_000)
    expect_error(
        lambda: ocpp_central_system_stub.CreateCentralSystem(big),
        grpc.StatusCode.INVALID_ARGUMENT,
        errors.INVALID_FIELD,
        {"description"},
        ocpp_server,
    )


def test_an_unexpected_failure_is_internal_without_internals(ocpp_server, ocpp_central_system_stub, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyError("/secret/path/store.py line 42")

    monkeypatch.setattr(ocpp_server.store, "list_central_systems", explode)
    failure = expect_error(
        lambda: ocpp_central_system_stub.ListCentralSystems(cs_pb.ListCentralSystemsRequest()),
        grpc.StatusCode.INTERNAL,
        errors.INTERNAL,
    )
    assert "secret" not in (failure.details() or "")
