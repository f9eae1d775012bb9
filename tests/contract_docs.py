"""The errors the shipped .proto comments document, per service and per RPC.

An RPC comment lists its errors after a line ``Errors:``, one bullet each::

    * FAILED_PRECONDITION, reason `SECOND_ENABLED_MASTER`: why. Metadata:
      `station_id`, `master_central_system_id` (the current master).

A service comment names the reasons every one of its RPCs can return.
"""

from __future__ import annotations

import re

from google.protobuf import descriptor_pb2

import ocpp_broker_protos

BULLET = re.compile(r"^\* ([A-Z_]+), reason `([A-Z_]+)`: (.*)$")
REASON = re.compile(r"reason\s+`([A-Z_]+)`")
KEY = re.compile(r"`([a-z_]+)`")
SERVICE, METHOD = 6, 2  # FileDescriptorProto.service, ServiceDescriptorProto.method

Documented = dict[str, set[str]]  # reason -> metadata keys


def _comments() -> dict[tuple[str, ...], str]:
    shipped = descriptor_pb2.FileDescriptorSet.FromString(ocpp_broker_protos.descriptor_set_bytes())
    found: dict[tuple[str, ...], str] = {}
    for file in shipped.file:
        if file.name not in ocpp_broker_protos.PROTO_FILES:
            continue
        for location in file.source_code_info.location:
            path = tuple(location.path)
            if path[:1] != (SERVICE,) or len(path) not in (2, 4):
                continue
            service = file.service[path[1]]
            key = (service.name,) if len(path) == 2 else (service.name, service.method[path[3]].name)
            found[key] = "\n".join(line.strip() for line in location.leading_comments.splitlines())
    return found


def _bullets(comment: str) -> list[tuple[str, str, str]]:
    lines = comment.split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("Errors:")]
    bullets: list[tuple[str, str, str]] = []
    for line in lines[starts[0] + 1 :] if starts else []:
        match = BULLET.match(line)
        if match:
            code, reason, text = match.groups()
            bullets.append((code, reason, text))
        elif bullets and line:
            code, reason, text = bullets[-1]
            bullets[-1] = (code, reason, f"{text} {line}")
    return bullets


def metadata_keys(text: str) -> set[str]:
    """The keys named after "Metadata:" in a bullet's text."""
    _, marker, keys = text.partition("Metadata:")
    return set(KEY.findall(keys)) if marker else set()


def rpc_errors() -> dict[tuple[str, str], Documented]:
    """(service, method) -> documented reason -> documented metadata keys."""
    found: dict[tuple[str, str], Documented] = {}
    for key, comment in _comments().items():
        if len(key) == 2:
            documented = found.setdefault((key[0], key[1]), {})
            for _, reason, text in _bullets(comment):
                documented.setdefault(reason, set()).update(metadata_keys(text))
    return found


def rpc_codes() -> dict[tuple[str, str, str], str]:
    """(service, method, reason) -> the documented status code name."""
    return {
        (key[0], key[1], reason): code
        for key, comment in _comments().items()
        if len(key) == 2
        for code, reason, _ in _bullets(comment)
    }


def service_reasons() -> dict[str, set[str]]:
    """service -> the reasons its comment says every RPC can return."""
    return {key[0]: set(REASON.findall(comment)) for key, comment in _comments().items() if len(key) == 1}
