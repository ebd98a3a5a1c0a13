"""/balance against the Bot API emulator: the ledger's balances and its last five entries."""

from __future__ import annotations

from sqlalchemy import select

from tronrent.models import User
from tronrent.user.balance import balance as balance_service

from .conftest import Harness

TRX = 1_000_000


async def _apply(harness: Harness, chat: int, changes: list[tuple[str, int, str, str]]) -> None:
    async with harness.session_maker() as session, session.begin():
        user = (await session.execute(select(User).where(User.telegram_id == chat))).scalar_one()
        for currency, delta, cause, cause_id in changes:
            await balance_service.apply(
                session,
                user_id=user.id,
                currency=currency,
                delta_units=delta,
                cause_type=cause,
                cause_id=f"{chat}-{cause_id}",
            )


class TestBalance:
    async def test_no_changes_yet(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        text = (await harness.say(token, "/balance", user_id=1401))[-1].text
        assert "TRX: 0\nUSDT: 0" in text and "No balance changes yet." in text

    async def test_balances_and_last_five_entries(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 1402
        await harness.say(token, "/start", user_id=chat)
        await _apply(
            harness,
            chat,
            [
                ("TRX", 1 * TRX, "top_up", "p1"),  # the oldest: not among the last five
                ("TRX", 20 * TRX, "top_up", "p2"),
                ("USDT", 15_500_000, "adjustment", "a1"),
                ("TRX", -7 * TRX, "order_payment", "o1"),
                ("TRX", 7 * TRX, "order_refund", "o1"),
                ("TRX", -3_250_000, "order_payment", "o2"),
            ],
        )
        text = (await harness.say(token, "/balance", user_id=chat))[-1].text
        assert "TRX: 17.75\nUSDT: 15.5" in text
        lines = text.split("Recent balance changes\n", 1)[1].split("\n")[:5]
        assert [line.split(" · ")[:2] for line in lines] == [
            ["-3.25 TRX", "Order payment"],
            ["+7 TRX", "Order refund"],
            ["-7 TRX", "Order payment"],
            ["+15.5 USDT", "Adjustment"],
            ["+20 TRX", "Top-up"],
        ]
        assert "+1 TRX" not in text

    async def test_chinese(self, harness: Harness) -> None:
        _, token = await harness.add_bot()
        await harness.manager.start()
        chat = 1403
        await harness.say(token, "/start", user_id=chat, language_code=None)
        await _apply(harness, chat, [("USDT", 2_000_000, "top_up", "p1")])
        text = (await harness.say(token, "/balance", user_id=chat, language_code=None))[-1].text
        assert "USDT：2" in text and "最近余额变动" in text and "+2 USDT · 充值" in text
