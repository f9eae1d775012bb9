"""Field rules of the contract. Each check returns the violations it finds,
so one response can name every bad field at once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from urllib.parse import SplitResult, urlsplit

from ocpp_broker_protos.connection.v1.connection_pb2 import WorkerView
from ocpp_broker_protos.reference.errors import FieldViolation

# OCPP 2.0.1 identifierString: A-Z a-z 0-9 * - _ = + | @ .
_IDENTIFIER = re.compile(r"[A-Za-z0-9*\-_=+|@.]+")
STATION_ID_MAX = 48
NAME_MAX = 128
URL_MAX = 512
DESCRIPTION_MAX = 1024
TRANSACTION_ID_MAX = 36
CONNECTOR_ID_MAX = 36
INT32_MAX = 2**31 - 1
_WORKER_VIEWS = frozenset(WorkerView.values())
# Bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069):
# they make text display in another order than it is stored ("Trojan
# Source"), so an operator would read a name that is not the one stored.
_BIDI = "\u202a-\u202e\u2066-\u2069"
# Unicode category Cc is exactly U+0000-001F and U+007F-009F.
_HIDDEN_IN_NAME = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
# Line breaks and tabs are the ordinary white space of multi-line text (a
# browser's textarea sends CR LF); every other control character is refused.
_HIDDEN_IN_DESCRIPTION = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
_BROKEN_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

Violations = list[FieldViolation]


def station_id(value: str, path: str = "station_id") -> Violations:
    if not value:
        return [FieldViolation(path, "must not be empty")]
    if len(value) > STATION_ID_MAX:
        return [FieldViolation(path, f"must be at most {STATION_ID_MAX} characters, got {len(value)}")]
    if not _IDENTIFIER.fullmatch(value):
        return [FieldViolation(path, "may only contain A-Z a-z 0-9 * - _ = + | @ .")]
    return []


def optional_station_id(value: str, path: str = "station_id") -> Violations:
    return station_id(value, path) if value else []


def positive_id(value: int, path: str) -> Violations:
    return [] if value > 0 else [FieldViolation(path, f"must be positive, got {value}")]


def non_negative(value: int, path: str) -> Violations:
    return [] if value >= 0 else [FieldViolation(path, f"must not be negative, got {value}")]


def _hidden_characters(value: str, pattern: re.Pattern[str], controls: str) -> str | None:
    """Why value holds a character that would hide what it says, or None."""
    if value.isprintable():  # no Cc or Cf character at all: the common case, at C speed
        return None
    found = pattern.search(value)
    if found is None:
        return None
    char, position = found.group(), found.start()
    if unicodedata.category(char) == "Cc":
        return f"must not contain {controls}; found U+{ord(char):04X} at position {position}"
    return (
        "must not contain bidirectional override or isolate characters, which show text in another "
        f"order than it is stored; found U+{ord(char):04X} at position {position}"
    )


def name(value: str, path: str = "name") -> Violations:
    if not value.strip():
        return [FieldViolation(path, "must not be empty or blank")]
    if len(value) > NAME_MAX:
        return [FieldViolation(path, f"must be at most {NAME_MAX} characters, got {len(value)}")]
    hidden = _hidden_characters(value, _HIDDEN_IN_NAME, "control characters")
    if hidden:
        return [FieldViolation(path, hidden)]
    # Format characters (Unicode category Cf) such as U+200B ZERO WIDTH SPACE
    # or U+200D ZERO WIDTH JOINER are fine inside a name (some scripts and
    # emoji need them), but a name made of nothing else shows as blank.
    if not value.isprintable() and all(char.isspace() or unicodedata.category(char) == "Cf" for char in value):
        return [FieldViolation(path, "must have a visible character, not only white space and invisible ones")]
    return []


def description(value: str, path: str = "description") -> Violations:
    if len(value) > DESCRIPTION_MAX:
        return [FieldViolation(path, f"must be at most {DESCRIPTION_MAX} characters, got {len(value)}")]
    hidden = _hidden_characters(value, _HIDDEN_IN_DESCRIPTION, "control characters other than tab and line breaks")
    if hidden:
        return [FieldViolation(path, hidden)]
    return []


def websocket_url(value: str, path: str = "websocket_url") -> Violations:
    def bad(why: str) -> Violations:
        return [FieldViolation(path, why)]

    if not value:
        return bad("must not be empty")
    if len(value) > URL_MAX:
        return bad(f"must be at most {URL_MAX} characters, got {len(value)}")
    if any(c.isspace() or not c.isprintable() for c in value):
        return bad("must not contain white space or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return bad("must be an absolute ws:// or wss:// URL with a valid host and port")
    if parts.hostname and not parts.hostname.isascii():
        return bad(f"host must be ASCII: send an internationalized domain name in its punycode form{_punycode(parts)}")
    if not value.isascii():
        return bad("must be ASCII: percent-encode the UTF-8 bytes of other characters (ü as %C3%BC)")
    broken = _BROKEN_PERCENT.search(value)
    if broken:
        where = broken.start()
        return bad(
            f"has a broken percent-encoding {value[where : where + 3]!r} at position {where}: "
            "'%' must be followed by two hexadecimal digits"
        )
    if parts.scheme.lower() not in ("ws", "wss"):
        return bad("scheme must be ws or wss")
    if "@" in parts.netloc:
        return bad("must not carry a user name or password")
    if not parts.hostname:
        return bad("must name a host")
    if port == 0:
        return bad("port must be between 1 and 65535")
    if "#" in value:
        return bad("must not have a fragment")
    return []


def bounded_text(value: str, path: str, maximum: int) -> Violations:
    if not value:
        return [FieldViolation(path, "must not be empty")]
    if len(value) > maximum:
        return [FieldViolation(path, f"must be at most {maximum} characters, got {len(value)}")]
    return []


def worker_view(value: int, path: str = "view") -> Violations:
    if value in _WORKER_VIEWS:
        return []
    return [FieldViolation(path, f"must be one of {', '.join(WorkerView.keys())}, got {value}")]


def _punycode(parts: SplitResult) -> str:
    """ ", for example xn--bcher-kva.example" for the URL's host, when it has one."""
    try:
        ascii_host = (parts.hostname or "").encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    return f" ({ascii_host} for {parts.hostname})"


_STATION_IDS = re.compile(rf"(?:{_IDENTIFIER.pattern.removesuffix('+')}{{1,{STATION_ID_MAX}}}\n)*")


def all_station_ids(values: Collection[str]) -> bool:
    """Whether station_id finds nothing wrong with any of values, in one
    regular-expression pass over them all (bulk loading)."""
    if not values:
        return True
    joined = "\n".join(values) + "\n"
    return joined.count("\n") == len(values) and _STATION_IDS.fullmatch(joined) is not None


def utf8_encodable(text: str) -> bool:
    """False for a string with a lone surrogate, which JSON can carry and
    protobuf strings cannot."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
