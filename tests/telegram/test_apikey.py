"""/apikey, /apikeys, /revokekey against the Bot API emulator (real aiogram)."""

from __future__ import annotations

import re

from sqlalchemy import select

from tronrent.models.merchant import ApiKeyStatus, MerchantApiKey

from .conftest import Harness


class TestApiKeys:
    async def test_create_list_revoke(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 1501
        await harness.say(token, "/start", user_id=chat)
        text = (await harness.say(token, "/apikey my shop", user_id=chat))[-1].text
        key_id = re.search(r"Key ID: (mk_[0-9a-f]{24})", text)
        secret = re.search(r"Secret: (mks_\S+)", text)
        assert key_id and secret and "shown only this once" in text
        async with harness.session_maker() as s:
            row = (
                await s.execute(
                    select(MerchantApiKey).where(MerchantApiKey.key_id == key_id.group(1))
                )
            ).scalar_one()
        assert row.name == "my shop" and row.created_by == f"customer:{chat}"
        assert secret.group(1) not in row.secret_encrypted
        assert harness.box.decrypt(row.secret_encrypted).reveal() == secret.group(1)
        listed = (await harness.say(token, "/apikeys", user_id=chat))[-1].text
        assert key_id.group(1) in listed and "active" in listed
        assert secret.group(1) not in listed  # never shown again
        # someone else cannot revoke it
        other = (await harness.say(token, f"/revokekey {key_id.group(1)}", user_id=1502))[-1]
        assert "revoked" not in other.text.lower()
        done = (await harness.say(token, f"/revokekey {key_id.group(1)}", user_id=chat))[-1]
        assert "revoked" in done.text
        async with harness.session_maker() as s:
            row = await s.get(MerchantApiKey, row.id)
        assert row is not None and row.status is ApiKeyStatus.REVOKED
        assert row.revoked_by == f"customer:{chat}"

    async def test_usage_and_none(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        assert "No API keys yet" in (await harness.say(token, "/apikeys", user_id=1503))[-1].text
        assert "Usage" in (await harness.say(token, "/revokekey", user_id=1503))[-1].text
