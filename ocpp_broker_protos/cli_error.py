"""The one way a command of ``ocpp-broker-protos`` fails.

A module of its own so that a command implemented elsewhere (``export``)
raises the very class ``cli.main`` catches: under ``python -m
ocpp_broker_protos.cli`` that module runs as ``__main__``, and a class
imported from ``ocpp_broker_protos.cli`` would be a second, different one.
"""

from __future__ import annotations

#: Exit status of a bad argument, a bad input file or an unreachable target.
USAGE_ERROR = 2


class CliError(Exception):
    """What a command cannot do, said in one line: ``main`` prints it and exits with status."""

    def __init__(self, message: str, status: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.status = status
