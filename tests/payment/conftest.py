"""A flash address of its own per test (payments and orders of other tests never match)."""

from __future__ import annotations

import pytest
from test_batch import new_address

from tronrent.order.runtime import FlashRuntime


@pytest.fixture
def rt() -> FlashRuntime:
    return FlashRuntime(payment_address=new_address())
