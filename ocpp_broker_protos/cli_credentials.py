"""The command line's credential options: those of ``serve``, and those of every client command.

Tokens come from files or the environment, never from the command line,
where every user of the machine could read them in the process list. No
message here ever repeats a token.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import grpc

#: The environment variable a client command reads its token from.
TOKEN_ENV = "OCPP_BROKER_TOKEN"


class OptionError(ValueError):
    """A credential option that cannot be used; the message says which and why."""


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise OptionError(f"cannot read {what} {path}: {error.strerror or error}") from None


# -- serve --------------------------------------------------------------------


def add_server_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("credentials and logging")
    group.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this PEM certificate (chain)")
    group.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    group.add_argument(
        "--client-ca",
        metavar="FILE",
        help="mutual TLS: refuse clients without a certificate signed by this PEM CA (admins, unless --tokens)",
    )
    group.add_argument("--tokens", metavar="FILE", help="require a bearer token; lines 'admin TOKEN' or 'reader TOKEN'")
    group.add_argument("--access-log", metavar="FILE", help="one JSON line per call to FILE ('-': standard error)")


@dataclass
class ServerOptions:
    """What ``ReferenceServer(...)`` takes for the credential options, and the open access log."""

    kwargs: dict[str, Any] = field(default_factory=dict)
    access_log: TextIO | None = None

    def close(self) -> None:
        if self.access_log is not None and self.access_log is not sys.stderr:
            self.access_log.close()


def server_options(args: argparse.Namespace) -> ServerOptions:
    """The parsed serve options as ReferenceServer keyword arguments; OptionError when unusable."""
    from ocpp_broker_protos.reference.auth import TokenFileError, Tokens

    if (args.tls_cert is None) != (args.tls_key is None):
        raise OptionError("--tls-cert and --tls-key go together")
    if args.client_ca is not None and args.tls_cert is None:
        raise OptionError("--client-ca needs --tls-cert and --tls-key")
    options = ServerOptions()
    if args.tls_cert is not None:
        options.kwargs["tls_cert"] = _read(args.tls_cert, "--tls-cert")
        options.kwargs["tls_key"] = _read(args.tls_key, "--tls-key")
    if args.client_ca is not None:
        options.kwargs["client_ca"] = _read(args.client_ca, "--client-ca")
    if args.tokens is not None:
        try:
            options.kwargs["tokens"] = Tokens.from_file(args.tokens)
        except TokenFileError as error:
            raise OptionError(f"--tokens {error}") from None
    if args.access_log == "-":
        options.access_log = sys.stderr
    elif args.access_log is not None:
        try:
            options.access_log = open(args.access_log, "a", encoding="utf-8")  # noqa: SIM115 - open while serving
        except OSError as error:
            raise OptionError(f"cannot open --access-log {args.access_log}: {error.strerror or error}") from None
    if options.access_log is not None:
        options.kwargs["access_log"] = options.access_log
    return options


def describe(options: ServerOptions) -> str:
    """ " with TLS and tokens" and the like, for the line that says where the server listens."""
    kwargs = options.kwargs
    parts = ["mutual TLS" if "client_ca" in kwargs else "TLS"] if "tls_cert" in kwargs else []
    if "tokens" in kwargs:
        parts.append("tokens")
    return " with " + " and ".join(parts) if parts else ""


def is_loopback(host: str) -> bool:
    """Whether host (an address or a name) can only be reached from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_access_warning(host: str, options: ServerOptions) -> str | None:
    """The warning to print when host is reachable from elsewhere and no credentials are required."""
    if is_loopback(host) or "tokens" in options.kwargs or "client_ca" in options.kwargs:
        return None
    return (
        f"warning: serving on {host} without credentials: anyone who can reach this address can change "
        "or delete every central system, mapping and connection; give --tokens FILE and/or "
        "--tls-cert FILE --tls-key FILE --client-ca FILE"
    )


# -- client commands ------------------------------------------------------------


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """--tls, --ca-cert, --client-cert/--client-key and --token-file, for any command that calls a broker."""
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system roots unless --ca-cert)")
    parser.add_argument("--ca-cert", metavar="FILE", help="PEM root certificate(s) to trust; implies --tls")
    parser.add_argument("--client-cert", metavar="FILE", help="PEM client certificate for mutual TLS; implies --tls")
    parser.add_argument("--client-key", metavar="FILE", help="the PEM private key of --client-cert")
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"send the bearer token in FILE on every call (default: the {TOKEN_ENV} environment variable)",
    )


@dataclass(frozen=True)
class ClientOptions:
    """How a client command connects and who it calls as."""

    tls: bool = False
    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None
    token: str | None = field(default=None, repr=False)


def read_token_file(path: str, option: str = "--token-file") -> str:
    """The one token in a file (surrounding blank space ignored)."""
    try:
        text = _read(path, option).decode("ascii")
    except UnicodeDecodeError:
        raise OptionError(f"{option} {path}: a token is ASCII text") from None
    return _checked_token(text.strip(), f"{option} {path}")


def _checked_token(token: str, source: str) -> str:
    if not token:
        raise OptionError(f"{source}: no token")
    if any(not 0x21 <= ord(c) <= 0x7E for c in token):
        raise OptionError(f"{source}: a token is one word of visible ASCII characters")
    return token


def client_options(args: argparse.Namespace, environ: dict[str, str] | None = None) -> ClientOptions:
    """The parsed client options; OptionError when unusable."""
    env = os.environ if environ is None else environ
    if (args.client_cert is None) != (args.client_key is None):
        raise OptionError("--client-cert and --client-key go together")
    token = None
    if args.token_file is not None:
        token = read_token_file(args.token_file)
    elif env.get(TOKEN_ENV):
        token = _checked_token(env[TOKEN_ENV].strip(), TOKEN_ENV)
    return ClientOptions(
        tls=bool(args.tls or args.ca_cert or args.client_cert),
        root_certificates=_read(args.ca_cert, "--ca-cert") if args.ca_cert else None,
        private_key=_read(args.client_key, "--client-key") if args.client_key else None,
        certificate_chain=_read(args.client_cert, "--client-cert") if args.client_cert else None,
        token=token,
    )


def open_client_channel(target: str, options: ClientOptions) -> grpc.Channel:
    """A channel to target as options say: TLS (mutual with a client certificate) and the token on every call."""
    from ocpp_broker_protos.conformance.runner import open_channel
    from ocpp_broker_protos.credentials import with_token

    channel = open_channel(
        target, options.tls, options.root_certificates, options.private_key, options.certificate_chain
    )
    return channel if options.token is None else with_token(channel, options.token)
