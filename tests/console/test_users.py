"""Users and balances pages on both databases: search (Telegram id, username, address), keyset
pages, the ledger, balance adjustments and block/unblock with who and why."""

from __future__ import annotations

import json
import re
import uuid

from sqlalchemy import select
from structlog.testing import capture_logs

from tronrent.models import User, UserStatus, UserStatusChange
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.user.balance import balance as balance_service
from tronrent.user.service import TelegramProfile
from tronrent.user.service import user as user_service

from .conftest import Console

ADDRESS = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
TRX = 1_000_000
ROW = re.compile(r'href="/admin/users/[0-9a-f-]{36}"')


async def seed(console: Console, others: int = 0) -> uuid.UUID:
    """``others`` users, then alice (address bound, 5 TRX credited)."""
    async with console.state.session_maker() as s, s.begin():
        for n in range(others):
            await user_service.register_telegram_user(
                s, TelegramProfile(telegram_id=7_000_000 + n, username=f"user{n}")
            )
        alice = (
            await user_service.register_telegram_user(
                s, TelegramProfile(telegram_id=424242, username="alice_x", first_name="Alice")
            )
        ).user
        await user_service.bind_tron_address(s, alice, ADDRESS)
        await balance_service.apply(
            s,
            user_id=alice.id,
            currency="TRX",
            delta_units=5 * TRX,
            cause_type=LedgerCause.TOP_UP,
            cause_id="1",
        )
        return alice.id


async def test_search_and_pages(console: Console) -> None:
    alice = await seed(console, others=52)
    http = await console.sign_in("operator")
    first = await http.get("/admin/users")
    assert first.status_code == 200 and len(ROW.findall(first.text)) == 50
    older = re.search(r'href="(\?cursor=[^"]+)" rel="next"', first.text)
    assert older
    second = await http.get("/admin/users" + older.group(1).replace("&amp;", "&"))
    assert len(ROW.findall(second.text)) == 3 and 'rel="next"' not in second.text
    assert not set(ROW.findall(first.text)) & set(ROW.findall(second.text))
    for q in ("424242", "alice", "@ALICE_X", ADDRESS):
        found = await http.get("/admin/users", params={"q": q})
        assert ROW.findall(found.text) == [f'href="/admin/users/{alice}"'], q
    none = await http.get("/admin/users", params={"q": "nobody-here"})
    assert "no user matches" in none.text
    detail = await http.get(f"/admin/users/{alice}")
    assert detail.status_code == 200
    assert "5 TRX" in detail.text and "top_up" in detail.text and ADDRESS in detail.text
    assert "Adjust" not in detail.text and "Block" not in detail.text  # operator


async def test_adjust_balance_with_a_reason(console: Console) -> None:
    alice = await seed(console)
    http = await console.sign_in("admin")
    page = f"/admin/users/{alice}"
    form = (await http.get(page)).text
    reference = re.search(r'name="reference" value="([^"]+)"', form)
    assert reference
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    data = {
        "csrf_token": token.group(1),
        "reference": reference.group(1),
        "currency": "TRX",
        "amount": "-1.5",
        "reason": "goodwill refund reversed",
    }
    answer = await http.post(f"{page}/adjust", data=data)
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?done=adjusted"
    again = await http.post(f"{page}/adjust", data=data)  # the same form twice: once
    assert again.headers["location"] == f"{page}?done=repeat"
    async with console.state.session_maker() as s:
        balances = await balance_service.get_balances(s, alice)
        entries = (
            (
                await s.execute(
                    select(BalanceLedgerEntry).where(
                        BalanceLedgerEntry.cause_type == LedgerCause.ADJUSTMENT
                    )
                )
            )
            .scalars()
            .all()
        )
    assert balances.trx_sun == 3_500_000
    assert len(entries) == 1 and entries[0].delta_units == -1_500_000
    note = json.loads(entries[0].note or "{}")
    assert note["reason"] == "goodwill refund reversed" and note["by"].startswith("admin_")
    shown = (await http.get(f"{page}?done=adjusted")).text
    assert "Balance adjusted" in shown and "goodwill refund reversed" in shown
    assert "-1.5 TRX" in shown and "3.5 TRX" in shown
    # a debit below zero: refused, nothing changes
    too_much = await Console.post(
        http, f"{page}/adjust", page, currency="TRX", amount="-10", reference="r2", reason="x-x"
    )
    assert too_much.status_code == 409
    # the ledger's own keyset pages and currency filter
    usdt = await http.get(page, params={"currency": "USDT"})
    assert "no ledger entry" in usdt.text


