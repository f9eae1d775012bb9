"""ocpp_broker_protos.errors, as a client uses it: on the errors of real calls
to the reference server, from sync and from asyncio stubs alike, and from a
base install that has neither the server nor the conformance extra."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1 import central_system_pb2 as cs_pb
from ocpp_broker_protos.central_system.v1 import central_system_pb2_grpc as cs_grpc
from ocpp_broker_protos.mapping.v1 import mapping_pb2 as map_pb
from ocpp_broker_protos.mapping.v1 import mapping_pb2_grpc as map_grpc
from ocpp_broker_protos.reference import ReferenceServer
from ocpp_broker_protos.reference.validation import INT32_MAX
from tests.contract_docs import rpc_errors


@dataclass(frozen=True)
class Expected:
    code: grpc.StatusCode
    reason: str
    metadata: dict[str, str]
    violations: dict[str, str]  # field -> a part of its description


def seed(server: ReferenceServer) -> dict[str, int]:
    store = server.store
    a = store.create_central_system("Alpha", "wss://a.example").id
    b = store.create_central_system("Bravo", "wss://b.example").id
    store.create_mapping("CP-1", a, is_master=True, is_enabled=True)
    return {"a": a, "b": b}


# Each scenario: the request to send (built from the seeded ids) and what the
# error must carry.
Scenario = tuple[str, Callable[[dict[str, int]], tuple[str, Any]], Callable[[dict[str, int]], Expected]]
SCENARIOS: list[Scenario] = [
    (
        "second enabled master",
        lambda ids: (
            "CreateMapping",
            map_pb.CreateMappingRequest(station_id="CP-1", central_system_id=ids["b"], is_master=True, is_enabled=True),
        ),
        lambda ids: Expected(
            grpc.StatusCode.FAILED_PRECONDITION,
            errors.SECOND_ENABLED_MASTER,
            {"station_id": "CP-1", "master_central_system_id": str(ids["a"])},
            {},
        ),
    ),
    (
        "central system not found",
        lambda ids: ("GetCentralSystem", cs_pb.GetCentralSystemRequest(id=404)),
        lambda ids: Expected(
            grpc.StatusCode.NOT_FOUND, errors.CENTRAL_SYSTEM_NOT_FOUND, {"central_system_id": "404"}, {}
        ),
    ),
    (
        "bad fields",
        lambda ids: ("CreateCentralSystem", cs_pb.CreateCentralSystemRequest(name=" ", websocket_url="http://x")),
        lambda ids: Expected(
            grpc.StatusCode.INVALID_ARGUMENT,
            errors.INVALID_FIELD,
            {},
            {"name": "must not be empty or blank", "websocket_url": "scheme must be ws or wss"},
        ),
    ),
    (
        "two bad mask paths on one field",
        lambda ids: (
            "UpdateCentralSystem",
            cs_pb.UpdateCentralSystemRequest(id=ids["a"], update_mask=FieldMask(paths=["id", "nope"])),
        ),
        lambda ids: Expected(
            grpc.StatusCode.INVALID_ARGUMENT,
            errors.INVALID_UPDATE_MASK,
            {},
            {
                "update_mask": "'id' names a field that cannot be changed; mutable fields: name, websocket_url, "
                "description; path 'nope' is not a field"
            },
        ),
    ),
]


def stub_for(method: str, channel: Any) -> Any:
    if method.endswith("Mapping"):
        return map_grpc.MappingServiceStub(channel)
    return cs_grpc.CentralSystemServiceStub(channel)


def service_of(method: str) -> str:
    return "MappingService" if method.endswith("Mapping") else "CentralSystemService"


def check(error: grpc.RpcError, expected: Expected, method: str) -> None:
    assert isinstance(error, (grpc.Call, grpc.aio.AioRpcError))
    assert error.code() == expected.code
    assert errors.reason(error) == expected.reason
    info = errors.error_info(error)
    assert info is not None
    assert (info.domain, info.reason) == (errors.DOMAIN, expected.reason)
    assert dict(info.metadata) == expected.metadata
    # What arrives is what the RPC's comment documents.
    assert set(info.metadata) == rpc_errors()[(service_of(method), method)][expected.reason]
    found = errors.field_violations(error)
    assert set(found) == set(expected.violations)
    for field, part in expected.violations.items():
        assert part in found[field], found[field]
    status = errors.status(error)
    assert status is not None
    assert (status.code, status.message) == (expected.code.value[0], error.details())


@pytest.mark.parametrize(("what", "request_for", "expected_for"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_helpers_on_sync_errors(ocpp_server, ocpp_channel, what, request_for, expected_for):
    ids = seed(ocpp_server)
    method, request = request_for(ids)
    with pytest.raises(grpc.RpcError) as raised:
        getattr(stub_for(method, ocpp_channel), method)(request, timeout=10)
    check(raised.value, expected_for(ids), method)


@pytest.mark.parametrize(("what", "request_for", "expected_for"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_helpers_on_asyncio_errors(ocpp_server, what, request_for, expected_for):
    ids = seed(ocpp_server)
    method, request = request_for(ids)

    async def call() -> grpc.aio.AioRpcError:
        async with grpc.aio.insecure_channel(ocpp_server.target) as channel:
            try:
                await getattr(stub_for(method, channel), method)(request, timeout=10)
            except grpc.aio.AioRpcError as error:
                return error
        raise AssertionError("the call succeeded")

    check(asyncio.run(call()), expected_for(ids), method)


def test_ids_exhausted_is_resource_exhausted_over_both_stubs(ocpp_server, ocpp_channel):
    ocpp_server.store.add_central_system(cs_pb.CentralSystem(id=INT32_MAX, name="Last", websocket_url="ws://l.example"))
    before = ocpp_server.store.snapshot()
    request = cs_pb.CreateCentralSystemRequest(name="One more", websocket_url="ws://m.example")
    expected = Expected(grpc.StatusCode.RESOURCE_EXHAUSTED, errors.CENTRAL_SYSTEM_IDS_EXHAUSTED, {}, {})
    with pytest.raises(grpc.RpcError) as raised:
        cs_grpc.CentralSystemServiceStub(ocpp_channel).CreateCentralSystem(request, timeout=10)
    check(raised.value, expected, "CreateCentralSystem")

    async def call() -> cs_pb.CreateCentralSystemResponse:
        async with grpc.aio.insecure_channel(ocpp_server.target) as channel:
            return await cs_grpc.CentralSystemServiceStub(channel).CreateCentralSystem(request, timeout=10)

    with pytest.raises(grpc.aio.AioRpcError) as aio_raised:
        asyncio.run(call())
    check(aio_raised.value, expected, "CreateCentralSystem")
    assert ocpp_server.store.snapshot() == before


NOPE = "/ocpp_broker_protos.central_system.v1.CentralSystemService/Nope"


def test_an_error_without_details_gives_empty_answers(ocpp_server, ocpp_channel):
    # A method the server does not have: gRPC's own UNIMPLEMENTED, no details.
    unknown = ocpp_channel.unary_unary(NOPE, request_serializer=bytes, response_deserializer=bytes)
    with pytest.raises(grpc.RpcError) as raised:
        unknown(b"", timeout=10)
    error = raised.value
    assert (errors.status(error), errors.error_info(error)) == (None, None)
    assert (errors.reason(error), errors.field_violations(error)) == ("", {})

    async def call() -> grpc.aio.AioRpcError:
        async with grpc.aio.insecure_channel(ocpp_server.target) as channel:
            try:
                nope = channel.unary_unary(NOPE, request_serializer=bytes, response_deserializer=bytes)
                await nope(b"", timeout=10)
            except grpc.aio.AioRpcError as failure:
                return failure
        raise AssertionError("the call succeeded")

    aio_error = asyncio.run(call())
    assert aio_error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert (errors.reason(aio_error), errors.field_violations(aio_error), errors.error_info(aio_error)) == (
        "",
        {},
        None,
    )


def test_reasons_are_their_own_names_and_unique():
    public = {name for name in errors.__all__ if name.isupper()} - {"DOMAIN", "REASONS", "STATUS_DETAILS_KEY"}
    assert {getattr(errors, name) for name in public} == errors.REASONS
    assert all(getattr(errors, name) == name for name in public)


def test_the_module_imports_without_the_server_and_conformance_extras():
    # A client-only install has neither sortedcontainers nor grpcio-status;
    # block both and import the module and every generated one.
    script = textwrap.dedent(
        """
        import importlib, importlib.abc, sys

        class Missing(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("sortedcontainers", "grpc_status", "grpc_health", "grpc_reflection"):
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, Missing())
        from ocpp_broker_protos import errors
        for area in ("central_system", "connection", "mapping", "transaction"):
            importlib.import_module(f"ocpp_broker_protos.{area}.v1.{area}_pb2_grpc")
        try:
            import ocpp_broker_protos.reference
        except ModuleNotFoundError:
            pass
        else:
            raise SystemExit("the blocker does not work")
        assert errors.reason(Exception()) == ""
        print(len(errors.REASONS), errors.DOMAIN)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(errors.REASONS)), errors.DOMAIN]


class _Failure(grpc.RpcError):
    """A failed call as a client sees it, with a given code and trailer."""

    def __init__(self, code: grpc.StatusCode, details: bytes) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def trailing_metadata(self) -> Any:  # the pairs a sync call gives
        return ((errors.STATUS_DETAILS_KEY, self._details),)


def test_a_status_for_another_code_or_garbled_is_ignored():
    from google.protobuf import any_pb2
    from google.rpc import error_details_pb2, status_pb2

    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.ErrorInfo(reason=errors.MAPPING_NOT_FOUND, domain=errors.DOMAIN))
    sent = status_pb2.Status(code=grpc.StatusCode.NOT_FOUND.value[0], details=[packed]).SerializeToString()
    assert errors.reason(_Failure(grpc.StatusCode.NOT_FOUND, sent)) == errors.MAPPING_NOT_FOUND
    # A proxy turned the outcome into UNAVAILABLE: the details no longer describe it.
    assert errors.reason(_Failure(grpc.StatusCode.UNAVAILABLE, sent)) == ""
    assert errors.status(_Failure(grpc.StatusCode.NOT_FOUND, b"\xff\xff garbage")) is None
