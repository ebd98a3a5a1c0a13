"""The devnet, gateway, secret box and flash engine fixtures of ``tests/flash``."""

from flash.conftest import box, box_key, devnet, flash, gateway

__all__ = ["box", "box_key", "devnet", "flash", "gateway"]
