"""The transaction indexes: sorted keys, small or chunked, and the values of the chunks read."""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate

import pytest

from ocpp_broker_protos.reference import key_index
from ocpp_broker_protos.reference.key_index import Index, LargeIndex, SmallIndex, UnsortedSmallIndex


def _check(index: Index, model: dict[bytes, bytes], small_max: int, rng: random.Random) -> None:
    keys = sorted(model)
    values = [model[key] for key in keys]
    n = len(keys)
    assert len(index) == n
    assert not (isinstance(index, SmallIndex) and n > small_max)
    values_of = _values_of(model)
    for _ in range(8):
        start = rng.randint(0, n)
        stop = rng.randint(start, n + small_max)
        assert b"".join(index.parts(start, stop, values_of)) == b"".join(values[start:stop])
    for probe in (b"", b"\xff" * 7, rng.randbytes(6), *rng.sample(keys, min(3, n))):
        assert index.bisect_right(probe) == bisect_right(keys, probe)
    for position in rng.sample(range(n), min(5, n)):
        assert index.key_at(position) == keys[position]
    assert list(index) == keys  # once read, an index is in order
    if isinstance(index, LargeIndex):  # chunks stay non-empty and bounded, maxes true, values in step
        chunks = index._keys
        assert all(0 < len(chunk) <= 2 * small_max for chunk in chunks)
        assert index._maxes == [chunk[-1] for chunk in chunks]
        for chunk, kept in zip(chunks, index._joined, strict=True):
            assert kept is None or (bytes(kept[0]), list(kept[1])) == (
                b"".join(model[key] for key in chunk),
                list(accumulate((len(model[key]) for key in chunk), initial=0)),
            )


def _values_of(model: dict[bytes, bytes]) -> key_index.ValuesOf:
    return lambda keys: [model[key] for key in keys]


