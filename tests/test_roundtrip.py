"""Every message of the contract survives binary, JSON and text round trips.

Messages are discovered from the generated descriptors; the last test fails
when any message of the four files was not exercised here.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, json_format, text_format
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contract_modules import all_messages, proto_file_names
from tests.message_strategies import edge_instance, message_class, messages

MESSAGES = all_messages()
EXERCISED: set[str] = set()
IDS = [m.full_name for m in MESSAGES]


def assert_round_trips(msg: Message) -> None:
    cls = type(msg)
    assert cls.FromString(msg.SerializeToString()) == msg
    assert cls.FromString(msg.SerializeToString(deterministic=True)) == msg
    for preserve in (False, True):
        text = json_format.MessageToJson(msg, preserving_proto_field_name=preserve)
        assert json_format.Parse(text, cls()) == msg
        as_dict = json_format.MessageToDict(msg, preserving_proto_field_name=preserve)
        assert json_format.ParseDict(as_dict, cls()) == msg
    assert text_format.Parse(text_format.MessageToString(msg), cls()) == msg
    assert text_format.Parse(text_format.MessageToString(msg, as_one_line=True), cls()) == msg
    EXERCISED.add(msg.DESCRIPTOR.full_name)


@pytest.mark.parametrize("desc", MESSAGES, ids=IDS)
@pytest.mark.parametrize("high", [True, False], ids=["high-edge", "low-edge"])
def test_every_field_set_at_its_edges_round_trips(desc: descriptor.Descriptor, high: bool) -> None:
    msg = edge_instance(desc, high)
    # Every field is really set, so each one takes part in every round trip.
    assert {f.name for f, _ in msg.ListFields()} == {f.name for f in desc.fields}
    assert_round_trips(msg)


@pytest.mark.parametrize("desc", MESSAGES, ids=IDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_instances_round_trip(desc: descriptor.Descriptor, data: st.DataObject) -> None:
    assert_round_trips(data.draw(messages(desc)))


# Fields a newer version of the contract might add: one of each wire type,
# numbered far above anything in use.
_FUTURE_FIELDS = (
    ("future_varint", 536_870_911, descriptor_pb2.FieldDescriptorProto.TYPE_UINT64, 2**64 - 1),
    ("future_text", 536_870_910, descriptor_pb2.FieldDescriptorProto.TYPE_STRING, "späteres Feld"),
    ("future_fixed64", 536_870_909, descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64, 7),
    ("future_fixed32", 536_870_908, descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32, 9),
)


def newer_class(desc: descriptor.Descriptor) -> type[Message]:
    """desc as a newer contract version would have it: the same message plus
    fields this version does not know, built in a separate descriptor pool."""
    pool = descriptor_pool.DescriptorPool()
    for dep in (Timestamp, FieldMask):
        dep_proto = descriptor_pb2.FileDescriptorProto()
        dep.DESCRIPTOR.file.CopyToProto(dep_proto)
        pool.Add(dep_proto)
    file_proto = descriptor_pb2.FileDescriptorProto()
    desc.file.CopyToProto(file_proto)
    relative = desc.full_name.removeprefix(file_proto.package + ".").split(".")
    holder: Any = file_proto
    for name in relative:
        holder = next(
            m for m in (holder.message_type if holder is file_proto else holder.nested_type) if m.name == name
        )
    for name, number, kind, _ in _FUTURE_FIELDS:
        holder.field.add(
            name=name,
            number=number,
            type=kind,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
        )
    pool.Add(file_proto)
    return message_class(pool.FindMessageTypeByName(desc.full_name))


@pytest.mark.parametrize("desc", MESSAGES, ids=IDS)
def test_unknown_fields_from_a_newer_version_survive(desc: descriptor.Descriptor) -> None:
    newer_cls = newer_class(desc)
    current = edge_instance(desc, high=True)
    newer = newer_cls.FromString(current.SerializeToString())
    for name, _, _, value in _FUTURE_FIELDS:
        setattr(newer, name, value)
    parsed = type(current).FromString(newer.SerializeToString())
    known_only = type(current)()
    known_only.CopyFrom(parsed)
    known_only.DiscardUnknownFields()
    assert known_only == current  # known fields intact
    assert newer_cls.FromString(parsed.SerializeToString()) == newer  # unknown ones kept


def test_every_message_of_the_contract_was_exercised() -> None:
    # Runs last in this module: the tests above fill EXERCISED.
    declared = {m.full_name for m in MESSAGES}
    files = {m.file.name for m in MESSAGES}
    assert files == set(proto_file_names())
    assert declared, "no messages discovered"
    assert declared - EXERCISED == set()
