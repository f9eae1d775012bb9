"""Who may call the reference server: token files, roles, and the interceptor that refuses calls.

A token file holds one credential per line, ``admin TOKEN`` or
``reader TOKEN``; ``#`` starts a comment, blank lines are ignored::

    # CI jobs that set up fixtures
    admin  3f9c0e6b1d2a4c5e8f7a9b0c1d2e3f40
    # dashboards
    reader 0a1b2c3d4e5f60718293a4b5c6d7e8f9

A token is 16 to 512 visible ASCII characters (what an ``authorization``
header can carry), and appears once in the file. Only SHA-256 digests of the
tokens are kept, and a presented token is compared with every one of them in
constant time, so neither the time of a refusal nor a memory dump tells a
token.

The interceptor guards the four admin services only: ``grpc.health.v1.Health``
stays open for probes, and so does server reflection, which describes the
contract the package publishes anyway and which tools need before they can
form an authenticated call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

import grpc

from ocpp_broker_protos.credentials import AUTHORIZATION, admin_methods, is_read
from ocpp_broker_protos.reference import errors

ADMIN = "admin"
READER = "reader"
ROLES = (ADMIN, READER)
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 512
_TOKEN = re.compile(r"[\x21-\x7e]+")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([\x21-\x7e]+) *")
# Longer authorization values are refused without being parsed or hashed.
_MAX_AUTHORIZATION_LENGTH = 2 * MAX_TOKEN_LENGTH


class TokenFileError(ValueError):
    """A token file that cannot be used; the message names the file, the line and the problem."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def _token_problem(token: str) -> str | None:
    if not _TOKEN.fullmatch(token):
        return "a token is visible ASCII characters without spaces"
    if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:
        return f"a token is {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} characters long, this one {len(token)}"
    return None


class Tokens:
    """The tokens a server accepts, each with its role (``admin`` or ``reader``)."""

    def __init__(self, admin: Iterable[str] = (), reader: Iterable[str] = ()) -> None:
        entries: list[tuple[bytes, str]] = []
        for role, tokens in ((ADMIN, admin), (READER, reader)):
            for token in tokens:
                problem = _token_problem(token)
                if problem is not None:
                    raise ValueError(f"{role} token: {problem}")
                entries.append((_digest(token), role))
        if len({digest for digest, _ in entries}) != len(entries):
            raise ValueError("a token is given more than once")
        self._entries = tuple(entries)

    @classmethod
    def parse(cls, text: str, source: str = "tokens") -> Tokens:
        """Tokens from the text of a token file; source names the file in errors."""
        admin: list[str] = []
        reader: list[str] = []
        seen: dict[bytes, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if words[0] not in ROLES:
                raise TokenFileError(f"{source}:{number}: the role must be 'admin' or 'reader', not {words[0]!r}")
            if len(words) != 2:
                shape = "no token after the role" if len(words) == 1 else "more than one token on the line"
                raise TokenFileError(f"{source}:{number}: {shape} (expected 'admin TOKEN' or 'reader TOKEN')")
            problem = _token_problem(words[1])
            if problem is not None:
                raise TokenFileError(f"{source}:{number}: {problem}")
            digest = _digest(words[1])
            if digest in seen:
                raise TokenFileError(f"{source}:{number}: the same token as on line {seen[digest]}")
            seen[digest] = number
            (admin if words[0] == ADMIN else reader).append(words[1])
        if not seen:
            raise TokenFileError(f"{source}: no token in the file (expected lines 'admin TOKEN' or 'reader TOKEN')")
        return cls(admin, reader)

    @classmethod
    def from_file(cls, path: str | Path) -> Tokens:
        """Tokens from a token file; :class:`TokenFileError` names what is wrong with it."""
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except OSError as error:
            raise TokenFileError(f"{path}: cannot read: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise TokenFileError(f"{path}: not UTF-8 text") from None
        return cls.parse(text, str(path))

    def role_of(self, token: str) -> str | None:
        """The role of token, or None; every known token is compared, in constant time."""
        presented = _digest(token)
        found = None
        for digest, role in self._entries:
            if hmac.compare_digest(digest, presented):
                found = role
        return found

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        admins = sum(role == ADMIN for _, role in self._entries)
        return f"Tokens({admins} admin, {len(self._entries) - admins} reader)"


def refusal(method: str, metadata: Iterable[tuple[str, str | bytes]], tokens: Tokens) -> errors.ApiError | None:
    """Why a call of method (``/pkg.Service/Method``) with this metadata is refused, or None.

    The messages never repeat what the caller sent.
    """
    values = [value for key, value in metadata if key.lower() == AUTHORIZATION]
    if not values:
        return errors.ApiError(
            grpc.StatusCode.UNAUTHENTICATED,
            errors.CREDENTIALS_MISSING,
            "the call carries no credentials: send 'authorization: Bearer <token>' metadata",
        )
    bearer = None
    if len(values) == 1 and isinstance(values[0], str) and len(values[0]) <= _MAX_AUTHORIZATION_LENGTH:
        bearer = _BEARER.fullmatch(values[0])
    role = tokens.role_of(bearer.group(1)) if bearer is not None else None
    if role is None:
        return errors.ApiError(
            grpc.StatusCode.UNAUTHENTICATED, errors.CREDENTIALS_INVALID, "the call's credentials are not accepted"
        )
    if role == READER and not is_read(method):
        return errors.ApiError(
            grpc.StatusCode.PERMISSION_DENIED,
            errors.READ_ONLY_CREDENTIALS,
            f"{method.rsplit('/', 1)[-1]} changes state and the call's credentials are read-only",
        )
    return None


def _refuse(error: errors.ApiError) -> grpc.RpcMethodHandler[Any, Any]:
    status = errors.to_grpc_status(error)

    def behavior(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort_with_status(status)
        raise AssertionError("abort_with_status returned")  # pragma: no cover

    # No deserializer: the request's bytes are never looked at.
    return grpc.unary_unary_rpc_method_handler(behavior)


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses calls to the guarded services before anything else runs, validation included."""

    def __init__(self, tokens: Tokens, services: Collection[str] | None = None) -> None:
        """services: full names of the guarded services (default: the four admin services)."""
        self._tokens = tokens
        names = services if services is not None else {m.containing_service.full_name for m in admin_methods()}
        self._prefixes = tuple(f"/{name}/" for name in sorted(names))

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None], details: Any
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = details.method
        if not method.startswith(self._prefixes):
            return continuation(details)
        refused = refusal(method, details.invocation_metadata or (), self._tokens)
        return continuation(details) if refused is None else _refuse(refused)
