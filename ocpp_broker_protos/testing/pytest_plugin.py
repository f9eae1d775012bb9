"""pytest plugin: a running reference server and stubs for every service.

Registered through the ``pytest11`` entry point, so installing
``ocpp-broker-protos[server]`` is enough::

    def test_starts_empty(ocpp_central_system_stub):
        response = ocpp_central_system_stub.ListCentralSystems(ListCentralSystemsRequest())
        assert list(response.central_systems) == []

One server runs per test session on a free loopback port; ``ocpp_server``
empties its store before each test, so every test starts from a clean state.
Nothing here is imported until a fixture is used, so projects that install the
bindings without the server extra are not affected; using a server fixture
without it fails the test with the ``pip install`` line to run.

With pytest-asyncio active, ``ocpp_aio_channel`` and ``ocpp_aio_<service>_stub``
give ``grpc.aio`` clients (see :mod:`ocpp_broker_protos.testing.aio_fixtures`);
without it, those fixtures say to install it, and nothing else needs it.
bindings without the server extra are not affected.

To test a client's credentials path, run the session server with TLS and
tokens by overriding two fixtures in your ``conftest.py``: ``ocpp_server_options``
(keyword arguments of ``ReferenceServer``) and ``ocpp_channel_credentials``
(what ``ocpp_channel`` connects with)::

    TOKEN = "test-admin-token-0123456789"

    @pytest.fixture(scope="session")
    def ocpp_server_options(ocpp_test_pki):
        return {"tls_cert": ocpp_test_pki.server_cert, "tls_key": ocpp_test_pki.server_key,
                "tokens": Tokens(admin=[TOKEN])}

    @pytest.fixture(scope="session")
    def ocpp_channel_credentials(ocpp_test_pki):
        return credentials.channel_credentials(TOKEN, root_certificates=ocpp_test_pki.read("ca_cert"))

``ocpp_test_pki`` makes a throwaway CA with a server and a client certificate
(it needs the ``openssl`` command); ``ocpp_server_factory`` starts further
servers with any ``ReferenceServer`` arguments for one test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
import pytest

from ocpp_broker_protos.extras import missing_extra_message

if TYPE_CHECKING:
    from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub
    from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub
    from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub
    from ocpp_broker_protos.reference import ReferenceServer
    from ocpp_broker_protos.testing.certificates import TestPki
    from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub


def pytest_configure(config: pytest.Config) -> None:
    """Register the asyncio fixtures: the real ones only when pytest-asyncio is active."""
    if config.pluginmanager.hasplugin("asyncio"):
        from ocpp_broker_protos.testing import aio_fixtures

        config.pluginmanager.register(aio_fixtures, "ocpp_broker_protos.aio_fixtures")
    else:
        config.pluginmanager.register(_AioFixturesNeedPytestAsyncio(), "ocpp_broker_protos.aio_fixtures")


@pytest.fixture(scope="session")
def ocpp_server_options() -> dict[str, Any]:
    """Keyword arguments of the session's ``ReferenceServer``; override it for TLS, tokens or an access log."""
    return {}


@pytest.fixture(scope="session")
def ocpp_channel_credentials() -> grpc.ChannelCredentials | None:
    """What ``ocpp_channel`` connects with: None for plaintext; override it along with ``ocpp_server_options``."""
    return None


