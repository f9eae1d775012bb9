"""`ocpp-broker-protos export`: one clear message and a non-zero exit on any
failure (a CliError, which the command line prints), the file complete or
untouched, progress and notes on standard error, nothing but the file on
standard output."""

from __future__ import annotations

import sys
import time

from ocpp_broker_protos.cli_credentials import ClientOptions, open_client_channel
from ocpp_broker_protos.cli_error import CliError
from ocpp_broker_protos.progress import Progress
from ocpp_broker_protos.snapshot import ReadError, export

FAILED, INTERRUPTED = 1, 130


def run_export(
    target: str,
    output: str | None,
    *,
    options: ClientOptions | None = None,
    timeout: float = 10.0,
) -> int:
    where = output or "standard output"
    channel = open_client_channel(target, options or ClientOptions())
    progress = Progress(f"export {target}")
    counts: dict[str, int] = {}

    def on_items(name: str, count: int) -> None:
        counts[name] = count
        progress.update(name, count)

    started = time.monotonic()
    try:
        notes = export(channel, output, timeout=timeout, on_items=on_items, write=sys.stdout.write)
        if output is None:
            sys.stdout.flush()
    except ReadError as error:
        raise CliError(f"cannot export {target}: {error}; {where} untouched", FAILED) from None
    except OSError as error:
        raise CliError(f"cannot write {where}: {error}; nothing written", FAILED) from None
    except KeyboardInterrupt:
        raise CliError(f"interrupted; {where} untouched", INTERRUPTED) from None
    finally:
        channel.close()
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    seconds = time.monotonic() - started
    items = sum(counts.values())
    listed = ", ".join(f"{count:,} {name}" for name, count in counts.items())
    print(
        f"exported {listed} from {target} to {where} in {seconds:.1f} s ({items / max(seconds, 1e-9):,.0f} items/s)"
        + (f"; {len(notes)} record(s) dropped or changed to keep the file loadable" if notes else ""),
        file=sys.stderr,
    )
    return 0
