"""Conversation states of seed 001 section 7.1 (``idle`` is aiogram's empty state)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup

IDLE = None


class Conversation(StatesGroup):
    selecting_package = State()
    entering_address = State()
    confirming_order = State()
    #: ours: a balance top-up of a typed amount
    entering_top_up_amount = State()
    #: ours: the address an auto top-up keeps topped up
    entering_auto_address = State()
