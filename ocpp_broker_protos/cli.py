"""The ``ocpp-broker-protos`` command."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from ocpp_broker_protos import cli_credentials

if TYPE_CHECKING:
    from ocpp_broker_protos.reference import ReferenceServer


def _missing_extra(what: str, extra: str, error: ImportError) -> int:
    print(
        f"error: {what} needs the [{extra}] extra: pip install 'ocpp-broker-protos[{extra}]' ({error})", file=sys.stderr
    )
    return 2


def _serve(args: argparse.Namespace) -> int:
    try:
        from ocpp_broker_protos.reference import FixtureError, ReferenceServer, Store, load_fixture_file
        from ocpp_broker_protos.reference.demo import demo_store
    except ImportError as error:  # pragma: no cover - depends on the install
        return _missing_extra("the server", "server", error)
    if args.fixtures:
        try:
            store = load_fixture_file(args.fixtures)
        except FixtureError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    else:
        store = demo_store() if args.demo else Store()
    try:
        options = cli_credentials.server_options(args)
    except cli_credentials.OptionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return _run_server(
            ReferenceServer(
                host=args.host, port=args.port, store=store, max_workers=args.max_workers, **options.kwargs
            ),
            args,
            cli_credentials.open_access_warning(args.host, options),
            cli_credentials.describe(options),
        )
    finally:
        options.close()


def _run_server(server: ReferenceServer, args: argparse.Namespace, warning: str | None, secured: str) -> int:
    store = server.store
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    workers = store.list_workers()
    print(
        f"ocpp-broker-protos reference server listening on {server.target}{secured} "
        f"({len(workers)} central systems, {len(store.list_mappings())} mappings, "
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
        return _missing_extra("the kit", "conformance", error)
    if not conformance.runner.matching(args.k):
        print(f"error: no case matches {args.k!r}", file=sys.stderr)
        return 2
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
        print(f"error: {error}", file=sys.stderr)
        return 2
    credentials = conformance.Credentials(token=client.token, reader_token=reader)
    chosen = conformance.cases(args.k, credentials)
    print(f"running {len(chosen)} conformance cases against {args.target}", flush=True)

    def progress(index: int, total: int, result: conformance.CaseResult) -> None:
        print(f"[{index:>{len(str(total))}}/{total}] {result.outcome.upper():<6} {result.case.name}", flush=True)

    report = conformance.run(
        args.target,
        pattern=args.k,
        tls=client.tls,
        root_certificates=client.root_certificates,
        private_key=client.private_key,
        certificate_chain=client.certificate_chain,
        credentials=credentials,
        timeout=args.timeout,
        on_result=progress,
    )
    print()
    print(report.table())
    print()
    print(report.summary())
    if args.junit_xml:
        report.write_junit(args.junit_xml)
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocpp-broker-protos", description="OCPP broker admin API tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the in-memory reference server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=50051, help="port to bind; 0 picks a free one (default 50051)")
    data = serve.add_mutually_exclusive_group()
    data.add_argument("--fixtures", metavar="FILE", help="load state from a JSON fixture file")
    data.add_argument("--demo", action="store_true", help="load the built-in demo data set")
    serve.add_argument("--max-workers", type=int, default=16, help="size of the request thread pool")
    serve.add_argument("--grace", type=float, default=5.0, help="seconds running calls get on shutdown")
    cli_credentials.add_server_options(serve)
    serve.set_defaults(run=_serve)
    kit = commands.add_parser("conformance", help="check a server against the contract")
    kit.add_argument("--target", required=True, metavar="HOST:PORT", help="the server to check")
    kit.add_argument("-k", metavar="PATTERN", help="only cases whose name or RPC contains PATTERN (or matches a glob)")
    kit.add_argument("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    cli_credentials.add_client_options(kit)
    kit.add_argument(
        "--reader-token-file",
        metavar="FILE",
        help="a read-only token: also check that it reads and that every write is refused",
    )
    kit.add_argument("--timeout", type=float, default=10.0, help="deadline of each call in seconds (default 10)")
    kit.set_defaults(run=_conformance)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
