"""Page tokens, page sizes and page windows: one mechanism for every list.

A token is the keyset position of the last item a page returned (its sort
key, never an offset), bound to the list and to the request's filters (and
view), in a small versioned binary form, written in lowercase hex::

    version (1 byte) | list (1 byte) | key parts | check (4 bytes)

Each key part is an int (8 bytes, signed, big-endian) or a str / bytes (a
2-byte length, then the UTF-8 or raw bytes; the last part has no length and
runs up to the check). The check is the CRC-32 of the request's filters
(and view), then the list and the key parts, so a token replayed with other
filters, or damaged on its way, does not verify (but for a chance of one in
four billion). It guards against mistakes, not against a forger: tokens are
not secret, and a hand-built one can only name a position in the list.
Version 1 used an 8-byte BLAKE2b digest, which cost a page three times as
much for nothing more; version 2 wrote urlsafe base64, which a page's token
paid for with three calls where hex takes one. A page starts right
after the token's key, found by bisection in the list's sorted container, so
any page costs O(log n + page size) and an insert or delete elsewhere never
shifts it. Decoding is strict (lowercase hex only, exact length, valid
UTF-8); whatever fails is ``INVALID_PAGE_TOKEN``. Tokens carry no time, so
they do not expire; they are not secret either, only opaque (clients must
not build them).
"""

from __future__ import annotations

import binascii
import functools
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from operator import call
from typing import Any, Generic, NamedTuple, TypeVar

from ocpp_broker_protos.reference import errors
from ocpp_broker_protos.reference.errors import FieldViolation

MAX_PAGE_SIZE = 1000
VERSION = 3
#: Longer strings are never a token of this server; they are refused unread.
#: (The longest key the validation rules let in makes a token of 318.)
MAX_TOKEN_LENGTH = 512

_HEADER = struct.Struct(">BB")
_CHECK = struct.Struct(">I")
_INT = struct.Struct(">q")
_LENGTH = struct.Struct(">H")

Key = tuple[Any, ...]


def _utf8(text: str) -> bytes:
    return text.encode()


def _sized(raw: bytes) -> bytes:
    return _LENGTH.pack(len(raw)) + raw


# A part's encoding, when it is not the last part, and when it is.
_ENCODERS: dict[type, tuple[Callable[[Any], bytes], Callable[[Any], bytes]]] = {
    int: (_INT.pack, _INT.pack),
    str: (lambda text: _sized(text.encode()), _utf8),
    bytes: (_sized, bytes),
}


def _body_encoder(header: bytes, key_types: tuple[type, ...]) -> Callable[[Key], bytes]:
    """header and the key parts, encoded; the common key shapes without a
    call per part, as a token is made for every page that has a successor."""
    if key_types == (bytes,):
        return lambda key: header + key[0]
    if key_types and set(key_types) == {int}:
        ints = struct.Struct(">" + "q" * len(key_types))
        return lambda key: header + ints.pack(*key)
    encoders = tuple(_ENCODERS[kind][at == len(key_types) - 1] for at, kind in enumerate(key_types))
    return lambda key: b"".join([header, *map(call, encoders, key)])


T = TypeVar("T")


def size_violations(page_size: int, path: str = "page_size") -> list[FieldViolation]:
    if page_size < 0:
        return [FieldViolation(path, f"must not be negative, got {page_size}")]
    return []


