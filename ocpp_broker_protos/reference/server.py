"""The reference server: the four services plus health and reflection."""

from __future__ import annotations

import os
import threading
from concurrent import futures
from pathlib import Path
from types import TracebackType
from typing import TextIO

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ocpp_broker_protos.reference.access_log import AccessLog
from ocpp_broker_protos.reference.auth import TokenInterceptor, Tokens
from ocpp_broker_protos.reference.servicers import add_all_to_server
from ocpp_broker_protos.reference.store import Store

#: Largest request the server accepts; larger ones get RESOURCE_EXHAUSTED.
MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024

#: PEM data, or the path of a PEM file.
Pem = bytes | str | os.PathLike[str]


def _pem(value: Pem) -> bytes:
    return value if isinstance(value, bytes) else Path(value).read_bytes()


class ReferenceServer:
    """An in-memory server of the admin API, for tests and local development.

    ``with ReferenceServer() as server:`` starts it on a free loopback port;
    ``server.target`` is what to give ``grpc.insecure_channel`` (or
    ``grpc.aio.insecure_channel``), ``server.store`` holds its state, and
    ``server.reset()`` empties it between tests.

    Credentials (all off by default):

    - ``tls_cert`` and ``tls_key`` (PEM data or file paths): serve TLS only.
    - ``client_ca``: mutual TLS; the handshake refuses a client without a
      certificate signed by this CA. Without ``tokens``, every such client
      is an admin.
    - ``tokens`` (:class:`~ocpp_broker_protos.reference.auth.Tokens`): every
      call to the four services needs ``authorization: Bearer <token>``; a
      reader token may only call the Get, List and GetAll RPCs. With
      ``client_ca`` as well, a call needs both a certificate and a token.
    - ``access_log``: a text stream that gets one JSON line per call.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        store: Store | None = None,
        max_workers: int = 16,
        max_receive_message_bytes: int = MAX_RECEIVE_MESSAGE_BYTES,
        *,
        tls_cert: Pem | None = None,
        tls_key: Pem | None = None,
        client_ca: Pem | None = None,
        tokens: Tokens | None = None,
        access_log: TextIO | None = None,
    ) -> None:
        # Checked here, not left to gRPC, which binds an out-of-range port modulo 65536.
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port must be an int, got {type(port).__name__}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range 0-65535")
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be an int of at least 1, got {max_workers!r}")
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if client_ca is not None and tls_cert is None:
            raise ValueError("client_ca needs tls_cert and tls_key")
        # Read now, so a missing file fails here rather than at start().
        self._tls = (_pem(tls_key), _pem(tls_cert)) if tls_key is not None and tls_cert is not None else None
        self._client_ca = _pem(client_ca) if client_ca is not None else None
        self.tokens = tokens
        self._access_log = access_log
        self.store = store if store is not None else Store()
        # As it goes into an address: IPv6 hosts in brackets.
        self._host = f"[{host}]" if ":" in host else host
        self._requested_port = port
        self._max_workers = max_workers
        self._max_receive = max_receive_message_bytes
        self._server: grpc.Server | None = None
        self._health = health.HealthServicer()
        self._port = 0
        self._stopped = threading.Event()

    @classmethod
    def from_fixtures(cls, path: str | Path, **kwargs: object) -> ReferenceServer:
        """A server whose store is loaded from a fixture file (see fixtures.py)."""
        from ocpp_broker_protos.reference.fixtures import load_fixture_file

        return cls(store=load_fixture_file(path), **kwargs)  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def tls(self) -> bool:
        """Whether the server speaks TLS (connect with ``grpc.secure_channel``)."""
        return self._tls is not None

    @property
    def credentials_required(self) -> bool:
        """Whether a call needs credentials: a token, a client certificate, or both."""
        return self.tokens is not None or self._client_ca is not None

    @property
    def target(self) -> str:
        """``host:port`` to connect to (IPv6 hosts in brackets)."""
        return f"{self._host}:{self.port}"

    def start(self) -> ReferenceServer:
        if self._server is not None:
            raise RuntimeError("the server is already running")
        # A new one at every start: once told of a shutdown, a HealthServicer
        # ignores every later status, so a restarted server would stay NOT_SERVING.
        self._health = health.HealthServicer()
        # The access log comes first, so that it also sees refused calls.
        interceptors: list[grpc.ServerInterceptor] = []
        if self._access_log is not None:
            interceptors.append(AccessLog(self._access_log))
        if self.tokens is not None:
            interceptors.append(TokenInterceptor(self.tokens))
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="ocpp-reference"),
            options=[
                ("grpc.max_receive_message_length", self._max_receive),
                ("grpc.so_reuseport", 0),
            ],
            interceptors=interceptors,
        )
        names = add_all_to_server(self.store, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names.append(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
        reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
        address = f"{self._host}:{self._requested_port}"
        if self._tls is None:
            self._port = server.add_insecure_port(address)
        else:
            credentials = grpc.ssl_server_credentials(
                [self._tls],
                root_certificates=self._client_ca,
                require_client_auth=self._client_ca is not None,
            )
            self._port = server.add_secure_port(address, credentials)
        if self._port == 0:
            raise OSError(f"cannot bind {self._host}:{self._requested_port}")
        server.start()
        for name in ("", *names):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        self._stopped.clear()
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Report NOT_SERVING, let running calls finish within grace, stop."""
        server = self._server
        if server is None:
            return
        self._health.enter_graceful_shutdown()
        server.stop(grace).wait()
        self._server = None
        self._stopped.set()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Block until stop() has finished (True) or timeout passed (False)."""
        return self._stopped.wait(timeout)

    def reset(self) -> None:
        """Empty the store, keeping the server running."""
        self.store.reset()

    def load_fixtures(self, path: str | Path) -> None:
        """Replace the store's whole state with the fixture file at path, keeping the server running.

        The file is read and checked in full first: a bad one raises
        FixtureError naming the record, and the state is left as it was.
        """
        from ocpp_broker_protos.reference.fixtures import load_fixture_file

        self.store.replace_with(load_fixture_file(path))

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
