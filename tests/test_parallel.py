"""The suite under pytest-xdist: every worker gets a Redis database of its own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _xdist_workers import REDIS_DATABASES, redis_url_for_worker


def test_serial_run_keeps_the_url() -> None:
    assert redis_url_for_worker("redis://127.0.0.1:6379/0", None) == "redis://127.0.0.1:6379/0"
    assert redis_url_for_worker("", "gw1") == ""


def test_worker_databases() -> None:
    assert redis_url_for_worker("redis://127.0.0.1:6379/0", "gw0") == "redis://127.0.0.1:6379/1"
    assert redis_url_for_worker("redis://127.0.0.1:6379", "gw2") == "redis://127.0.0.1:6379/3"
    assert redis_url_for_worker("redis://:pw@h:1/4?x=1", "gw1") == "redis://:pw@h:1/6?x=1"


@given(base=st.integers(0, REDIS_DATABASES - 1), workers=st.integers(1, REDIS_DATABASES))
def test_workers_never_share_a_database(base: int, workers: int) -> None:
    """Distinct workers get distinct databases, none the serial run's; too many is an error."""
    url = f"redis://127.0.0.1:6379/{base}"
    numbers = []
    for index in range(workers):
        if base + 1 + index >= REDIS_DATABASES:
            with pytest.raises(pytest.UsageError, match="fewer workers"):
                redis_url_for_worker(url, f"gw{index}")
            continue
        numbers.append(int(redis_url_for_worker(url, f"gw{index}").rsplit("/", 1)[1]))
    assert len(set(numbers)) == len(numbers)
    assert base not in numbers
    assert numbers == list(range(base + 1, min(base + 1 + workers, REDIS_DATABASES)))
