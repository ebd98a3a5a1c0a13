"""/apikey, /apikeys, /revokekey against the Bot API emulator (real aiogram)."""

from __future__ import annotations

import re

from sqlalchemy import select

from tronrent.models.merchant import ApiKeyStatus, MerchantApiKey, MerchantKeyChange

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

    async def test_allowlist_and_callback_url_set_by_the_customer(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 1504
        await harness.say(token, "/start", user_id=chat)
        text = (await harness.say(token, "/apikey shop", user_id=chat))[-1].text
        found = re.search(r"Key ID: (mk_[0-9a-f]{24})", text)
        assert found
        key_id = found.group(1)
        said = await harness.say(token, f"/keyips {key_id} 203.0.113.7, 10.0.0.0/8", user_id=chat)
        assert "203.0.113.7/32, 10.0.0.0/8" in said[-1].text
        said = await harness.say(token, f"/keyurl {key_id} https://shop.example/cb", user_id=chat)
        assert "https://shop.example/cb" in said[-1].text
        listed = (await harness.say(token, "/apikeys", user_id=chat))[-1].text
        assert "203.0.113.7/32" in listed and "https://shop.example/cb" in listed
        # bad input: the key is unchanged
        said = await harness.say(token, f"/keyips {key_id} 300.1.1.1", user_id=chat)
        assert "Invalid IP allowlist" in said[-1].text
        said = await harness.say(token, f"/keyurl {key_id} gopher://x", user_id=chat)
        assert "Invalid callback URL" in said[-1].text
        assert "Usage" in (await harness.say(token, f"/keyurl {key_id}", user_id=chat))[-1].text
        # another customer cannot change it
        said = await harness.say(token, f"/keyurl {key_id} https://evil.example/", user_id=1505)
        assert "not found" in said[-1].text
        # cleared
        await harness.say(token, f"/keyips {key_id} any", user_id=chat)
        await harness.say(token, f"/keyurl {key_id} none", user_id=chat)
        async with harness.session_maker() as s:
            row = (
                await s.execute(select(MerchantApiKey).where(MerchantApiKey.key_id == key_id))
            ).scalar_one()
            changes = (
                (
                    await s.execute(
                        select(MerchantKeyChange)
                        .where(MerchantKeyChange.api_key_id == row.id)
                        .order_by(MerchantKeyChange.id)
                    )
                )
                .scalars()
                .all()
            )
        assert row.ip_allowlist == [] and row.callback_url is None
        assert [(c.before, c.after) for c in changes] == [
            ({"ipAllowlist": []}, {"ipAllowlist": ["203.0.113.7/32", "10.0.0.0/8"]}),
            ({"callbackUrl": None}, {"callbackUrl": "https://shop.example/cb"}),
            ({"ipAllowlist": ["203.0.113.7/32", "10.0.0.0/8"]}, {"ipAllowlist": []}),
            ({"callbackUrl": "https://shop.example/cb"}, {"callbackUrl": None}),
        ]
        assert {c.actor for c in changes} == {f"customer:{chat}"}
        # revoked: final
        await harness.say(token, f"/revokekey {key_id}", user_id=chat)
        said = await harness.say(token, f"/keyurl {key_id} https://shop.example/cb", user_id=chat)
        assert "revoked" in said[-1].text
