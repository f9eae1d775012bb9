"""The documentation says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from ocpp_broker_protos import PROTO_FILES, proto_include_dir
from ocpp_broker_protos.reference import errors
from tests.contract_modules import all_enums, all_messages, all_services

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "api.md").read_text()
# The contract as shipped, so this holds for an installed wheel too.
PROTO = "\n".join((proto_include_dir() / name).read_text() for name in PROTO_FILES)
# Reasons only the Python API and fixtures can raise; no RPC returns them.
STORE_ONLY = {"TRANSACTION_ALREADY_EXISTS", "TRANSACTION_NOT_FOUND", "CONNECTOR_BUSY"}


def reason_constants() -> set[str]:
    return {v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str) and k == v}


def test_every_reason_the_server_returns_is_documented_in_the_contract():
    documented = set(re.findall(r"reason `([A-Z_]+)`", PROTO))
    assert reason_constants() - STORE_ONLY - {"INTERNAL"} <= documented
    assert documented <= reason_constants(), documented - reason_constants()


def test_the_api_reference_covers_every_rpc_and_message():
    for service in all_services():
        for method in service.methods:
            assert f"#### {service.name}.{method.name}" in API
    for message in all_messages():
        assert f"#### {message.name}\n" in API
    for enum in all_enums():
        assert f"#### {enum.name}\n" in API
        for value in enum.values:
            assert f"| `{value.name}` | {value.number} |" in API
    # Every RPC documents INVALID_FIELD (the plain lists for page_size), and
    # the five paged lists document INVALID_PAGE_TOKEN.
    assert API.count("| INVALID_ARGUMENT | `INVALID_FIELD` |") == sum(len(s.methods) for s in all_services())
    assert API.count("| INVALID_ARGUMENT | `INVALID_PAGE_TOKEN` |") == 5
