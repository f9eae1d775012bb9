"""The documentation says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from ocpp_broker_protos import PROTO_FILES, errors, proto_include_dir
from tests.contract_docs import rpc_codes, rpc_errors, service_reasons
from tests.contract_modules import all_enums, all_messages, all_services
from tests.raised_reasons import rpc_reasons, split, wrapper_reasons

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "api.md").read_text()
# The contract as shipped, so this holds for an installed wheel too.
PROTO = "\n".join((proto_include_dir() / name).read_text() for name in PROTO_FILES)
# A broker that checks credentials returns these on any RPC; the reference
# server's own RPC code never raises them.
CREDENTIALS = {errors.CREDENTIALS_MISSING, errors.CREDENTIALS_INVALID, errors.READ_ONLY_CREDENTIALS}


def test_the_source_analysis_sees_the_raises():
    # Guards the analysis itself: were it blind, the next test would pass vacuously.
    keys, codes = split(rpc_reasons()[("MappingService", "CreateMapping")])
    assert keys[errors.SECOND_ENABLED_MASTER] == {"station_id", "master_central_system_id"}
    assert codes[errors.SECOND_ENABLED_MASTER] == {"FAILED_PRECONDITION"}
    create_codes = split(rpc_reasons()[("CentralSystemService", "CreateCentralSystem")])[1]
    assert create_codes[errors.CENTRAL_SYSTEM_IDS_EXHAUSTED] == {"RESOURCE_EXHAUSTED"}
    assert set(wrapper_reasons()) == {errors.MALFORMED_REQUEST, errors.INTERNAL}


def test_every_reason_an_rpc_returns_is_documented_on_it_with_its_code_and_metadata():
    raised, documented, codes = rpc_reasons(), rpc_errors(), rpc_codes()
    services = service_reasons()
    assert set(raised) == set(documented)
    problems = []
    for (service, method), found in sorted(raised.items()):
        rpc = f"{service}.{method}"
        docs = documented[(service, method)]
        keys, sent_codes = split(found)
        for reason in sorted(keys):
            if reason not in docs:
                problems.append(f"{rpc}: returns {reason}, which its comment does not list")
                continue
            if docs[reason] != keys[reason]:
                problems.append(
                    f"{rpc}: {reason} sends metadata {sorted(keys[reason])}, documents {sorted(docs[reason])}"
                )
            if {codes[(service, method, reason)]} != sent_codes[reason]:
                problems.append(f"{rpc}: {reason} is sent as {sent_codes[reason]}, documented otherwise")
        for reason in sorted(docs.keys() - keys.keys() - CREDENTIALS):
            problems.append(f"{rpc}: documents {reason}, which it never returns")
        for reason in sorted(wrapper_reasons().keys() - services[service] - docs.keys()):
            problems.append(f"{rpc}: can return {reason}, documented neither on it nor on {service}")
    assert not problems, "\n".join(problems)


def test_documented_reasons_are_the_public_constants():
    # A reason may follow "reason" on the next comment line.
    documented = set(re.findall(r"reason\s+(?://\s*)?`([A-Z_]+)`", PROTO))
    assert {errors.INTERNAL, errors.CENTRAL_SYSTEM_IDS_EXHAUSTED} <= documented
    assert documented <= errors.REASONS, documented - errors.REASONS


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
