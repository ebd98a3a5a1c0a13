"""Block parsing: transfers to watched addresses, in one pass."""

from __future__ import annotations

from typing import Any

from tronproto.address import to_hex
from tronrent.scanner.blocks import (
    TRC20_TRANSFER_TOPIC,
    TransferAsset,
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


def test_decode_trc20_transfer() -> None:
    data = "a9059cbb" + to_hex(BOB)[2:].rjust(64, "0") + f"{123:064x}"
    assert decode_trc20_transfer(data) == (BOB, 123)
    assert decode_trc20_transfer("deadbeef") is None
