"""The jobs and alerts pages over HTTP on both databases: the dead letter with its filters and
keyset pages, the admin's retry (once; the job sent after the commit, the failure resolved by
that admin), the operator's 403, bad input as a 4xx page; the alert conditions firing now from
the database, and the operator alerts sent with their pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from api.test_admin_search import make_order
from tronrent.kit.time import utcnow
from tronrent.models.energy_pool import EnergyPool, PoolFlag, PoolStatus
from tronrent.models.job_failure import JobFailure
from tronrent.models.order import OrderStatus
from tronrent.notification import alerts
from tronrent.worker import JobQueue

from .conftest import Console
from .jobqueue import job_queue  # noqa: F401
from .test_pools import add_pool

ROW = re.compile(r"<tr>\s*<td>(\d+)</td><td class=\"mono\">")
NEXT = re.compile(r'href="(\?[^"]*cursor=[^"]+)" rel="next"')


async def add(console: Console, *rows: Any) -> None:
    async with console.state.session_maker() as s, s.begin():
        s.add_all(rows)


def failure(minutes: int, job: str = "payment.refund_payment", **kw: Any) -> JobFailure:
    values: dict[str, Any] = {
        "job_name": job,
        "args": [minutes],
        "error": f"ChainUnavailable: node down {minutes}",
        "attempts": 5,
        "failed_at": utcnow() - timedelta(hours=10) + timedelta(minutes=minutes),
    }
    values.update(kw)
    return JobFailure(**values)


def ids(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(i) for i in ROW.findall(page.text)]


async def test_dead_letter_filters_and_pages(console: Console) -> None:
    rows = [failure(i) for i in range(53)]
    other = failure(60, job="delegation.delegate_order")
    done = failure(61, resolved_at=utcnow(), resolution="retried")
    await add(console, *rows, other, done)
    http = await console.sign_in("operator")
    first = await http.get("/admin/jobs")
    assert len(ids(first)) == 50 and ids(first)[0] == other.id  # newest first, open only
    assert done.id not in ids(first) and "retry: admin role" in first.text
    link = NEXT.search(first.text)
    assert link is not None
    rest = ids(await http.get("/admin/jobs" + link.group(1).replace("&amp;", "&")))
    assert sorted(ids(first) + rest) == sorted([r.id for r in rows] + [other.id])
    assert ids(await http.get("/admin/jobs?state=resolved")) == [done.id]
    assert len(ids(await http.get("/admin/jobs?state=all&job=payment.refund_payment"))) == 50
    assert ids(await http.get("/admin/jobs?job=delegation.delegate_order")) == [other.id]


async def test_admin_retries_once(
    console: Console,
    job_queue: JobQueue,  # noqa: F811
) -> None:
    dead = failure(0)
    gone = failure(1, job="old.removed_job")
    await add(console, dead, gone)
    http = await console.sign_in("admin")
    page = (await http.get("/admin/jobs")).text
    assert f'action="/admin/jobs/{dead.id}/retry"' in page
    answer = await Console.post(http, f"/admin/jobs/{dead.id}/retry", "/admin/jobs")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/jobs?done=retried"
    assert job_queue.sent == 1
    again = await Console.post(http, f"/admin/jobs/{dead.id}/retry", "/admin/jobs")
    assert again.headers["location"] == "/admin/jobs?done=already" and job_queue.sent == 1
    async with console.state.session_maker() as s:
        row = await s.get(JobFailure, dead.id)
    assert row is not None and row.resolution == "retried" and row.resolved_by is not None
    unknown = await Console.post(http, f"/admin/jobs/{gone.id}/retry", "/admin/jobs")
    assert unknown.status_code == 409 and "UNKNOWN_JOB" in unknown.text
    missing = await Console.post(http, "/admin/jobs/999999/retry", "/admin/jobs")
    assert missing.status_code == 404
    assert job_queue.sent == 1


async def test_an_orders_dead_letter_retried_from_its_page(
    console: Console,
    job_queue: JobQueue,  # noqa: F811
) -> None:
    """The order's page lists the open failures of jobs called with its id and retries them
    (back to the order page - never to another site); other orders' failures are not shown."""
    order = make_order(0, status=OrderStatus.PAID, paid_at=utcnow())
    mine = failure(0, job="delegation.delegate_order", args=[order.id])
    other = failure(1, job="delegation.delegate_order", args=["ANOTHER_ORDER"])
    await add(console, order, mine, other)
    page = f"/admin/orders/{order.id}"
    operator = await console.sign_in("operator")
    seen = (await operator.get(page)).text
    assert "Dead-lettered jobs" in seen and "retry: admin role" in seen
    admin = await console.sign_in("admin")
    text = (await admin.get(page)).text
    assert f'action="/admin/jobs/{mine.id}/retry"' in text
    assert f'action="/admin/jobs/{other.id}/retry"' not in text
    answer = await Console.post(admin, f"/admin/jobs/{mine.id}/retry", page, back=page)
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?done=retried"
    assert job_queue.sent == 1
    done = (await admin.get(answer.headers["location"])).text
    assert "Job sent again" in done and "Dead-lettered jobs" not in done
    elsewhere = await Console.post(
        admin, f"/admin/jobs/{other.id}/retry", page, back="//evil.example/admin/orders/x"
    )
    assert elsewhere.headers["location"] == "/admin/jobs?done=retried"


