"""Block parsing: transfers to watched addresses, in one pass."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tronproto.address import to_hex
from tronrent.scanner.blocks import (
    TRC20_TRANSFER_TOPIC,
    TransferAsset,
    count_uses_from_infos,
    decode_trc20_transfer,
    parse_block,
    trc20_transfers_from_infos,
)

FLASH = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
ALICE = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
BOB = "TDqSquXBgUCLYvYC4XZgrprLK589dkhSCf"
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


def transfer_tx(txid: str, frm: str, to: str, amount: int, ret: str = "SUCCESS") -> dict[str, Any]:
    return {
        "txID": txid,
        "ret": [{"contractRet": ret}],
        "raw_data": {
            "contract": [
                {
                    "type": "TransferContract",
                    "parameter": {
                        "value": {
                            "owner_address": to_hex(frm),
                            "to_address": to_hex(to),
                            "amount": amount,
                        }
                    },
                }
            ]
        },
    }


def usdt_tx(txid: str, frm: str, to: str, amount: int) -> dict[str, Any]:
    data = "a9059cbb" + to_hex(to)[2:].rjust(64, "0") + f"{amount:064x}"
    return {
        "txID": txid,
        "ret": [{"contractRet": "SUCCESS"}],
        "raw_data": {
            "contract": [
                {
                    "type": "TriggerSmartContract",
                    "parameter": {
                        "value": {
                            "owner_address": to_hex(frm),
                            "contract_address": to_hex(USDT),
                            "data": data,
                        }
                    },
                }
            ]
        },
    }


def usdt_info(txid: str, frm: str, to: str, amount: int, energy: int = 0) -> dict[str, Any]:
    """The ``gettransactioninfobyblocknum`` entry of a successful USDT ``transfer``."""
    return {
        "id": txid,
        "receipt": {"result": "SUCCESS", "energy_usage_total": energy, "energy_fee": energy},
        "log": [
            {
                "address": to_hex(USDT)[2:],
                "topics": [
                    TRC20_TRANSFER_TOPIC,
                    to_hex(frm)[2:].rjust(64, "0"),
                    to_hex(to)[2:].rjust(64, "0"),
                ],
                "data": f"{amount:064x}",
            }
        ],
    }


def block(number: int, txs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "blockID": f"{number:016x}" + "ab" * 24,
        "block_header": {
            "raw_data": {"number": number, "parentHash": "00" * 32, "timestamp": 1_700_000_000_000}
        },
        "transactions": txs,
    }


class TestParseBlock:
    def test_trx_transfer_to_watched_address(self) -> None:
        b = parse_block(
            block(
                10,
                [
                    transfer_tx("a" * 64, ALICE, FLASH, 15_000_000),
                    transfer_tx("b" * 64, ALICE, BOB, 1),  # not watched
                    transfer_tx("c" * 64, BOB, FLASH, 2, ret="REVERT"),  # failed
                ],
            ),
            {FLASH},
        )
        assert b.number == 10
        [t] = b.transfers
        assert (t.tx_hash, t.from_address, t.to_address, t.amount) == (
            "a" * 64,
            ALICE,
            FLASH,
            15_000_000,
        )
        assert t.asset is TransferAsset.TRX
        assert b.tx_hashes == {"a" * 64, "b" * 64, "c" * 64}

    def test_empty_block(self) -> None:
        b = block(3, [])
        del b["transactions"]
        assert parse_block(b, {FLASH}).transfers == ()

    def test_trc20_needs_logs(self) -> None:
        b = parse_block(block(11, [usdt_tx("d" * 64, ALICE, FLASH, 5)]), {FLASH}, {USDT})
        assert b.transfers == ()
        assert b.pending_trc20 == ("d" * 64,)
        info = {
            "id": "d" * 64,
            "receipt": {"result": "SUCCESS"},
            "log": [
                {
                    "address": to_hex(USDT)[2:],
                    "topics": [
                        TRC20_TRANSFER_TOPIC,
                        to_hex(ALICE)[2:].rjust(64, "0"),
                        to_hex(FLASH)[2:].rjust(64, "0"),
                    ],
                    "data": f"{5:064x}",
                }
            ],
        }
        [t] = trc20_transfers_from_infos(b, [info], {FLASH}, {USDT})
        assert (t.asset, t.token_contract, t.from_address, t.amount) == (
            TransferAsset.TRC20,
            USDT,
            ALICE,
            5,
        )

    def test_successful_delegations_and_undelegations_collected_apart(self) -> None:
        def resource_tx(txid: str, kind: str, ret: str = "SUCCESS") -> dict[str, Any]:
            value = {"owner_address": to_hex(FLASH), "receiver_address": to_hex(ALICE)}
            return {
                "txID": txid,
                "ret": [{"contractRet": ret}],
                "raw_data": {"contract": [{"type": kind, "parameter": {"value": value}}]},
            }

        b = parse_block(
            block(
                12,
                [
                    resource_tx("a" * 64, "DelegateResourceContract"),
                    resource_tx("b" * 64, "UnDelegateResourceContract"),
                    resource_tx("c" * 64, "UnDelegateResourceContract", ret="REVERT"),
                    transfer_tx("d" * 64, ALICE, BOB, 5),
                ],
            ),
            {FLASH},
        )
        assert b.delegations == {"a" * 64}
        assert b.undelegations == {"b" * 64}  # a failed one is not ours to confirm
        assert b.transfers == () and b.pending_trc20 == ()

    def test_own_addresses_transfers_collected(self) -> None:
        """TRX sent by our own (refund) addresses: successful ones only, whoever receives it,
        and a transfer to a watched address is still a payment too."""
        b = parse_block(
            block(
                13,
                [
                    transfer_tx("a" * 64, FLASH, ALICE, 5),  # a refund
                    transfer_tx("b" * 64, FLASH, BOB, 6, ret="REVERT"),
                    transfer_tx("c" * 64, ALICE, BOB, 7),  # not ours
                    transfer_tx("d" * 64, ALICE, FLASH, 8),  # a payment to us
                    transfer_tx("e" * 64, BOB, ALICE, 9),  # sent by our other refund account
                ],
            ),
            {FLASH},
            own={FLASH, BOB},
        )
        assert b.own_transfers == {"a" * 64, "e" * 64}
        assert [t.tx_hash for t in b.transfers] == ["d" * 64]
        # no own addresses given (a caller that does not pass them): nothing collected
        alone = parse_block(block(13, [transfer_tx("a" * 64, FLASH, ALICE, 5)]), {FLASH})
        assert alone.own_transfers == frozenset()

    def test_own_usdt_transfers_collected(self) -> None:
        """USDT sent by our own addresses (USDT refunds) are confirmed likewise."""
        b = parse_block(
            block(14, [usdt_tx("a" * 64, FLASH, ALICE, 5), usdt_tx("b" * 64, ALICE, BOB, 6)]),
            {FLASH},
            {USDT},
            own={FLASH},
        )
        assert b.own_transfers == {"a" * 64}
        assert b.pending_trc20 == ()


class TestMissingInfos:
    """A block is committed only once the node gave the infos of every call it must read."""

    def scanned(self) -> Any:
        txs = [
            usdt_tx("a" * 64, ALICE, FLASH, 5),  # a payment to us: its logs are needed
            usdt_tx("b" * 64, BOB, ALICE, 6),  # sent by a count package's address: a use
            usdt_tx("c" * 64, ALICE, BOB, 7),  # nothing of ours
            transfer_tx("d" * 64, ALICE, FLASH, 8),  # TRX: in the block itself
        ]
        return parse_block(block(20, txs), {FLASH}, {USDT}, senders={BOB})

    def test_complete_infos_miss_nothing(self) -> None:
        b = self.scanned()
        infos = [
            usdt_info("a" * 64, ALICE, FLASH, 5),
            usdt_info("b" * 64, BOB, ALICE, 6, energy=30_000),
            usdt_info("c" * 64, ALICE, BOB, 7),
            {"id": "d" * 64},
        ]
        assert b.missing_infos(infos) == set()
        assert [t.tx_hash for t in trc20_transfers_from_infos(b, infos, {FLASH}, {USDT})] == [
            "a" * 64
        ]
        [use] = count_uses_from_infos(b, infos)
        assert use.energy_total == 30_000

    def test_an_empty_or_partial_answer_misses_the_calls_to_read(self) -> None:
        b = self.scanned()
        assert b.missing_infos([]) == {"a" * 64, "b" * 64}  # java-tron's {} for a block ahead
        # infos of other transactions do not stand in for the ones needed
        assert b.missing_infos([{"id": "c" * 64}, {"id": "d" * 64}]) == {"a" * 64, "b" * 64}
        assert b.missing_infos([usdt_info("a" * 64, ALICE, FLASH, 5)]) == {"b" * 64}
        assert b.missing_infos([{"id": "b" * 64}]) == {"a" * 64}

    def test_a_block_that_needs_no_infos_misses_none(self) -> None:
        b = parse_block(block(21, [transfer_tx("d" * 64, ALICE, FLASH, 8)]), {FLASH}, {USDT})
        assert not b.needs_infos
        assert b.missing_infos([]) == set()

    @given(
        kinds=st.lists(st.sampled_from(["pay", "use", "other", "trx"]), max_size=12),
        answered=st.data(),
    )
    def test_no_missing_info_means_no_payment_or_use_lost(
        self, kinds: list[str], answered: st.DataObject
    ) -> None:
        """Whatever part of the infos a node gives: the missing set is exactly the needed calls
        it left out, and when it is empty every payment and every use is read from them."""
        txs: list[dict[str, Any]] = []
        infos: dict[str, dict[str, Any]] = {}
        for i, kind in enumerate(kinds):
            txid = f"{i:064x}"
            frm, to = {"pay": (ALICE, FLASH), "use": (BOB, ALICE)}.get(kind, (ALICE, BOB))
            if kind == "trx":
                txs.append(transfer_tx(txid, frm, to, i + 1))
                infos[txid] = {"id": txid}
            else:
                txs.append(usdt_tx(txid, frm, to, i + 1))
                infos[txid] = usdt_info(txid, frm, to, i + 1, energy=1_000 + i)
        b = parse_block(block(22, txs), {FLASH}, {USDT}, senders={BOB})
        given_ids: list[str] = []
        if infos:  # any part of them, in any order
            given_ids = answered.draw(st.lists(st.sampled_from(sorted(infos)), unique=True))
        answer = [infos[t] for t in given_ids]
        needed = {f"{i:064x}" for i, k in enumerate(kinds) if k in ("pay", "use")}
        missing = b.missing_infos(answer)
        assert missing == needed - set(given_ids)
        if not missing:
            paid = trc20_transfers_from_infos(b, answer, {FLASH}, {USDT})
            assert sorted(t.tx_hash for t in paid) == sorted(b.pending_trc20)
            uses = count_uses_from_infos(b, answer)
            assert all(u.energy_total > 0 for u in uses)
            assert len(uses) == kinds.count("use")


def test_decode_trc20_transfer() -> None:
    data = "a9059cbb" + to_hex(BOB)[2:].rjust(64, "0") + f"{123:064x}"
    assert decode_trc20_transfer(data) == (BOB, 123)
    assert decode_trc20_transfer("deadbeef") is None
