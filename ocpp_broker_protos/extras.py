"""Saying that an optional extra is not installed, in the same words everywhere."""

from __future__ import annotations


def missing_extra_message(what: str, extra: str, error: ImportError) -> str:
    """`WHAT needs the [EXTRA] extra: pip install '...[EXTRA]' (the import error)`."""
    return f"{what} needs the [{extra}] extra: pip install 'ocpp-broker-protos[{extra}]' ({error})"
