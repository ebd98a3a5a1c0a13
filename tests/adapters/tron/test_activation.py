"""Account activation in the chain port: the fees read from getchainparameters, the pure cost
rule (``activation_cost``), and AccountCreateContract built by the gateway (node and local)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from trondevnet.server import DevnetServer
from trondevnet.testing import submit
from tronproto.keys import PrivateKey
from tronrent.adapters.tron.errors import InvalidChainInput, TransactionRejected
from tronrent.adapters.tron.gateway import TronGateway
from tronrent.adapters.tron.port import (
    ACTIVATION_TX_BYTES,
    AccountResource,
    ActivationCost,
    ChainParameters,
    SignedTx,
    TransactionInfo,
    UnsignedTx,
    activation_cost,
    tx_bandwidth_bytes,
)

TRX = 1_000_000
Funder = Callable[..., PrivateKey]

MAINNET = ChainParameters(
    {
        "getCreateNewAccountFeeInSystemContract": 1_000_000,
        "getCreateAccountFee": 100_000,
        "getCreateNewAccountBandwidthRate": 1,
    }
)


def resource(net_limit: int, net_used: int, free_used: int = 0) -> AccountResource:
    return AccountResource(
        energy_limit=0,
        energy_used=0,
        net_limit=net_limit,
        net_used=net_used,
        free_net_limit=600,
        free_net_used=free_used,
        total_energy_limit=0,
        total_energy_weight=0,
        total_net_limit=0,
        total_net_weight=0,
    )


class TestActivationCost:
    def test_without_staked_bandwidth_both_fees_are_burnt(self) -> None:
        # 600 free bandwidth left, no stake: the free bandwidth never pays for a creation
        res = resource(0, 0)
        assert res.bandwidth_available == 600
        assert res.staked_bandwidth_available == 0
        cost = activation_cost(MAINNET, res.staked_bandwidth_available, tx_bytes=270)
        assert cost == ActivationCost(1_000_000, 100_000, 0, False)
        assert cost.total_sun == 1_100_000

    def test_staked_bandwidth_pays_bytes_times_rate(self) -> None:
        cost = activation_cost(
            MAINNET, resource(1_000, 730).staked_bandwidth_available, tx_bytes=270
        )
        assert cost == ActivationCost(1_000_000, 0, 270, True)
        assert cost.total_sun == 1_000_000
        # one byte short: the bandwidth fee is burnt instead, no bandwidth consumed
        short = activation_cost(MAINNET, 269, tx_bytes=270)
        assert short == ActivationCost(1_000_000, 100_000, 0, False)

    def test_every_figure_comes_from_the_parameters(self) -> None:
        params = ChainParameters(
            {
                "getCreateNewAccountFeeInSystemContract": 700_000,
                "getCreateAccountFee": 250_000,
                "getCreateNewAccountBandwidthRate": 3,
            }
        )
        assert params.create_new_account_fee_sun == 700_000
        assert params.create_account_fee_sun == 250_000
        assert params.create_new_account_bandwidth_rate == 3
        assert activation_cost(params, 810, tx_bytes=270) == ActivationCost(700_000, 0, 810, True)
        assert activation_cost(params, 809, tx_bytes=270).total_sun == 950_000
        # the default size is an upper bound: never a cheaper estimate than the real one
        assert activation_cost(params, 3 * ACTIVATION_TX_BYTES).uses_staked_bandwidth
        assert not activation_cost(params, 3 * ACTIVATION_TX_BYTES - 1).uses_staked_bandwidth
        # java-tron omits zero values in getchainparameters; a missing rate means 1
        assert ChainParameters({}).create_new_account_fee_sun == 0
        assert ChainParameters({}).create_new_account_bandwidth_rate == 1
        with pytest.raises(ValueError):
            activation_cost(params, -1)


async def wait_info(gateway: TronGateway, txid: str) -> TransactionInfo:
    for _ in range(500):
        info = await gateway.get_transaction_info(txid)
        if info is not None:
            return info
        await asyncio.sleep(0.02)
    raise AssertionError("transaction not in a block")


async def send(
    gateway: TronGateway, tx: UnsignedTx, key: PrivateKey
) -> tuple[SignedTx, TransactionInfo]:
    signed = gateway.sign(tx, key.secret)
    await gateway.broadcast(signed)
    return signed, await wait_info(gateway, signed.txid)


class TestGatewayActivation:
    async def test_parameters_are_read_from_the_node(
        self, devnet: DevnetServer, gateway: TronGateway
    ) -> None:
        params = await gateway.get_chain_parameters()
        config = devnet.chain.config
        assert params.create_new_account_fee_sun == config.create_new_account_fee_in_system_contract
        assert params.create_account_fee_sun == config.create_account_fee
        assert params.create_new_account_bandwidth_rate == 1
        async with httpx.AsyncClient(base_url=devnet.url) as http:
            r = await http.post(
                "devnet/chain_parameters",
                json={"getCreateAccountFee": 123_000, "getCreateNewAccountBandwidthRate": 2},
            )
            assert r.status_code == 200
        params = await gateway.get_chain_parameters()
        assert params.create_account_fee_sun == 123_000
        assert params.create_new_account_bandwidth_rate == 2

    async def test_create_account_node_built_costs_what_activation_cost_says(
        self, gateway: TronGateway, funded: Funder
    ) -> None:
        owner, new = funded(10 * TRX), PrivateKey.random()
        params = await gateway.get_chain_parameters()
        res = await gateway.get_account_resource(owner.address_base58)
        tx = await gateway.build_create_account(owner.address_base58, new.address_base58)
        assert tx.contract_type == "AccountCreateContract"
        assert tx_bandwidth_bytes(tx) <= ACTIVATION_TX_BYTES
        signed, info = await send(gateway, tx, owner)
        expected = activation_cost(
            params, res.staked_bandwidth_available, tx_bytes=tx_bandwidth_bytes(signed)
        )
        assert not expected.uses_staked_bandwidth
        assert info.fee_sun == expected.total_sun
        assert info.receipt.get("net_fee") == expected.bandwidth_fee_sun
        created = await gateway.get_account(new.address_base58)
        assert created is not None and created.balance_sun == 0
        account = await gateway.get_account(owner.address_base58)
        assert account is not None and account.balance_sun == 10 * TRX - expected.total_sun
        # a second creation is a permanent rejection with java-tron's message
        again = await gateway.build_create_account(owner.address_base58, new.address_base58)
        with pytest.raises(TransactionRejected) as exc:
            await gateway.broadcast(gateway.sign(again, owner.secret))
        assert exc.value.java_code == "CONTRACT_VALIDATE_ERROR"
        assert exc.value.node_message == "Contract validate error : Account has existed"

    async def test_create_account_local_with_staked_bandwidth(
        self, devnet: DevnetServer, gateway: TronGateway, funded: Funder
    ) -> None:
        owner, new = funded(3_000 * TRX), PrivateKey.random()
        submit(
            devnet.chain,
            owner,
            "FreezeBalanceV2Contract",
            {"frozen_balance": 2_000 * TRX, "resource": "BANDWIDTH"},
        )
        params = await gateway.get_chain_parameters()
        res = await gateway.get_account_resource(owner.address_base58)
        ref = await gateway.reference_block(0)
        tx = gateway.build_create_account_local(ref, owner.address_base58, new.address_base58)
        assert tx.expiration_ms == ref.timestamp_ms + 60_000
        signed, info = await send(gateway, tx, owner)
        expected = activation_cost(
            params, res.staked_bandwidth_available, tx_bytes=tx_bandwidth_bytes(signed)
        )
        assert expected.uses_staked_bandwidth
        assert info.fee_sun == expected.total_sun == params.create_new_account_fee_sun
        assert info.receipt == {"net_usage": expected.bandwidth_bytes}
        assert await gateway.get_account(new.address_base58) is not None
        with pytest.raises(InvalidChainInput):
            gateway.build_create_account_local(ref, owner.address_base58, "Tnope")
        with pytest.raises(InvalidChainInput):
            gateway.build_create_account_local(ref, owner.address_base58, owner.address_base58)

    async def test_transfer_to_new_address_and_bandwidth_size(
        self, gateway: TronGateway, funded: Funder
    ) -> None:
        alice, bob = funded(100 * TRX), PrivateKey.random()
        params = await gateway.get_chain_parameters()
        ref = await gateway.reference_block(0)
        # the largest amount a transfer can carry still fits the upper bound
        huge = gateway.build_transfer_local(ref, alice.address_base58, bob.address_base58, 2**62)
        assert tx_bandwidth_bytes(huge) <= ACTIVATION_TX_BYTES
        tx = gateway.build_transfer_local(ref, alice.address_base58, bob.address_base58, TRX)
        signed, info = await send(gateway, tx, alice)
        assert info.fee_sun == activation_cost(params, 0).total_sun
        # to an existing account: the node's net_usage is exactly tx_bandwidth_bytes
        tx = gateway.build_transfer_local(ref, alice.address_base58, bob.address_base58, TRX)
        signed, info = await send(gateway, tx, alice)
        assert info.fee_sun == 0
        assert info.receipt == {"net_usage": tx_bandwidth_bytes(signed)}

    async def test_delegation_to_missing_account_is_a_permanent_rejection(
        self, devnet: DevnetServer, gateway: TronGateway, funded: Funder
    ) -> None:
        pool, missing = funded(2_000 * TRX), PrivateKey.random()
        submit(
            devnet.chain,
            pool,
            "FreezeBalanceV2Contract",
            {"frozen_balance": 1_000 * TRX, "resource": "ENERGY"},
        )
        tx = await gateway.build_delegate(
            pool.address_base58, missing.address_base58, 100 * TRX, lock=False, lock_period=0
        )
        with pytest.raises(TransactionRejected) as exc:
            await gateway.broadcast(gateway.sign(tx, pool.secret))
        assert exc.value.java_code == "CONTRACT_VALIDATE_ERROR"
        assert exc.value.node_message == (
            f"Contract validate error : Account[{missing.address_hex}] not exists"
        )
