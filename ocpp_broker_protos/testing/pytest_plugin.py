"""pytest plugin: a running reference server and stubs for every service.

Registered through the ``pytest11`` entry point, so installing
``ocpp-broker-protos[server]`` is enough::

    def test_starts_empty(ocpp_central_system_stub):
        response = ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest())
        assert list(response.central_systems) == []

One server runs per test session on a free loopback port; ``ocpp_server``
empties its store before each test, so every test starts from a clean state.
Nothing here is imported until a fixture is used, so projects that install the
bindings without the server extra are not affected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc
import pytest

if TYPE_CHECKING:
    from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub
    from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
    from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub
    from ocpp_broker_protos.reference import ReferenceServer
    from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub


@pytest.fixture(scope="session")
def ocpp_reference_server() -> Iterator[ReferenceServer]:
    """The session's reference server; prefer ``ocpp_server``, which resets it."""
    from ocpp_broker_protos.reference import ReferenceServer

    with ReferenceServer() as server:
        yield server


@pytest.fixture
def ocpp_server(ocpp_reference_server: ReferenceServer) -> ReferenceServer:
    """The reference server, emptied for this test. Add data with ``.store``."""
    ocpp_reference_server.reset()
    return ocpp_reference_server


@pytest.fixture
def ocpp_channel(ocpp_server: ReferenceServer) -> Iterator[grpc.Channel]:
    """A channel to the (freshly reset) reference server, closed after the test."""
    with grpc.insecure_channel(ocpp_server.target) as channel:
        yield channel


@pytest.fixture
def ocpp_central_system_stub(ocpp_channel: grpc.Channel) -> CentralSystemServiceStub:
    from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub

    return CentralSystemServiceStub(ocpp_channel)


@pytest.fixture
def ocpp_connection_stub(ocpp_channel: grpc.Channel) -> ConnectionServiceStub:
    from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub

    return ConnectionServiceStub(ocpp_channel)


@pytest.fixture
def ocpp_mapping_stub(ocpp_channel: grpc.Channel) -> MappingServiceStub:
    from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub

    return MappingServiceStub(ocpp_channel)


@pytest.fixture
def ocpp_transaction_stub(ocpp_channel: grpc.Channel) -> TransactionServiceStub:
    from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub

    return TransactionServiceStub(ocpp_channel)