def _bad_token(why: str) -> errors.ApiError:
    return errors.invalid([FieldViolation("page_token", why)], reason=errors.INVALID_PAGE_TOKEN)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, as a response carries it."""

    items: list[T]
    next_page_token: str
    total_count: int


class Listing:
    """One paged list: its number in tokens, its key's shape and page size rule."""

    def __init__(self, number: int, name: str, key_types: tuple[type, ...], default_size: int | None = None) -> None:
        self.number = number
        self.name = name
        self.key_types = key_types
        # None: a page size of 0 means no limit (the lists without `limit`).
        self.default_size = default_size
        self._body = _body_encoder(_HEADER.pack(VERSION, number), key_types)
        # A token is made on every page that has a successor, so the CRC of
        # each recent binding is kept and only the body is added to it.
        self._seed = functools.lru_cache(maxsize=256)(self._binding_crc)

    @staticmethod
    def _binding_crc(binding: Key) -> int:
        return zlib.crc32(repr(binding).encode())

    def _check(self, binding: Key, body: bytes) -> bytes:
        return _CHECK.pack(zlib.crc32(body, self._seed(binding)))

    def token(self, binding: Key, key: Key) -> str:
        return self.token_bytes(binding, key).decode("ascii")

    def token_bytes(self, binding: Key, key: Key) -> bytes:
        """The token as ASCII bytes, for a response encoded by hand."""
        if len(key) != len(self.key_types):
            raise ValueError(f"{self.name} keys have {len(self.key_types)} parts, got {key!r}")
        body = self._body(key)
        # self._check(binding, body), without a frame: this runs for most pages.
        return binascii.hexlify(body + _CHECK.pack(zlib.crc32(body, self._seed(binding))))

    def _key(self, token: str, binding: Key) -> Key:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _bad_token("is not a page token of this list")
        try:
            raw = binascii.unhexlify(token)
        except (binascii.Error, ValueError):  # odd length, not hex, not ASCII
            raise _bad_token("is not a page token of this list") from None
        # Only the canonical spelling is a token, so each position has one.
        if raw.hex() != token or len(raw) < _HEADER.size + _CHECK.size:
            raise _bad_token("is not a page token of this list")
        version, number = _HEADER.unpack_from(raw)
        if version != VERSION or number != self.number:
            raise _bad_token(f"was not issued for {self.name}")
        raw, check = raw[: -_CHECK.size], raw[-_CHECK.size :]
        if check != self._check(binding, raw):
            raise _bad_token(
                "was issued for other filters or another view, or is damaged; "
                "pass it back unchanged, with the filters of the first page"
            )
        key: list[Any] = []
        at = _HEADER.size
        last = len(self.key_types) - 1
        try:
            for part, kind in enumerate(self.key_types):
                if kind is int:
                    key.append(_INT.unpack_from(raw, at)[0])
                    at += _INT.size
                    continue
                if part == last:
                    length = len(raw) - at
                else:
                    (length,) = _LENGTH.unpack_from(raw, at)
                    at += _LENGTH.size
                value = raw[at : at + length]
                if len(value) != length:
                    raise ValueError("short key")
                key.append(value.decode() if kind is str else value)
                at += length
        except (struct.error, ValueError):  # UnicodeDecodeError is a ValueError
            raise _bad_token("is not a page token of this list") from None
        if at != len(raw):
            raise _bad_token("is not a page token of this list")
        return tuple(key)

    def cursor(
        self, page_size: int, page_token: str, binding: Key, sizes: tuple[int | None, int] | None = None
    ) -> Cursor:
        """The request's position and size; raises INVALID_PAGE_TOKEN.

        ``binding`` is what the token is bound to: the request's filters (and
        view). The caller has already refused a negative ``page_size``, with
        its other field violations in one status. ``sizes`` (size for 0,
        largest size) replaces the list's own rule when given."""
        after = self._key(page_token, binding) if page_token else None
        default_size, max_size = (self.default_size, MAX_PAGE_SIZE) if sizes is None else sizes
        size = default_size if page_size == 0 else page_size if page_size < max_size else max_size
        return _new_cursor((self, binding, after, size))


class Cursor(NamedTuple):
    """Where a requested page starts and how long it may be.

    A NamedTuple rather than a frozen dataclass: one is made per list call,
    and a tuple is made for a fraction of the cost."""

    listing: Listing
    binding: Key
    #: Sort key of the last item of the previous page; None on a first page.
    after: Key | None
    #: Largest number of items; None for no limit.
    size: int | None

    @property
    def whole(self) -> bool:
        """A request with neither page size nor token: the whole list, as before paging."""
        return self.after is None and self.size is None

    def window(self, lo: int, hi: int, position_after: Callable[..., int], skip: int = 0) -> tuple[int, int]:
        """Positions [start, stop) of the page among the matches at [lo, hi).

        ``position_after(*key)`` is the bisect_right position of a token's
        key, given its parts as arguments, in the container that holds the
        matches (so a one-part key's container can pass its own bisect);
        ``skip`` counts from the page's start (``offset``)."""
        # Comparisons, not min() and max(): a page is read on every list
        # call, and CPython 3.11 parses arguments for each min() call.
        start = lo
        if self.after is not None:
            position = position_after(*self.after)
            start = hi if position > hi else position if position > lo else lo
        start = start + skip if start + skip < hi else hi
        size = self.size
        return start, (hi if size is None or start + size > hi else start + size)

    def next_token(self, stop: int, hi: int, last_key: Callable[[], Key]) -> str:
        """The token after position stop, or "" when no match follows it."""
        return self.next_token_bytes(stop, hi, last_key).decode("ascii")

    def next_token_bytes(self, stop: int, hi: int, last_key: Callable[[], Key]) -> bytes:
        """next_token as ASCII bytes."""
        return self.listing.token_bytes(self.binding, last_key()) if stop < hi else b""

    def page(self, items: list[T], stop: int, lo: int, hi: int, last_key: Callable[[], Key]) -> Page[T]:
        return Page(items, self.next_token(stop, hi, last_key), hi - lo)


# A Cursor made in C, without NamedTuple's __new__ in Python: one is made per list call.
_new_cursor = functools.partial(tuple.__new__, Cursor)

CENTRAL_SYSTEMS = Listing(1, "ListCentralSystems", (int,))
MAPPINGS = Listing(2, "GetAllMappings", (str, int))
WORKERS = Listing(3, "ListWorkers", (int,))
WORKER_CONNECTIONS = Listing(4, "GetWorkerConnections", (str,))
TRANSACTIONS = Listing(5, "GetAllTransactions", (bytes,), default_size=100)
