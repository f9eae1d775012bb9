"""The ``ocpp-broker-protos`` command."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType


def _serve(args: argparse.Namespace) -> int:
    try:
        from ocpp_broker_protos.reference import FixtureError, ReferenceServer, Store, load_fixture_file
        from ocpp_broker_protos.reference.demo import demo_store
    except ImportError as error:  # pragma: no cover - depends on the install
        print(f"error: the server needs the [server] extra: pip install 'ocpp-broker-protos[server]' ({error})")
        return 2
    if args.fixtures:
        try:
            store = load_fixture_file(args.fixtures)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
