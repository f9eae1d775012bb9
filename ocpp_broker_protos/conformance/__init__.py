"""The conformance kit: the contract as a black-box suite any server can run.

Needs ``pip install 'ocpp-broker-protos[conformance]'``. From a shell::

    ocpp-broker-protos conformance --target 127.0.0.1:50051

From Python::

    from ocpp_broker_protos import conformance
    report = conformance.run("127.0.0.1:50051")
    assert report.ok, report.table()

``report.ok`` holds only when every selected case ran and passed: a case
that found nothing on the target to exercise its rule on is *skipped* with
the reason (``report.skips()``), never counted as passed. ``run`` raises
:class:`TargetUnreachable` before any case when the target does not answer.

From pytest, one test per case against a channel fixture of your own::

    @conformance.parametrize()
    def test_conformance(conformance_case, channel):
        conformance_case.check(channel)

Against a broker that needs a token, pass ``credentials=Credentials(token=...,
reader_token=...)`` to ``run`` (or to ``parametrize`` and ``check``): every
call presents the token and the authentication cases run, which are left out
without one. A client certificate for mutual TLS goes to ``run`` as
``private_key`` and ``certificate_chain``.

``check`` raises AssertionError when the case fails and skips the test (with
the reason) only when the case itself was skipped; ``check(channel,
allow_skipped=False)`` fails such a case instead.

Cases create their own objects under unique names, tolerate data already on
the target, and remove what they created, so they are safe to run against a
shared server. Transaction cases only read: they judge whatever data the
target holds, and are skipped when it holds too little to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocpp_broker_protos.conformance.credentials import Credentials
from ocpp_broker_protos.conformance.kit import Case, CaseFailure, CaseResult, CaseSkipped, Context
from ocpp_broker_protos.conformance.runner import Report, TargetUnreachable, run, select

__all__ = [
    "Case",
    "CaseFailure",
    "CaseResult",
    "CaseSkipped",
    "Context",
    "Credentials",
    "Report",
    "TargetUnreachable",
    "cases",
    "parametrize",
    "run",
]


def cases(pattern: str | None = None, credentials: Credentials | None = None) -> list[Case]:
    """The registered cases, or those pattern selects (see ``select``); the
    authentication cases only with credentials that hold a token."""
    return select(pattern, credentials)


def parametrize(
    pattern: str | None = None, argname: str = "conformance_case", credentials: Credentials | None = None
) -> Callable[[Any], Any]:
    """A ``pytest.mark.parametrize`` over the cases, with their names as ids.

    Against a broker that needs a token, pass the same credentials here (to
    select the authentication cases) and to ``conformance_case.check``.
    """
    import pytest

    chosen = select(pattern, credentials)
    return pytest.mark.parametrize(argname, chosen, ids=[c.name for c in chosen])
