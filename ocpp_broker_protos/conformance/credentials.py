"""The tokens the kit calls with, and what its authentication cases need from them.

With ``Credentials(token=...)`` every case presents the token (as
``authorization: Bearer <token>`` metadata, over TLS or not), and the
authentication cases run: every RPC without credentials and with a wrong
token must be UNAUTHENTICATED and change nothing. With ``reader_token`` as
well, reads must pass with it and every write must be PERMISSION_DENIED.
Without a token those cases are not selected, and the runner says so.

A client certificate for mutual TLS belongs to the channel, not here: see
``run(..., private_key=..., certificate_chain=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ocpp_broker_protos.conformance.kit import Case

__all__ = ["READER_TOKEN", "TOKEN", "Credentials"]

#: Values of ``Case.needs``.
TOKEN = "token"
READER_TOKEN = "reader_token"


@dataclass(frozen=True)
class Credentials:
    """An admin token and, optionally, a read-only one (never shown in a repr)."""

    token: str | None = field(default=None, repr=False)
    reader_token: str | None = field(default=None, repr=False)

    def provides(self, case: Case) -> bool:
        """Whether case can run with these credentials."""
        # Every case that needs a reader token needs the admin token too, to set up and read back.
        have = {name for name, value in ((TOKEN, self.token), (READER_TOKEN, self.reader_token)) if value}
        return case.needs <= have


def provided(cases: list[Case], credentials: Credentials | None) -> tuple[list[Case], list[Case]]:
    """(the cases these credentials can run, the cases they cannot)."""
    given = credentials if credentials is not None else Credentials()
    return [c for c in cases if given.provides(c)], [c for c in cases if not given.provides(c)]