@pytest.fixture(scope="session")
def ocpp_test_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A throwaway CA, a server certificate for localhost and 127.0.0.1, and a client certificate."""
    from ocpp_broker_protos.testing.certificates import make_test_pki

    return make_test_pki(tmp_path_factory.mktemp("ocpp-pki"))


@pytest.fixture(scope="session")
def ocpp_reference_server(ocpp_server_options: dict[str, Any]) -> Iterator[ReferenceServer]:
    """The session's reference server, started once on a free loopback port.

    Prefer ``ocpp_server``, which empties it before each test. Needs the
    [server] extra: pip install 'ocpp-broker-protos[server]'.
    """
    try:
        from ocpp_broker_protos.reference import ReferenceServer
    except ImportError as error:
        pytest.fail(missing_extra_message("the ocpp_server fixture", "server", error), pytrace=False)

    with ReferenceServer(**ocpp_server_options) as server:
        yield server


@pytest.fixture
def ocpp_server_factory() -> Iterator[Callable[..., ReferenceServer]]:
    """Start further reference servers with any ``ReferenceServer`` arguments; they stop after the test."""
    from ocpp_broker_protos.reference import ReferenceServer

    started: list[ReferenceServer] = []

    def start(**kwargs: Any) -> ReferenceServer:
        server = ReferenceServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(grace=None)


@pytest.fixture
def ocpp_server(ocpp_reference_server: ReferenceServer) -> ReferenceServer:
    """The session's reference server, emptied for this test.

    Seed data through ``.store`` (``create_central_system``, ``create_mapping``,
    ``add_transaction``, ...) or ``.load_fixtures(path)`` (a JSON fixture file);
    connect to ``.target``.
    """
    ocpp_reference_server.reset()
    return ocpp_reference_server


@pytest.fixture
def ocpp_channel(
    ocpp_server: ReferenceServer, ocpp_channel_credentials: grpc.ChannelCredentials | None
) -> Iterator[grpc.Channel]:
    """A ``grpc.Channel`` to the (freshly emptied) reference server, closed after the test."""
    if ocpp_channel_credentials is None:
        channel = grpc.insecure_channel(ocpp_server.target)
    else:
        channel = grpc.secure_channel(ocpp_server.target, ocpp_channel_credentials)
    with channel:
        yield channel


@pytest.fixture
def ocpp_central_system_stub(ocpp_channel: grpc.Channel) -> CentralSystemServiceStub:
    """A CentralSystemService stub on ``ocpp_channel``."""
    from ocpp_broker_protos.central_system.v1.central_system_pb2_grpc import CentralSystemServiceStub

    return CentralSystemServiceStub(ocpp_channel)


@pytest.fixture
def ocpp_connection_stub(ocpp_channel: grpc.Channel) -> ConnectionServiceStub:
    """A ConnectionService stub on ``ocpp_channel``."""
    from ocpp_broker_protos.connection.v1.connection_pb2_grpc import ConnectionServiceStub

    return ConnectionServiceStub(ocpp_channel)


@pytest.fixture
def ocpp_mapping_stub(ocpp_channel: grpc.Channel) -> MappingServiceStub:
    """A MappingService stub on ``ocpp_channel``."""
    from ocpp_broker_protos.mapping.v1.mapping_pb2_grpc import MappingServiceStub

    return MappingServiceStub(ocpp_channel)


@pytest.fixture
def ocpp_transaction_stub(ocpp_channel: grpc.Channel) -> TransactionServiceStub:
    """A TransactionService stub on ``ocpp_channel``."""
    from ocpp_broker_protos.transaction.v1.transaction_pb2_grpc import TransactionServiceStub

    return TransactionServiceStub(ocpp_channel)


NEEDS_PYTEST_ASYNCIO = "the ocpp_aio_* fixtures need pytest-asyncio: pip install pytest-asyncio"


def _needs_pytest_asyncio() -> NoReturn:
    pytest.fail(NEEDS_PYTEST_ASYNCIO, pytrace=False)


class _AioFixturesNeedPytestAsyncio:
    """The asyncio fixtures' names when pytest-asyncio is not active: each says to install it."""

    @pytest.fixture
    def ocpp_aio_channel(self) -> NoReturn:
        """A ``grpc.aio`` channel to the reference server; needs pytest-asyncio (not active)."""
        _needs_pytest_asyncio()

    @pytest.fixture
    def ocpp_aio_central_system_stub(self) -> NoReturn:
        """An asyncio CentralSystemService stub; needs pytest-asyncio (not active)."""
        _needs_pytest_asyncio()

    @pytest.fixture
    def ocpp_aio_connection_stub(self) -> NoReturn:
        """An asyncio ConnectionService stub; needs pytest-asyncio (not active)."""
        _needs_pytest_asyncio()

    @pytest.fixture
    def ocpp_aio_mapping_stub(self) -> NoReturn:
        """An asyncio MappingService stub; needs pytest-asyncio (not active)."""
        _needs_pytest_asyncio()

    @pytest.fixture
    def ocpp_aio_transaction_stub(self) -> NoReturn:
        """An asyncio TransactionService stub; needs pytest-asyncio (not active)."""
        _needs_pytest_asyncio()
