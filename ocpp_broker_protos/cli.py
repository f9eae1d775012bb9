"""The ``ocpp-broker-protos`` command."""

from __future__ import annotations

import argparse
import gc
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from ocpp_broker_protos import cli_credentials
from ocpp_broker_protos.cli_error import CliError
from ocpp_broker_protos.extras import missing_extra_message

if TYPE_CHECKING:
    from ocpp_broker_protos.reference import ReferenceServer


_N = TypeVar("_N", int, float)


def _missing_extra(what: str, extra: str, error: ImportError) -> CliError:
    return CliError(missing_extra_message(what, extra, error))


# -- argument types: a bad value is an argparse error (usage, one line, exit 2)


def _parsed(text: str, convert: Callable[[str], _N], kind: str) -> _N:
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite {kind.removeprefix('a ')}: {text!r}")
    return value


def _refuse(ok: bool, message: str) -> None:
    if not ok:
        raise argparse.ArgumentTypeError(message)


def port_number(text: str) -> int:
    """A TCP port, 0 (pick a free one) to 65535."""
    port = _parsed(text, int, "a port number")
    _refuse(0 <= port <= 65535, f"port {port} is out of range 0-65535")
    return port


def positive_int(text: str) -> int:
    value = _parsed(text, int, "an integer")
    _refuse(value >= 1, f"must be at least 1, got {value}")
    return value


def positive_seconds(text: str) -> float:
    value = _parsed(text, float, "a number of seconds")
    _refuse(value > 0, f"must be more than 0 seconds, got {text}")
    return value


def non_negative_seconds(text: str) -> float:
    value = _parsed(text, float, "a number of seconds")
    _refuse(value >= 0, f"must be 0 seconds or more, got {text}")
    return value


def grpc_target(text: str) -> str:
    """A gRPC target (HOST:PORT, or any name gRPC resolves): not empty, no white space."""
    _refuse(bool(text.strip()), "must not be empty")
    _refuse(not any(c.isspace() for c in text), f"must not contain white space: {text!r}")
    return text


def _check_writable(path: str) -> None:
    """Fail now, before any work, when the report file could not be written later."""
    file = Path(path)
    existed = file.exists()
    try:
        with file.open("ab"):
            pass
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror or error}") from None
    if not existed:
        file.unlink()


def _serve(args: argparse.Namespace) -> int:
    try:
        from ocpp_broker_protos.reference import FixtureError, ReferenceServer, Store, load_fixture_file
        from ocpp_broker_protos.reference.demo import demo_store
    except ImportError as error:  # pragma: no cover - depends on the install
        raise _missing_extra("the server", "server", error) from None
    if args.fixtures:
        from ocpp_broker_protos.progress import Progress

        # The loaded state lives as long as this process and holds no
        # reference cycles: frozen before the collector runs again, it is
        # never walked by it (for a 100,000-station fixture, 1.3 million
        # objects: 0.26 s for the first collection after loading, 0.19 s
        # for each full one, a pause in whichever call it lands in).
        gc.disable()
        try:
            store = load_fixture_file(args.fixtures, progress=Progress("loading"))
            gc.freeze()
        except FixtureError as error:
            raise CliError(str(error)) from None
        finally:
            gc.enable()
    else:
        store = demo_store() if args.demo else Store()
    try:
        options = cli_credentials.server_options(args)
    except cli_credentials.OptionError as error:
        raise CliError(str(error)) from None
    try:
        try:
            server = ReferenceServer(
                host=args.host, port=args.port, store=store, max_workers=args.max_workers, **options.kwargs
            )
        except ValueError as error:
            raise CliError(str(error)) from None
        return _run_server(
            server, args, cli_credentials.open_access_warning(args.host, options), cli_credentials.describe(options)
        )
    finally:
        options.close()


def _run_server(server: ReferenceServer, args: argparse.Namespace, warning: str | None, secured: str) -> int:
    from ocpp_broker_protos.connection.v1.connection_pb2 import WorkerView

    store = server.store
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        raise CliError(f"cannot serve on {args.host}:{args.port}: {error}", status=1) from None
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    # Counted from pages and the basic view: a million-station store is not copied to say how big it is.
    workers = store.workers_page(view=WorkerView.WORKER_VIEW_BASIC).items
    print(
        f"ocpp-broker-protos reference server listening on {server.target}{secured} "
        f"({len(workers)} central systems, {store.mappings_page(page_size=1).total_count} mappings, "
        f"{sum(w.connections_count for w in workers)} connections, {store.transaction_count()} transactions)",
        flush=True,
    )
    while not stop_requested.wait(0.5):
        pass
    print("shutting down", flush=True)
    server.stop(grace=args.grace)
    return 0


