"""The contract's credentials scheme, as clients and servers of the admin API need it.

A broker authenticates admin calls by a bearer token in the ``authorization``
metadata (``Bearer <token>``), by a TLS client certificate, or both. A call
without valid credentials is UNAUTHENTICATED (reason ``CREDENTIALS_MISSING``
or ``CREDENTIALS_INVALID``); a read-only credential used for a write is
PERMISSION_DENIED (``READ_ONLY_CREDENTIALS``). The reads are the Get, List and
GetAll RPCs; every other RPC is a write. ``grpc.health.v1.Health`` stays
callable without credentials.

A client presents a token on every call of a channel with
:func:`channel_credentials`, or on one call with :func:`bearer_metadata`::

    from ocpp_broker_protos import credentials

    creds = credentials.channel_credentials(token, root_certificates=ca_pem)
    channel = grpc.secure_channel("broker.example:443", creds)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import grpc

from ocpp_broker_protos._call_details import replaced

if TYPE_CHECKING:
    from google.protobuf.descriptor import MethodDescriptor

__all__ = [
    "AUTHORIZATION",
    "READ_PREFIXES",
    "admin_methods",
    "bearer_metadata",
    "channel_credentials",
    "is_read",
    "with_token",
]

#: The metadata key that carries the bearer token.
AUTHORIZATION = "authorization"
#: An RPC whose method name starts with one of these only reads (GetAll* included).
READ_PREFIXES = ("Get", "List")

_AREAS = ("central_system", "connection", "mapping", "transaction")


def is_read(method: str) -> bool:
    """Whether an RPC only reads; method is its name or its full path (``/pkg.Service/Method``)."""
    return method.rsplit("/", 1)[-1].startswith(READ_PREFIXES)


def admin_methods() -> list[MethodDescriptor]:
    """Every RPC of the four admin services, in file order, from their descriptors."""
    found: list[MethodDescriptor] = []
    for area in _AREAS:
        module = importlib.import_module(f"ocpp_broker_protos.{area}.v1.{area}_pb2")
        for service in module.DESCRIPTOR.services_by_name.values():
            found.extend(service.methods)
    return found


def bearer_metadata(token: str) -> tuple[tuple[str, str]]:
    """The call metadata that presents token, for the ``metadata=`` argument of a call."""
    return ((AUTHORIZATION, f"Bearer {token}"),)


class _Bearer(grpc.AuthMetadataPlugin):
    def __init__(self, token: str) -> None:
        self._metadata = bearer_metadata(token)

    def __call__(self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback) -> None:
        callback(self._metadata, None)


def channel_credentials(
    token: str | None = None,
    *,
    root_certificates: bytes | None = None,
    private_key: bytes | None = None,
    certificate_chain: bytes | None = None,
) -> grpc.ChannelCredentials:
    """TLS channel credentials that present token on every call, and a client certificate if given.

    gRPC sends call credentials only over TLS, so a token always comes with
    TLS; for a plaintext test server pass :func:`bearer_metadata` per call.
    """
    tls = grpc.ssl_channel_credentials(
        root_certificates=root_certificates, private_key=private_key, certificate_chain=certificate_chain
    )
    if token is None:
        return tls
    return grpc.composite_channel_credentials(tls, grpc.metadata_call_credentials(_Bearer(token)))


class _AddMetadata(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = (*(details.metadata or ()), *self._metadata)
        return continuation(replaced(details, metadata=metadata), request)


def with_token(channel: grpc.Channel, token: str) -> grpc.Channel:
    """channel, presenting token on every unary call.

    Unlike :func:`channel_credentials` this also works over plaintext (a test
    server on loopback), since the token travels as ordinary call metadata.
    """
    return grpc.intercept_channel(channel, _AddMetadata(bearer_metadata(token)))
