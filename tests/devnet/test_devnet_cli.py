"""`python -m trondevnet` / `tronrent devnet` argument parsing."""

from __future__ import annotations

from trondevnet.cli import build_parser, config_from_args


def test_defaults_and_flags() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.block_interval_ms) == ("127.0.0.1", 8090, 3000)
    config = config_from_args(
        build_parser().parse_args(
            [
                "--block-interval-ms",
                "100",
                "--solid-lag",
                "18",
                "--genesis",
                "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb=5",
                "--create-new-account-fee",
                "700000",
                "--create-account-fee",
                "250000",
                "--create-new-account-bandwidth-rate",
                "3",
            ]
        )
    )
    assert config.block_interval_ms == 100
    assert config.solid_lag_blocks == 18
    assert config.genesis_accounts == {"T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb": 5}
    assert config.create_new_account_fee_in_system_contract == 700_000
    assert config.create_account_fee == 250_000
    assert config.create_new_account_bandwidth_rate == 3
    defaults = config_from_args(build_parser().parse_args([]))
    assert defaults.create_new_account_fee_in_system_contract == 1_000_000  # mainnet's
    assert defaults.create_account_fee == 100_000
