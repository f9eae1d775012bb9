"""The ``ocpp-broker-protos`` command."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType


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
        from ocpp_broker_protos.progress import Progress

        try:
            store = load_fixture_file(args.fixtures, progress=Progress("loading"))
        except FixtureError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    else:
        store = demo_store() if args.demo else Store()
    server = ReferenceServer(host=args.host, port=args.port, store=store, max_workers=args.max_workers)
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    workers = store.list_workers()
    print(
        f"ocpp-broker-protos reference server listening on {server.target} "
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
    chosen = conformance.cases(args.k)
    if not chosen:
        print(f"error: no case matches {args.k!r}", file=sys.stderr)
        return 2
    try:
        root = _root_certificates(args)
    except OSError as error:
        print(f"error: cannot read {args.ca_cert}: {error}", file=sys.stderr)
        return 2
    print(f"running {len(chosen)} conformance cases against {args.target}", flush=True)

    def progress(index: int, total: int, result: conformance.CaseResult) -> None:
        print(f"[{index:>{len(str(total))}}/{total}] {result.outcome.upper():<6} {result.case.name}", flush=True)

    report = conformance.run(
        args.target,
        selected=chosen,
        tls=args.tls or bool(root),
        root_certificates=root,
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


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    """How a command reaches a server: the options `conformance` and `export` share."""
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system roots unless --ca-cert)")
    parser.add_argument("--ca-cert", metavar="FILE", help="PEM root certificate(s) to trust; implies --tls")
    parser.add_argument("--timeout", type=float, default=10.0, help="deadline of each call in seconds (default 10)")


def _root_certificates(args: argparse.Namespace) -> bytes | None:
    if not args.ca_cert:
        return None
    with open(args.ca_cert, "rb") as handle:
        return handle.read()


def _export(args: argparse.Namespace) -> int:
    from ocpp_broker_protos.snapshot.command import run_export

    try:
        root = _root_certificates(args)
    except OSError as error:
        print(f"error: cannot read {args.ca_cert}: {error}", file=sys.stderr)
        return 2
    return run_export(
        args.target, args.output, tls=args.tls or bool(root), root_certificates=root, timeout=args.timeout
    )


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
    serve.set_defaults(run=_serve)
    kit = commands.add_parser("conformance", help="check a server against the contract")
    kit.add_argument("--target", required=True, metavar="HOST:PORT", help="the server to check")
    kit.add_argument("-k", metavar="PATTERN", help="only cases whose name or RPC contains PATTERN (or matches a glob)")
    kit.add_argument("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    _add_connection_options(kit)
    kit.set_defaults(run=_conformance)
    export = commands.add_parser("export", help="snapshot a server's state into a fixture file")
    export.add_argument("--target", required=True, metavar="HOST:PORT", help="the server to read")
    export.add_argument("-o", "--output", metavar="FILE", help="write the fixture file here (default: standard output)")
    _add_connection_options(export)
    export.set_defaults(run=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
