"""Signing in and out, roles, CSRF: over HTTP on both databases (no browser)."""

from __future__ import annotations

import httpx

from .conftest import Console, csrf_of


async def test_pages_need_a_session(console: Console) -> None:
    http = console.client()
    answer = await http.get("/admin/orders?status=paid")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=/admin/orders%3Fstatus%3Dpaid"
    hx = await http.get("/admin/orders", headers={"HX-Request": "true"})
    assert hx.headers["HX-Redirect"].startswith("/admin/login")


async def test_sign_in_sign_out(console: Console) -> None:
    username = await console.make_admin("operator")
    http = console.client()
    form = await http.get("/admin/login?next=/admin/orders")
    token = csrf_of(form.text)
    wrong = await http.post(
        "/admin/login",
        data={"csrf_token": token, "username": username, "password": "not it", "next": "/x"},
    )
    assert wrong.status_code == 401
    assert "invalid username or password" in wrong.text
    ok = await http.post(
        "/admin/login",
        data={
            "csrf_token": token,
            "username": username,
            "password": "correct horse battery",
            "next": "/admin/orders",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/orders"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    page = await http.get("/admin/orders")
    assert page.status_code == 200 and username in page.text
    out = await console.post(http, "/admin/logout", "/admin/orders")
    assert out.status_code == 303
    assert (await http.get("/admin/orders")).status_code == 303


async def test_next_never_leaves_the_console(console: Console) -> None:
    username = await console.make_admin()
    http = console.client()
    token = csrf_of((await http.get("/admin/login")).text)
    for target in ("https://evil.example/", "//evil.example/admin", "/api/admin/users"):
        answer = await http.post(
            "/admin/login",
            data={
                "csrf_token": token,
                "username": username,
                "password": "correct horse battery",
                "next": target,
            },
        )
        assert answer.headers["location"] == "/admin/", target


async def test_csrf(console: Console) -> None:
    http = await console.sign_in()
    # no token, a wrong token, a token from another browser, another site's origin: refused
    assert (await http.post("/admin/logout")).status_code == 403
    assert (await http.post("/admin/logout", data={"csrf_token": "x" * 43})).status_code == 403
    other = console.client()
    foreign = csrf_of((await other.get("/admin/login")).text)
    assert (await http.post("/admin/logout", data={"csrf_token": foreign})).status_code == 403
    token = csrf_of((await http.get("/admin/orders")).text)
    cross = await http.post(
        "/admin/logout",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and "cross-site" in cross.text
    # the header htmx sends works like the form field
    assert (await http.post("/admin/logout", headers={"X-CSRF-Token": token})).status_code == 303


async def test_a_disabled_account_is_out_at_once(console: Console) -> None:
    http = await console.sign_in("operator")
    assert (await http.get("/admin/orders")).status_code == 200
    from sqlalchemy import update

    from tronrent.models.admin_user import AdminUser

    async with console.state.session_maker() as session, session.begin():
        await session.execute(update(AdminUser).values(is_active=False))
    assert (await http.get("/admin/orders")).status_code == 303


async def test_static_assets_ship_in_the_package(console: Console) -> None:
    http = console.client()
    page = (await http.get("/admin/login")).text
    for name in ("htmx.min.js", "console.css"):
        assert f"/admin/static/{name}?v=" in page
        asset = await http.get(f"/admin/static/{name}")
        assert asset.status_code == 200 and len(asset.content) > 1000
        assert "immutable" in asset.headers["cache-control"]
    assert (await http.get("/admin/static/../web.py")).status_code == 404
    assert (await http.get("/admin/static/nothing.js")).status_code == 404


def _assert_html(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")


async def test_bad_input_is_a_page_not_a_500(console: Console) -> None:
    http = await console.sign_in()
    _assert_html(await http.get("/admin/orders?status=nope"), 422)
    _assert_html(await http.get("/admin/orders?from=2026-13-45"), 422)
    _assert_html(await http.get("/admin/orders?cursor=garbage"), 422)
    _assert_html(await http.get("/admin/orders/" + "x" * 101), 422)
    _assert_html(await http.get("/admin/orders/no-such-order"), 404)
