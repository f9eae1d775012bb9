"""The plugin's asyncio fixtures: ``grpc.aio`` clients of the session's reference server.

Registered by the plugin only when pytest-asyncio is active (this module
imports it). With pytest-asyncio's defaults (strict mode, a new loop per test)
a test gets them like any fixture::

    @pytest.mark.asyncio
    async def test_starts_empty(ocpp_aio_central_system_stub):
        response = await ocpp_aio_central_system_stub.ListCentralSystems(ListCentralSystemsRequest())
        assert not response.central_systems

A ``grpc.aio`` channel belongs to the event loop it was made in, so these are
function-scoped and made in the loop pytest-asyncio gives a function-scoped
fixture: the test's own loop unless ``asyncio_default_fixture_loop_scope``
says otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceAsyncStub
    from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceAsyncStub
    from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceAsyncStub
    from ocpp_broker_protos.reference import ReferenceServer
    from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceAsyncStub


@pytest_asyncio.fixture
async def ocpp_aio_channel(
    ocpp_server: ReferenceServer, ocpp_channel_credentials: grpc.ChannelCredentials | None
) -> AsyncIterator[grpc.aio.Channel]:
    """A ``grpc.aio`` channel to the (freshly emptied) reference server, closed after the test.

    It connects with ``ocpp_channel_credentials``, like ``ocpp_channel``.
    """
    if ocpp_channel_credentials is None:
        channel = grpc.aio.insecure_channel(ocpp_server.target)
    else:
        channel = grpc.aio.secure_channel(ocpp_server.target, ocpp_channel_credentials)
    async with channel:
        yield channel


@pytest.fixture
def ocpp_aio_central_system_stub(ocpp_aio_channel: grpc.aio.Channel) -> CentralSystemServiceAsyncStub:
    """An asyncio CentralSystemService stub on ``ocpp_aio_channel``: every call is awaited."""
    from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub

    return CentralSystemServiceStub(ocpp_aio_channel)


@pytest.fixture
def ocpp_aio_connection_stub(ocpp_aio_channel: grpc.aio.Channel) -> ConnectionServiceAsyncStub:
    """An asyncio ConnectionService stub on ``ocpp_aio_channel``: every call is awaited."""
    from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub

    return ConnectionServiceStub(ocpp_aio_channel)


@pytest.fixture
def ocpp_aio_mapping_stub(ocpp_aio_channel: grpc.aio.Channel) -> MappingServiceAsyncStub:
    """An asyncio MappingService stub on ``ocpp_aio_channel``: every call is awaited."""
    from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub

    return MappingServiceStub(ocpp_aio_channel)


@pytest.fixture
def ocpp_aio_transaction_stub(ocpp_aio_channel: grpc.aio.Channel) -> TransactionServiceAsyncStub:
    """An asyncio TransactionService stub on ``ocpp_aio_channel``: every call is awaited."""
    from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub

    return TransactionServiceStub(ocpp_aio_channel)