def _conformance(args: argparse.Namespace) -> int:
    try:
        from ocpp_broker_protos import conformance
    except ImportError as error:  # pragma: no cover - depends on the install
        raise _missing_extra("the kit", "conformance", error) from None
    if not conformance.runner.matching(args.k):
        raise CliError(f"no case matches {args.k!r}")
    try:
        client = cli_credentials.client_options(args)
        reader = None
        if args.reader_token_file is not None:
            if client.token is None:
                raise cli_credentials.OptionError(
                    f"--reader-token-file needs an admin token too (--token-file or {cli_credentials.TOKEN_ENV})"
                )
            reader = cli_credentials.read_token_file(args.reader_token_file, "--reader-token-file")
    except cli_credentials.OptionError as error:
        raise CliError(str(error)) from None
    credentials = conformance.Credentials(token=client.token, reader_token=reader)
    chosen = conformance.cases(args.k, credentials)
    if args.junit_xml:
        _check_writable(args.junit_xml)

    def starting(count: int) -> None:
        # Said once the channel is open: grpc imports its channel code when the
        # first channel is made, and a Ctrl-C that lands in an import can leave
        # a file for the interpreter to warn about. Waiting for the target
        # after this line imports nothing.
        print(f"running {count} conformance cases against {args.target}", flush=True)

    def progress(index: int, total: int, result: conformance.CaseResult) -> None:
        print(f"[{index:>{len(str(total))}}/{total}] {result.outcome.upper():<7} {result.case.name}", flush=True)

    try:
        report = conformance.run(
            args.target,
            selected=chosen,
            tls=client.tls,
            root_certificates=client.root_certificates,
            private_key=client.private_key,
            certificate_chain=client.certificate_chain,
            credentials=credentials,
            timeout=args.timeout,
            on_start=starting,
            on_result=progress,
        )
    except conformance.TargetUnreachable as error:
        raise CliError(str(error)) from None
    print()
    print(report.table())
    print()
    print(report.summary())
    if report.skipped and not args.allow_skipped:
        print(f"{report.skipped} selected case(s) could not be exercised on this target; --allow-skipped accepts that")
    if args.junit_xml:
        try:
            report.write_junit(args.junit_xml)
        except OSError as error:
            raise CliError(f"cannot write {args.junit_xml}: {error.strerror or error}") from None
    return 0 if report.succeeded(allow_skipped=args.allow_skipped) else 1


PATTERN_HELP = (
    "only the cases PATTERN selects. It is compared, ignoring case, with each case's name, "
    "each RPC the case checks as Service.Method, and each bare method name: without * ? [ "
    "it selects the cases where it is a substring of one of these; with them it is a glob "
    "that must match one of them whole ('GetWorker*', 'MappingService.*', '*_master_*')"
)


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    """How a command reaches a server: the options `conformance` and `export` share."""
    cli_credentials.add_client_options(parser)
    parser.add_argument(
        "--timeout", type=positive_seconds, default=10.0, help="deadline of each call in seconds (default 10)"
    )


def _export(args: argparse.Namespace) -> int:
    from ocpp_broker_protos.snapshot.command import run_export

    try:
        client = cli_credentials.client_options(args)
    except cli_credentials.OptionError as error:
        raise CliError(str(error)) from None
    return run_export(args.target, args.output, options=client, timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    from ocpp_broker_protos import __version__

    parser = argparse.ArgumentParser(prog="ocpp-broker-protos", description="OCPP broker admin API tools.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the in-memory reference server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument(
        "--port", type=port_number, default=50051, help="port to bind; 0 picks a free one (default 50051)"
    )
    data = serve.add_mutually_exclusive_group()
    data.add_argument("--fixtures", metavar="FILE", help="load state from a JSON fixture file")
    data.add_argument("--demo", action="store_true", help="load the built-in demo data set")
    serve.add_argument("--max-workers", type=positive_int, default=16, help="size of the request thread pool")
    serve.add_argument(
        "--grace", type=non_negative_seconds, default=5.0, help="seconds running calls get on shutdown (default 5)"
    )
    cli_credentials.add_server_options(serve)
    serve.set_defaults(run=_serve)
    kit = commands.add_parser("conformance", help="check a server against the contract")
    kit.add_argument("--target", required=True, type=grpc_target, metavar="HOST:PORT", help="the server to check")
    kit.add_argument("-k", metavar="PATTERN", help=PATTERN_HELP)
    kit.add_argument("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    _add_connection_options(kit)
    kit.add_argument(
        "--reader-token-file",
        metavar="FILE",
        help="a read-only token: also check that it reads and that every write is refused",
    )
    kit.add_argument(
        "--allow-skipped",
        action="store_true",
        help="exit 0 even when cases were skipped because the target holds too little data to exercise them",
    )
    kit.set_defaults(run=_conformance)
    export = commands.add_parser("export", help="snapshot a server's state into a fixture file")
    export.add_argument("--target", required=True, type=grpc_target, metavar="HOST:PORT", help="the server to read")
    export.add_argument("-o", "--output", metavar="FILE", help="write the fixture file here (default: standard output)")
    _add_connection_options(export)
    export.set_defaults(run=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
        # Inside the try: a reader that went away shows only when the output is flushed.
        sys.stdout.flush()
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.status
    except BrokenPipeError:
        # The reader (`| head`) has gone: stop quietly, as the Python documentation
        # advises, pointing stdout at devnull so that the exit flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
