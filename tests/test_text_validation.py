"""Names, descriptions and URLs that would hide what they say are refused
over the API, with a violation that says why, and change nothing."""

from __future__ import annotations

import functools

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from ocpp_broker_protos import errors
from ocpp_broker_protos.central_system.v1.central_system_pb2 import (
    CreateCentralSystemRequest,
    UpdateCentralSystemRequest,
)
from tests.rpc_checks import expect_error, violations

URL = "wss://csms.example/ocpp"
GOOD = {"name": "Main", "websocket_url": URL, "description": ""}

REFUSED = [
    ("name", "Main\x00", "control characters; found U+0000"),
    ("name", "Main\x1b[2J", "control characters; found U+001B"),
    ("name", "Main\x7f", "control characters; found U+007F"),
    ("name", "Main\x85", "control characters; found U+0085"),
    ("name", "two\nlines", "control characters; found U+000A"),
    ("name", "\u200b", "must have a visible character"),
    ("name", " \u200b\ufeff ", "must have a visible character"),
    ("name", "invoice\u202egpj.exe", "bidirectional override or isolate characters"),
    ("name", "a\u202ab", "found U+202A"),
    ("name", "\u2066Main\u2069", "found U+2066"),
    ("description", "ok\x00", "control characters other than tab and line breaks; found U+0000"),
    ("description", "bell\x07", "found U+0007"),
    ("description", "first\u202dsecond", "bidirectional override or isolate characters"),
    ("description", "x\u2069", "found U+2069"),
    ("websocket_url", "wss://csms.example/%zz", "broken percent-encoding '%zz' at position 19"),
    ("websocket_url", "wss://csms.example/x%4", "broken percent-encoding '%4'"),
    ("websocket_url", "wss://csms.example/a%", "broken percent-encoding '%'"),
    ("websocket_url", "wss://bücher.example/", "punycode form (xn--bcher-kva.example for bücher.example)"),
    ("websocket_url", "wss://csms.example/über", "must be ASCII: percent-encode"),
    ("websocket_url", "wss://csms.example/\u202eocpp", "control characters"),
]


def _ids(case: tuple[str, str, str]) -> str:
    return f"{case[0]}-{case[1].encode('unicode_escape').decode()}"


@pytest.mark.parametrize("rpc", ["CreateCentralSystem", "UpdateCentralSystem"])
@pytest.mark.parametrize(("field", "value", "why"), REFUSED, ids=map(_ids, REFUSED))
def test_hidden_characters_and_broken_urls_are_refused(ocpp_server, ocpp_central_system_stub, rpc, field, value, why):
    request: CreateCentralSystemRequest | UpdateCentralSystemRequest
    if rpc == "CreateCentralSystem":
        request = CreateCentralSystemRequest(**{**GOOD, field: value})
    else:
        stored = ocpp_central_system_stub.CreateCentralSystem(CreateCentralSystemRequest(**GOOD)).central_system
        request = UpdateCentralSystemRequest(id=stored.id, update_mask=FieldMask(paths=[field]), **{field: value})
    error = expect_error(
        functools.partial(getattr(ocpp_central_system_stub, rpc), request),
        grpc.StatusCode.INVALID_ARGUMENT,
        errors.INVALID_FIELD,
        {field},
        ocpp_server,
    )
    ((_, description),) = violations(error)
    assert why in description, description


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ops \U0001f469\u200d\U0001f4bb"),  # a zero width joiner inside an emoji sequence
        ("name", "\u0645\u06cc\u200c\u0631\u0648\u062f"),  # a zero width non-joiner inside Persian text
        ("name", "\u05e2\u05d1\u05e8\u05d9\u05ea CSMS"),  # right-to-left text needs no override
        ("description", "line one\r\nline two\n\tindented"),
        ("websocket_url", "wss://xn--bcher-kva.example/ocpp%2Fv16?station=CP%201"),
        ("websocket_url", "ws://[::1]:9000/ocpp"),
    ],
)
def test_what_is_fine_stays_accepted(ocpp_central_system_stub, field, value):
    request = CreateCentralSystemRequest(**{**GOOD, field: value})
    stored = ocpp_central_system_stub.CreateCentralSystem(request).central_system
    assert getattr(stored, field) == value