async def test_operator_gets_403(console: Console) -> None:
    dead = failure(0)
    await add(console, dead)
    http = await console.sign_in("operator")
    answer = await Console.post(http, f"/admin/jobs/{dead.id}/retry", "/admin/jobs")
    assert answer.status_code == 403
    async with console.state.session_maker() as s:
        assert (await s.get(JobFailure, dead.id)).resolved_at is None  # type: ignore[union-attr]


async def test_bad_input_is_a_page(console: Console) -> None:
    http = await console.sign_in("admin")
    for path in (
        "/admin/jobs?state=maybe",
        "/admin/jobs?cursor=garbage",
        "/admin/jobs/alerts?cursor=garbage",
    ):
        answer = await http.get(path)
        assert answer.status_code == 422, path
        assert answer.headers["content-type"].startswith("text/html")
    bad = await Console.post(http, "/admin/jobs/0/retry", "/admin/jobs")
    assert bad.status_code == 422


async def test_alerts_firing_now(console: Console) -> None:
    http = await console.sign_in("operator")
    quiet = await http.get("/admin/jobs/alerts")
    assert quiet.status_code == 200 and 'badge failed">firing' not in quiet.text
    assert "PaymentMonitoringFailureRateHigh" in quiet.text  # listed as Prometheus-only
    # the health checks of /api/health, on their own connections
    assert re.search(r"<td>database</td>\s*<td><span class=\"badge active\">ok</span>", quiet.text)

    paid = utcnow() - timedelta(hours=1)
    stuck = make_order(0, status=OrderStatus.PAID, paid_at=paid, created_at=paid)
    pool = await add_pool(
        console, "flagged", available_energy=10, delegated_energy=990, total_energy=1_000
    )
    async with console.state.session_maker() as s, s.begin():
        s.add(stuck)
        s.add(failure(0))
        row = await s.get(EnergyPool, pool.id)
        assert row is not None
        row.status, row.flag = PoolStatus.MAINTENANCE, PoolFlag.NO_STAKE
        row.flag_reason = "no energy stake"
    page = (await http.get("/admin/jobs/alerts")).text
    firing = re.findall(
        r'<td class="mono">(\w+)</td><td>\w+</td>\s*<td><span class="badge failed">', page
    )
    assert sorted(firing) == [
        "JobsDeadLettered",
        "OrderStuck",
        "PaidOrdersInLimbo",
        "PoolEnergyExhausted",
        "PoolUnusable",
    ]


async def test_operator_alerts_sent_with_pages(console: Console) -> None:
    async with console.state.session_maker() as s, s.begin():
        for i in range(52):
            await alerts.job_dead_lettered(
                s, job_name="payment.refund_payment", job_id=i, error="x"
            )
        await alerts.order_in_limbo(s, order_id="T_1", status="paid", reason=None, blocks=20)
    http = await console.sign_in("operator")
    first = await http.get("/admin/jobs/alerts")
    assert first.status_code == 200
    assert first.text.count(">job_dead_lettered<") + first.text.count(">order_in_limbo<") == 50
    assert 'order=<a href="/admin/orders/T_1">T_1</a>' in first.text  # newest first
    link = NEXT.search(first.text)
    assert link is not None
    second = await http.get("/admin/jobs/alerts" + link.group(1).replace("&amp;", "&"))
    assert second.text.count(">job_dead_lettered<") == 3 and NEXT.search(second.text) is None
