"""Hand-assembled responses are byte for byte what protobuf serializes."""

from __future__ import annotations

import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from google.protobuf.wrappers_pb2 import UInt64Value

from ocpp_broker_protos.reference import Store, wire
from ocpp_broker_protos.reference.transactions import encode_page, frame
from ocpp_broker_protos.transaction.v1.transaction_pb2 import GetAllTransactionsResponse, Transaction
from tests.contract_modules import all_messages
from tests.message_strategies import is_repeated

_SAMPLES = {
    FieldDescriptor.TYPE_STRING: "x",
    FieldDescriptor.TYPE_INT32: 300,
    FieldDescriptor.TYPE_UINT32: 300,
    FieldDescriptor.TYPE_BOOL: True,
    FieldDescriptor.TYPE_ENUM: 1,
}


def _scalar_fields() -> list[FieldDescriptor]:
    return [
        field
        for message in all_messages()
        for field in message.fields
        if field.type in _SAMPLES and not is_repeated(field)
    ]


@pytest.mark.parametrize("field", _scalar_fields(), ids=lambda f: f.full_name)
def test_a_tag_from_the_descriptor_starts_what_protobuf_serializes(field: FieldDescriptor) -> None:
    assert field.containing_type is not None
    message = message_factory.GetMessageClass(field.containing_type)()
    setattr(message, field.name, _SAMPLES[field.type])
    assert message.SerializeToString().startswith(wire.tag(field))


def test_a_tag_of_a_message_field_frames_its_serialized_message() -> None:
    t = Transaction(id="T-1", station_id="CP-1", connector_id="1", central_system_id=2, started_at=Timestamp(seconds=9))
    assert frame(t) == GetAllTransactionsResponse(transactions=[t]).SerializeToString()


def _transactions(count: int) -> list[Transaction]:
    return [
        Transaction(
            id=f"T-{n:04d}" + "x" * (n % 40 // 2),  # body lengths on both sides of 127
            station_id=f"CP-{n % 3}",
            connector_id=str(n),
            central_system_id=1 + n % 2,
            started_at=Timestamp(seconds=1_700_000_000 + n * 60, nanos=n),
            ended_at=Timestamp(seconds=1_700_000_000 + n * 60 + 5),
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "request_args"),
    [
        (0, {}),  # total 0 and no token: both fields left out
        (5, {}),  # one page, no token
        (250, {}),  # a token follows
        (250, {"limit": 1000}),  # a total above 127: multi-byte varint
        (250, {"offset": 249}),
        (250, {"offset": 999}),  # empty page past the end, total kept
        (250, {"station_id": "CP-1", "limit": 3}),
        (250, {"central_system_id": 2, "limit": 1}),
    ],
)
def test_a_hand_assembled_page_equals_the_serialized_message(count: int, request_args: dict[str, int | str]) -> None:
    store = Store()
    store.add_transactions(_transactions(count))
    raw = store.transactions_page_encoded(**request_args)  # type: ignore[arg-type]
    parsed = GetAllTransactionsResponse.FromString(raw)
    rebuilt = GetAllTransactionsResponse(
        transactions=list(parsed.transactions),
        total_count=parsed.total_count,
        next_page_token=parsed.next_page_token,
    )
    assert raw == rebuilt.SerializeToString()
    # Walk on: the pages after a token are assembled the same way.
    if parsed.next_page_token:
        follow = store.transactions_page_encoded(**request_args, page_token=parsed.next_page_token)  # type: ignore[arg-type]
        again = GetAllTransactionsResponse.FromString(follow)
        assert follow == again.SerializeToString()
        assert again.total_count == parsed.total_count


def test_encode_page_carries_every_field_in_number_order() -> None:
    items = _transactions(2)
    raw = encode_page([frame(t) for t in items], 300, "token-é".encode())
    assert (
        raw
        == GetAllTransactionsResponse(
            transactions=items, total_count=300, next_page_token="token-é"
        ).SerializeToString()
    )


# A zero field is left out of a message, so zero has its own test.
@pytest.mark.parametrize("value", [1, 127, 128, 300, 16_383, 16_384, 2**21 - 1, 2**21, 2**35, 2**64 - 1])
def test_varint_is_what_protobuf_encodes(value: int) -> None:
    assert UInt64Value(value=value).SerializeToString() == b"\x08" + wire.varint(value)


def test_the_varint_of_zero_is_one_zero_byte() -> None:
    assert wire.varint(0) == b"\x00"