async def test_block_and_unblock_with_who_and_why(console: Console) -> None:
    alice = await seed(console)
    http = await console.sign_in("admin")
    page = f"/admin/users/{alice}"
    with capture_logs() as logs:
        blocked = await Console.post(http, f"{page}/block", page, reason="chargeback fraud")
        assert blocked.headers["location"] == f"{page}?done=blocked"
        assert "Unblock" in (await http.get(page)).text
        unblocked = await Console.post(http, f"{page}/unblock", page, reason="cleared by support")
        assert unblocked.headers["location"] == f"{page}?done=unblocked"
    events = [(e["event"], e["reason"], e["by"]) for e in logs if e["event"].startswith("user.")]
    assert [(e, r) for e, r, _ in events] == [
        ("user.blocked", "chargeback fraud"),
        ("user.unblocked", "cleared by support"),
    ]
    assert all(by.startswith("admin_") for _, _, by in events)
    async with console.state.session_maker() as s:
        user = await s.get(User, alice)
        assert user is not None and user.status is UserStatus.ACTIVE
        rows = (
            (
                await s.execute(
                    select(UserStatusChange)
                    .where(UserStatusChange.user_id == alice)
                    .order_by(UserStatusChange.created_at, UserStatusChange.status)
                )
            )
            .scalars()
            .all()
        )
    assert [(r.previous_status, r.status, r.reason) for r in rows] == [
        (UserStatus.ACTIVE, UserStatus.BANNED, "chargeback fraud"),
        (UserStatus.BANNED, UserStatus.ACTIVE, "cleared by support"),
    ]
    assert all(r.actor.startswith("admin:admin_") and r.actor_id for r in rows)
    shown = (await http.get(page)).text
    assert "chargeback fraud" in shown and "cleared by support" in shown


async def test_operator_refused(console: Console) -> None:
    alice = await seed(console)
    http = await console.sign_in("operator")
    page = f"/admin/users/{alice}"
    for path, form in (
        (
            f"{page}/adjust",
            {"currency": "TRX", "amount": "100", "reference": "r", "reason": "mine"},
        ),
        (f"{page}/block", {"reason": "try"}),
        (f"{page}/unblock", {"reason": "try"}),
    ):
        answer = await Console.post(http, path, page, **form)
        assert answer.status_code == 403 and "admin role" in answer.text, path
    async with console.state.session_maker() as s:
        assert (await balance_service.get_balances(s, alice)).trx_sun == 5 * TRX


async def test_bad_input_is_a_4xx_page(console: Console) -> None:
    alice = await seed(console)
    http = await console.sign_in("admin")
    page = f"/admin/users/{alice}"
    for form in (
        {"currency": "TRX", "amount": "abc", "reference": "r", "reason": "typo"},
        {"currency": "TRX", "amount": "0", "reference": "r", "reason": "typo"},
        {"currency": "TRX", "amount": "1.0000001", "reference": "r", "reason": "typo"},
        {"currency": "BTC", "amount": "1", "reference": "r", "reason": "typo"},
        {"currency": "TRX", "amount": "1", "reference": "r", "reason": ""},
        {"currency": "TRX", "amount": "1", "reference": "r", "reason": " \t  "},
    ):
        answer = await Console.post(http, f"{page}/adjust", page, **form)
        assert answer.status_code == 422, (form, answer.text[:200])
        assert "<html" in answer.text
    # a reason of blanks is no reason: nothing changes
    for path in ("block", "unblock"):
        answer = await Console.post(http, f"{page}/{path}", page, reason="     ")
        assert answer.status_code == 422 and "reason" in answer.text, path
    async with console.state.session_maker() as s:
        assert (await s.get(User, alice)).status is UserStatus.ACTIVE  # type: ignore[union-attr]
        assert (await balance_service.get_balances(s, alice)).trx_sun == 5 * TRX
    # a date the search cannot go one day past is a 422 page, not a 500
    for listing in ("/admin/orders", "/admin/payments"):
        for query in ({"to": "9999-12-31"}, {"from": "0001-01-01"}):
            answer = await http.get(listing, params=query)
            assert answer.status_code == 422 and "<html" in answer.text, (listing, query)
    assert (await http.get("/admin/users", params={"cursor": "garbage"})).status_code == 422
    assert (await http.get(page, params={"cursor": "x"})).status_code == 422
    assert (await http.get(page, params={"currency": "BTC"})).status_code == 422
    assert (await http.get(f"/admin/users/{uuid.uuid4()}")).status_code == 404
    assert (await http.get("/admin/users/123")).status_code == 422
