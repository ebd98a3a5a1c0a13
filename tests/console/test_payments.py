"""The payments pages over HTTP on both databases: search with every filter and keyset pages,
the problem payments, one payment with its order link and changes, the admin's refund and
manual match (recorded with who and why, the job sent after the commit), the operator's 403,
and bad input as a 4xx page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from api.test_admin_search import FLASH, T0, address, make_order, make_payment
from tronrent.models.common import Currency
from tronrent.models.order import OrderStatus
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_change import PaymentChange
from tronrent.worker import JobQueue

from .conftest import Console
from .jobqueue import job_queue  # noqa: F401

ROW = re.compile(r'href="/admin/payments/(\d+)"')
NEXT = re.compile(r'href="(\?[^"]*cursor=[^"]+)" rel="next"')


async def add(console: Console, *rows: Any) -> None:
    async with console.state.session_maker() as s, s.begin():
        s.add_all(rows)


def ids(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(i) for i in ROW.findall(page.text)]


async def walk(http: httpx.AsyncClient, path: str) -> list[int]:
    """Every page of a listing, following the "older" link."""
    answer = await http.get(path)
    found = ids(answer)
    while (more := NEXT.search(answer.text)) is not None:
        answer = await http.get(path.split("?")[0] + more.group(1).replace("&amp;", "&"))
        found += ids(answer)
    return found


async def test_search_filters_and_pages(console: Console) -> None:
    sender = address()
    many = [make_payment(i, from_address=sender) for i in range(55)]
    dust = make_payment(100, status=PaymentStatus.DUST, amount_units=1)
    usdt = make_payment(101, asset=Currency.USDT, status=PaymentStatus.IGNORED)
    late = make_payment(60 * 24 * 3, status=PaymentStatus.EXCESS)
    await add(console, *many, dust, usdt, late)
    http = await console.sign_in("operator")

    first = await http.get("/admin/payments")
    assert len(ids(first)) == 50 and "older" in first.text
    every = await walk(http, "/admin/payments")
    assert len(every) == len(set(every)) == 58
    assert every[0] == late.id  # newest first

    assert sorted(await walk(http, f"/admin/payments?q={sender}")) == sorted(p.id for p in many)
    assert ids(await http.get(f"/admin/payments?q={dust.tx_hash.upper()}")) == [dust.id]
    assert ids(await http.get("/admin/payments?status=dust")) == [dust.id]
    assert ids(await http.get("/admin/payments?asset=USDT")) == [usdt.id]
    day = (T0 + timedelta(days=3)).date().isoformat()
    assert ids(await http.get(f"/admin/payments?from={day}&to={day}")) == [late.id]
    # the htmx search answers the table only
    table = await http.get("/admin/payments?status=dust", headers={"HX-Target": "results"})
    assert "<h1>" not in table.text and ids(table) == [dust.id]


async def test_problems_view(console: Console) -> None:
    rows = {
        s: make_payment(i, status=s)
        for i, s in enumerate(
            (
                PaymentStatus.MATCHED,
                PaymentStatus.DUST,
                PaymentStatus.UNDERPAID,
                PaymentStatus.EXCESS,
                PaymentStatus.IGNORED,
            )
        )
    }
    await add(console, *rows.values())
    http = await console.sign_in("operator")
    problems = ids(await http.get("/admin/payments/problems"))
    assert sorted(problems) == sorted(p.id for s, p in rows.items() if s != "matched")
    only = await http.get("/admin/payments/problems?status=underpaid")
    assert ids(only) == [rows[PaymentStatus.UNDERPAID].id]
    assert (await http.get("/admin/payments/problems?status=matched")).status_code == 422


async def test_detail_links_its_order(console: Console) -> None:
    order = make_order(0, status=OrderStatus.ACTIVE)
    payment = make_payment(1, order_id=order.id)
    await add(console, order)
    await add(console, payment)
    http = await console.sign_in("operator")
    page = await http.get(f"/admin/payments/{payment.id}")
    assert page.status_code == 200
    assert f'href="/admin/orders/{order.id}"' in page.text
    assert "no change recorded" in page.text
    assert "/refund" not in page.text and "/match" not in page.text  # a matched payment
    story = await http.get(f"/admin/orders/{order.id}")
    assert f'href="/admin/payments/{payment.id}"' in story.text  # and back


async def test_admin_refunds_a_problem_payment(
    console: Console,
    job_queue: JobQueue,  # noqa: F811
) -> None:
    dust = make_payment(0, status=PaymentStatus.DUST, amount_units=1, handled_at=T0)
    await add(console, dust)
    admin = await console.sign_in("admin")
    page = f"/admin/payments/{dust.id}"
    assert f'action="{page}/refund"' in (await admin.get(page)).text
    answer = await Console.post(admin, f"{page}/refund", page, reason="customer asked, ticket 7")
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?done=refund"
    assert job_queue.sent == 1  # payment.refund_payment, after the commit
    shown = (await admin.get(answer.headers["location"])).text
    assert "Refund ordered" in shown and "customer asked, ticket 7" in shown
    async with console.state.session_maker() as s:
        p = await s.get(Payment, dust.id)
        change = (await s.execute(select(PaymentChange))).scalar_one()
    assert p is not None and p.status is PaymentStatus.REFUNDING
    assert change.reason == "customer asked, ticket 7" and change.actor.startswith("admin:admin_")
    # twice: a 409 page, nothing sent again
    again = await Console.post(admin, f"{page}/refund", page, reason="again please")
    assert again.status_code == 409 and "already refunding" in again.text
    assert job_queue.sent == 1


async def test_admin_matches_an_ignored_payment(
    console: Console,
    job_queue: JobQueue,  # noqa: F811
) -> None:
    order = make_order(0, status=OrderStatus.PENDING, currency=Currency.TRX)
    ignored = make_payment(1, status=PaymentStatus.IGNORED, to_address=FLASH, handled_at=T0)
    await add(console, order)
    await add(console, ignored)
    admin = await console.sign_in("admin")
    page = f"/admin/payments/{ignored.id}"
    missing = await Console.post(
        admin, f"{page}/match", page, order_id="no-such-order", reason="sent late"
    )
    assert missing.status_code == 404
    answer = await Console.post(admin, f"{page}/match", page, order_id=order.id, reason="late")
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?done=match"
    assert job_queue.sent == 1  # payment.process_payment
    async with console.state.session_maker() as s:
        p = await s.get(Payment, ignored.id)
        change = (await s.execute(select(PaymentChange))).scalar_one()
    assert p is not None and p.order_id == order.id and p.match_method is MatchMethod.MANUAL
    assert change.reason == "late" and change.after["orderId"] == order.id
    shown = (await admin.get(page)).text
    assert f'href="/admin/orders/{order.id}"' in shown and "match" in shown


async def test_operator_cannot_move_money(console: Console) -> None:
    dust = make_payment(0, status=PaymentStatus.DUST, handled_at=T0)
    await add(console, dust)
    operator = await console.sign_in("operator")
    page = f"/admin/payments/{dust.id}"
    shown = (await operator.get(page)).text
    assert "/refund" not in shown and "admin role" in shown
    for action, form in (("refund", {}), ("match", {"order_id": "x"})):
        answer = await Console.post(operator, f"{page}/{action}", page, reason="mine", **form)
        assert answer.status_code == 403, action
    async with console.state.session_maker() as s:
        assert (await s.get(Payment, dust.id)).status is PaymentStatus.DUST  # type: ignore[union-attr]


async def test_bad_input_is_a_page(console: Console) -> None:
    matched = make_payment(0, handled_at=T0)
    await add(console, matched)
    admin = await console.sign_in("admin")
    for path, status in (
        ("/admin/payments?q=hello", 422),
        ("/admin/payments?status=nope", 422),
        ("/admin/payments?asset=EUR", 422),
        ("/admin/payments?from=2026-02-30", 422),
        ("/admin/payments?cursor=garbage", 422),
        ("/admin/payments/0", 422),
        ("/admin/payments/abc", 422),
        ("/admin/payments/999999", 404),
    ):
        answer = await admin.get(path)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html")
    page = f"/admin/payments/{matched.id}"
    not_refundable = await Console.post(admin, f"{page}/refund", page, reason="why not")
    assert not_refundable.status_code == 409 and "PAYMENT_NOT_REFUNDABLE" in not_refundable.text
    short = await Console.post(admin, f"{page}/refund", page, reason="x")
    assert short.status_code == 422
