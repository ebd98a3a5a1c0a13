"""Telegram flood limits on the sending side: per bot and per chat slot scheduling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Telegram allows 30 messages/s per bot and about 1 message/s per chat; we stay just under both
#: so jitter between our clock and theirs never turns into a 429.
DEFAULT_BOT_RATE = 28.5
DEFAULT_CHAT_INTERVAL = 1.05


class FloodControl:
    """Hands out send slots: at most ``bot_rate`` per second per bot, one per ``chat_interval``
    per chat. Slots are reserved before sleeping, so concurrent senders queue in order."""

    def __init__(
        self,
        *,
        bot_rate: float = DEFAULT_BOT_RATE,
        chat_interval: float = DEFAULT_CHAT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_interval = 1.0 / bot_rate
        self.chat_interval = chat_interval
        self._clock = clock
        self._bot_next: dict[str, float] = {}
        self._chat_next: dict[tuple[str, int], float] = {}

    async def acquire(self, bot: str, chat_id: int) -> None:
        """Wait for the next free slot of this chat, then of this bot, and take both."""
        now = self._clock()
        chat_key = (bot, chat_id)
        chat_at = max(now, self._chat_next.get(chat_key, 0.0))
        self._chat_next[chat_key] = chat_at + self.chat_interval
        if chat_at > now:
            await asyncio.sleep(chat_at - now)
        now = self._clock()
        bot_at = max(now, self._bot_next.get(bot, 0.0))
        self._bot_next[bot] = bot_at + self.bot_interval
        if bot_at > now:
            await asyncio.sleep(bot_at - now)
        if len(self._chat_next) > 10_000:
            self._forget_idle_chats()

    def sent(self, bot: str, chat_id: int) -> None:
        """A message to ``chat_id`` was just answered: the chat's next slot counts from now, so a
        request delayed on its way can never land closer than ``chat_interval`` to the next."""
        key = (bot, chat_id)
        self._chat_next[key] = max(
            self._chat_next.get(key, 0.0), self._clock() + self.chat_interval
        )

    def pause(self, bot: str, seconds: float, chat_id: int | None = None) -> None:
        """Telegram said 429: no slot of the bot (or of one chat) before ``seconds`` from now."""
        until = self._clock() + seconds
        if chat_id is None:
            self._bot_next[bot] = max(self._bot_next.get(bot, 0.0), until)
        else:
            key = (bot, chat_id)
            self._chat_next[key] = max(self._chat_next.get(key, 0.0), until)

    def _forget_idle_chats(self) -> None:
        now = self._clock()
        self._chat_next = {k: v for k, v in self._chat_next.items() if v > now}