@pytest.mark.parametrize(("small_max", "steps"), [(3, 400), (8, 300), (key_index.SMALL_MAX, 30)])
def test_an_index_matches_a_sorted_dict_through_inserts_removals_and_reads(monkeypatch, small_max, steps):
    monkeypatch.setattr(key_index, "SMALL_MAX", small_max)
    rng = random.Random(small_max)
    model: dict[bytes, bytes] = {}
    index: Index | None = None
    kinds = set()
    read_chunks = 0
    for _ in range(steps):
        if index is not None and model and rng.random() < 0.45:
            for key in rng.sample(sorted(model), min(len(model), rng.randint(1, 3 * small_max))):
                index.remove(key)
                del model[key]
        elif index is not None and model and rng.random() < 0.2:
            # As ending a transaction does: its key leaves and comes back with new bytes.
            for key in rng.sample(sorted(model), min(len(model), rng.randint(1, small_max))):
                index.remove(key)
                model[key] = rng.randbytes(5)
                index = key_index.merged(index, [key])
        else:
            size = rng.choice([1, 2, small_max // 2 + 1, small_max, 3 * small_max])
            new = {rng.randbytes(6): rng.randbytes(4) for _ in range(size)}
            new = {key: value for key, value in new.items() if key not in model}
            model.update(new)
            # The first as loading makes them.
            index = key_index.build(UnsortedSmallIndex(new)) if index is None else key_index.merged(index, list(new))
        kinds.add(type(index))
        _check(index, model, small_max, rng)
        kinds.add(type(index))
        if isinstance(index, LargeIndex):
            read_chunks = max(read_chunks, sum(kept is not None for kept in index._joined))
    assert kinds == {UnsortedSmallIndex, SmallIndex, LargeIndex}
    assert read_chunks > 1  # chunks were read and joined


@pytest.mark.parametrize("size", [2, key_index.SMALL_MAX + 1, 5 * key_index.SMALL_MAX])
def test_removing_a_missing_key_raises_and_changes_nothing(size):
    keys = [i.to_bytes(4, "big") for i in range(0, 2 * size, 2)]
    index = key_index.build(keys[::-1])
    for missing in (b"", (1).to_bytes(4, "big"), (2 * size + 1).to_bytes(4, "big")):
        with pytest.raises(KeyError):
            index.remove(missing)
    assert list(index) == keys


def test_a_batch_list_becomes_the_small_index_itself():
    batch = SmallIndex([b"b", b"a"])
    assert key_index.build(batch) is batch
    assert batch == [b"a", b"b"]


def test_a_large_index_reads_a_chunk_once():
    keys = [i.to_bytes(4, "big") for i in range(3 * key_index.SMALL_MAX)]
    index = key_index.build(list(keys))
    asked: list[int] = []

    def values_of(chunk: list[bytes]) -> list[key_index.Part]:
        asked.append(len(chunk))
        return [key[::-1] for key in chunk]

    for _ in range(3):
        assert b"".join(index.parts(10, 20, values_of)) == b"".join(key[::-1] for key in keys[10:20])
    assert asked == [key_index.SMALL_MAX]
    # A page across two chunks is a piece of each; a change drops a chunk's bytes.
    assert len(index.parts(990, 1010, values_of)) == 2
    index.remove(keys[5])
    assert b"".join(index.parts(10, 20, values_of)) == b"".join(key[::-1] for key in keys[11:21])
    assert asked == [key_index.SMALL_MAX, key_index.SMALL_MAX, key_index.SMALL_MAX - 1]


@pytest.mark.parametrize("size", [key_index.SMALL_MAX - 1, key_index.SMALL_MAX, key_index.SMALL_MAX + 1])
def test_past_small_max_keys_an_index_is_large_whether_built_or_grown(size):
    keys = [i.to_bytes(4, "big") for i in range(size)]
    built = key_index.build(list(keys))
    grown = key_index.merged(key_index.build(keys[:1]), keys[1:])
    for index in (built, grown):
        assert isinstance(index, LargeIndex if size > key_index.SMALL_MAX else SmallIndex)
        assert list(index) == keys


@pytest.mark.parametrize("size", [3, key_index.SMALL_MAX + 1])
def test_key_at_refuses_positions_outside_the_index(size):
    index = key_index.build([i.to_bytes(4, "big") for i in range(size)])
    for position in (-1, size):
        with pytest.raises(IndexError):
            index.key_at(position)


UNSORTED_CALLS = {
    "bisect_right": lambda index: index.bisect_right(b"k5"),
    "key_at": lambda index: index.key_at(2),
    "parts": lambda index: index.parts(1, 4, lambda keys: [key.upper() for key in keys]),
    "insert_key": lambda index: (index.insert_key(b"k55"), list(index))[1],
    "remove": lambda index: (index.remove(b"k3"), list(index))[1],
}


@pytest.mark.parametrize("call", list(UNSORTED_CALLS))
def test_an_unsorted_index_sorts_itself_on_the_first_call_that_needs_order(call):
    keys = [f"k{i}".encode() for i in range(1, 9)]
    shuffled = keys[:]
    random.Random(call).shuffle(shuffled)
    unsorted, plain = UnsortedSmallIndex(shuffled), SmallIndex(keys)
    assert len(unsorted) == len(keys)
    assert UNSORTED_CALLS[call](unsorted) == UNSORTED_CALLS[call](plain)
    assert type(unsorted) is SmallIndex
    assert unsorted == plain


def test_build_keeps_a_small_unsorted_index_and_sorts_a_large_one():
    small = UnsortedSmallIndex([b"b", b"a"])
    assert key_index.build(small) is small
    assert small == [b"b", b"a"]  # not sorted until read
    assert small.key_at(0) == b"a"
    keys = [i.to_bytes(4, "big") for i in range(key_index.SMALL_MAX + 1)]
    large = key_index.build(UnsortedSmallIndex(keys[::-1]))
    assert isinstance(large, LargeIndex)
    assert list(large) == keys
