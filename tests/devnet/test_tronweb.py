"""Unmodified TronWeb (npm) end to end: builder, its raw_data_hex check, signatures accepted.

Fails (never skips) when node/npm are missing: the acceptance needs a second, independent
encoder. `npm ci` runs when node_modules is absent.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

from trondevnet.server import DevnetServer
from trondevnet.testing import submit
from tronproto import keys, tx

TRX = 1_000_000
HERE = Path(__file__).resolve().parent / "tronweb"


def ensure_tronweb() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node and npm, "node and npm are required for the TronWeb acceptance test"
    if not (HERE / "node_modules" / "tronweb").is_dir():
        cmd = "ci" if (HERE / "package-lock.json").exists() else "install"
        subprocess.run([npm, cmd, "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600)
    return node


async def test_tronweb_transfer_delegation_and_account_creation(devnet: DevnetServer) -> None:
    node_bin = ensure_tronweb()
    chain = devnet.chain
    owner, receiver = keys.PrivateKey.random(), keys.PrivateKey.random()
    new_account = keys.PrivateKey.random()
    chain.faucet(owner.address, 10_000 * TRX)
    chain.faucet(receiver.address, 1 * TRX)
    submit(
        chain,
        owner,
        "FreezeBalanceV2Contract",
        {"frozen_balance": 1_000 * TRX, "resource": "ENERGY"},
    )
    proc = await asyncio.create_subprocess_exec(
        node_bin,
        str(HERE / "drive.js"),
        devnet.url.rstrip("/"),
        owner.hex(),
        receiver.address_base58,
        new_account.address_base58,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["owner"] == owner.address_base58
    for name in ("transfer", "delegation", "createAccount"):
        part = result[name]
        assert part["broadcast"]["result"] is True, part
        assert part["broadcast"]["txid"] == part["txID"]
        # TronWeb's local encoding and ours agree on the txID
        assert tx.txid_bytes(bytes.fromhex(part["raw_data_hex"])).hex() == part["txID"]
        assert bytes.fromhex(part["txID"]) in chain.txs
    assert result["tamperedSigned"] is False  # TronWeb refused a mismatching raw_data_hex
    delegation = chain.delegation(owner.address, receiver.address, True)
    assert delegation is not None and delegation.energy == 100 * TRX
    assert delegation.expire_energy > 0
    assert chain.accounts[receiver.address].balance == 2 * TRX
    assert devnet.node.counters["/wallet/getblock"] >= 2
    # TronWeb encodes AccountCreateContract (ContractType 0) the way we do; the account exists
    assert new_account.address in chain.accounts
    created = chain.txs[bytes.fromhex(result["createAccount"]["txID"])]
    assert created.contract_type == "AccountCreateContract"
    config = chain.config
    assert created.fee == (
        config.create_new_account_fee_in_system_contract + config.create_account_fee
    )
