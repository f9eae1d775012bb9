"""Hypothesis strategies and edge-case instances derived from field descriptors.

Nothing here names a contract message: every value is built from what the
descriptor says about the field (type, label, message type), so a field added
to a .proto is exercised without touching the tests.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor, message_factory
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

FD = descriptor.FieldDescriptor

INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
# The range google.protobuf.Timestamp allows (0001-01-01 to 9999-12-31).
TIMESTAMP_SECONDS = (-62_135_596_800, 253_402_300_799)
NANOS = (0, 999_999_999)

_INTEGER_RANGES = {
    FD.TYPE_INT32: INT32,
    FD.TYPE_SINT32: INT32,
    FD.TYPE_SFIXED32: INT32,
    FD.TYPE_UINT32: UINT32,
    FD.TYPE_FIXED32: UINT32,
    FD.TYPE_INT64: INT64,
    FD.TYPE_SINT64: INT64,
    FD.TYPE_SFIXED64: INT64,
    FD.TYPE_UINT64: UINT64,
    FD.TYPE_FIXED64: UINT64,
}

# FieldMask paths must survive JSON's snake_case <-> lowerCamelCase mapping:
# lower-case words joined by single underscores, segments joined by dots.
_WORD = st.from_regex(r"[a-z]{1,8}", fullmatch=True)
_SEGMENT = st.lists(_WORD, min_size=1, max_size=3).map("_".join)
_PATH = st.lists(_SEGMENT, min_size=1, max_size=3).map(".".join)

_SAMPLE_TEXT = "Zé 🚗 充电 \u00a0\t\n"


def is_repeated(field: FD) -> bool:
    # FieldDescriptor.label is gone in protobuf 7; is_repeated arrived in 6.
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return bool(getattr(field, "label") == FD.LABEL_REPEATED)  # noqa: B009


def message_class(desc: descriptor.Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(desc)


def _well_known(desc: descriptor.Descriptor) -> st.SearchStrategy[Message] | None:
    if desc.full_name == Timestamp.DESCRIPTOR.full_name:
        return st.builds(
            Timestamp,
            seconds=st.integers(*TIMESTAMP_SECONDS),
            nanos=st.integers(*NANOS),
        )
    if desc.full_name == FieldMask.DESCRIPTOR.full_name:
        return st.builds(FieldMask, paths=st.lists(_PATH, max_size=4))
    return None


def _scalar(field: FD) -> st.SearchStrategy[Any]:
    if field.type in _INTEGER_RANGES:
        return st.integers(*_INTEGER_RANGES[field.type])
    if field.type == FD.TYPE_BOOL:
        return st.booleans()
    if field.type == FD.TYPE_STRING:
        return st.text()
    if field.type == FD.TYPE_BYTES:
        return st.binary()
    if field.type == FD.TYPE_DOUBLE:
        return st.floats(allow_nan=False)
    if field.type == FD.TYPE_FLOAT:
        return st.floats(allow_nan=False, width=32)
    if field.type == FD.TYPE_ENUM:
        assert field.enum_type is not None
        return st.sampled_from([v.number for v in field.enum_type.values])
    raise NotImplementedError(f"no strategy for field type {field.type} of {field.full_name}")


def _single(field: FD) -> st.SearchStrategy[Any]:
    if field.type == FD.TYPE_MESSAGE:
        assert field.message_type is not None
        return messages(field.message_type)
    return _scalar(field)


def messages(desc: descriptor.Descriptor) -> st.SearchStrategy[Message]:
    """Instances of desc, any field possibly set, every field reachable."""
    known = _well_known(desc)
    if known is not None:
        return known
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in desc.fields:
        if is_repeated(field):
            fields[field.name] = st.lists(_single(field), max_size=3)
        else:
            fields[field.name] = _single(field)
    return st.fixed_dictionaries({}, optional=fields).map(lambda kw: message_class(desc)(**kw))


def _edge_scalar(field: FD, high: bool) -> Any:
    if field.type in _INTEGER_RANGES:
        low, top = _INTEGER_RANGES[field.type]
        # The low edge of an unsigned type is the default, which is not "set";
        # take the smallest non-default value instead.
        return top if high else (low if low != 0 else 1)
    if field.type == FD.TYPE_BOOL:
        return True
    if field.type == FD.TYPE_STRING:
        return _SAMPLE_TEXT * (100 if high else 1)
    if field.type == FD.TYPE_BYTES:
        return bytes(range(256))
    if field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return 1.5e30 if high else -0.5
    if field.type == FD.TYPE_ENUM:
        assert field.enum_type is not None
        return field.enum_type.values[-1].number
    raise NotImplementedError(field.full_name)


def edge_instance(desc: descriptor.Descriptor, high: bool) -> Message:
    """An instance with every field set: scalars at an edge of their range,
    repeated fields with two elements, nested messages filled the same way."""
    if desc.full_name == Timestamp.DESCRIPTOR.full_name:
        s, n = (TIMESTAMP_SECONDS[1], NANOS[1]) if high else (TIMESTAMP_SECONDS[0], 1)
        return Timestamp(seconds=s, nanos=n)
    if desc.full_name == FieldMask.DESCRIPTOR.full_name:
        return FieldMask(paths=["name", "websocket_url.host_name"])
    kwargs: dict[str, Any] = {}
    for field in desc.fields:
        if field.type == FD.TYPE_MESSAGE:
            assert field.message_type is not None
            value: Any = edge_instance(field.message_type, high)
        else:
            value = _edge_scalar(field, high)
        kwargs[field.name] = [value, value] if is_repeated(field) else value
    return message_class(desc)(**kwargs)
