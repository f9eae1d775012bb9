"""Protobuf wire format for responses assembled from stored bytes.

A tag is taken from the generated descriptor of the field it frames (its
number and, from its type, its wire type), never spelled as a literal, so a
response built here stays what ``SerializeToString`` would give for the same
message.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

_VARINT, _LENGTH_DELIMITED = 0, 2
_WIRE_TYPES = {
    FieldDescriptor.TYPE_MESSAGE: _LENGTH_DELIMITED,
    FieldDescriptor.TYPE_STRING: _LENGTH_DELIMITED,
    FieldDescriptor.TYPE_BYTES: _LENGTH_DELIMITED,
    FieldDescriptor.TYPE_INT32: _VARINT,
    FieldDescriptor.TYPE_INT64: _VARINT,
    FieldDescriptor.TYPE_UINT32: _VARINT,
    FieldDescriptor.TYPE_UINT64: _VARINT,
    FieldDescriptor.TYPE_BOOL: _VARINT,
    FieldDescriptor.TYPE_ENUM: _VARINT,
}


_ONE_BYTE = [bytes((value,)) for value in range(0x80)]


def varint(value: int) -> bytes:
    """The base-128 varint of a non-negative value."""
    # Lengths and counts of a page: most are one or two bytes.
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if 0 <= value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def tag(field: FieldDescriptor) -> bytes:
    """The encoded tag of one unpacked field, from its descriptor."""
    wire_type = _WIRE_TYPES.get(field.type)
    if wire_type is None:
        raise ValueError(f"{field.full_name}: no hand-assembled encoding for field type {field.type}")
    return varint(field.number << 3 | wire_type)
