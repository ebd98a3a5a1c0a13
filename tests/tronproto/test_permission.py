"""Permission messages and the operations bitmap (pure): round trips, property-tested."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tronproto.permission import operations_hex, operations_of
from tronproto.tx import decode_raw, raw_data_from_bytes, raw_data_to_bytes

ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "41" + b.hex())
KEYS = st.lists(
    st.fixed_dictionaries({"address": ADDRESSES, "weight": st.integers(1, 2**40)}),
    min_size=1,
    max_size=5,
)


@given(st.frozensets(st.integers(0, 255)))
def test_operations_round_trip(types: frozenset[int]) -> None:
    bitmap = operations_hex(types)
    assert len(bitmap) == 64 and operations_of(bitmap) == types


def test_delegate_only_bitmap() -> None:
    assert operations_hex((57, 58)) == "00" * 7 + "06" + "00" * 24


@given(
    KEYS,
    st.lists(
        st.tuples(KEYS, st.frozensets(st.integers(0, 255)), st.text(max_size=32)),
        min_size=1,
        max_size=8,
    ),
    st.integers(1, 10),
)
def test_permission_update_round_trip(
    owner_keys: list[dict[str, object]],
    actives: list[tuple[list[dict[str, object]], frozenset[int], str]],
    threshold: int,
) -> None:
    value = {
        "owner_address": "41" + "11" * 20,
        "owner": {"permission_name": "owner", "threshold": threshold, "keys": owner_keys},
        "actives": [
            {
                "type": "Active",
                "permission_name": name,
                "threshold": threshold,
                "operations": operations_hex(ops),
                "keys": keys,
            }
            for keys, ops, name in actives
        ],
    }
    raw = {
        "contract": [
            {
                "parameter": {
                    "value": value,
                    "type_url": "type.googleapis.com/protocol.AccountPermissionUpdateContract",
                },
                "type": "AccountPermissionUpdateContract",
            }
        ],
        "ref_block_bytes": "0001",
        "ref_block_hash": "00" * 8,
        "expiration": 1000,
        "timestamp": 900,
    }
    encoded = raw_data_to_bytes(raw)
    assert raw_data_to_bytes(raw_data_from_bytes(encoded)) == encoded
    [(ctype, native, pid)] = decode_raw(encoded).contracts
    assert ctype == "AccountPermissionUpdateContract" and pid == 0
    assert len(native["actives"]) == len(actives)
    for perm, (keys, ops, name) in zip(native["actives"], actives, strict=True):
        assert perm["type"] == 2 and perm["permission_name"] == name
        assert operations_of(perm["operations"].hex()) == ops
        assert [w for _a, w in perm["keys"]] == [k["weight"] for k in keys]
