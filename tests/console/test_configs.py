"""The system configs pages over HTTP on both databases: every key with its value (an
encrypted one masked), the admin's change with a reason (in the key's history with who and
why), back to the default, the operator's 403, bad input as a 4xx page."""

from __future__ import annotations

import pytest

from tronrent.console.configs import form_value
from tronrent.kit.errors import ValidationFailed
from tronrent.models.system_config import ConfigType
from tronrent.sysconfig.service import system_config

from .conftest import Console


async def test_list_masks_secrets(console: Console) -> None:
    admin = await console.sign_in("admin")
    page = "/admin/configs/tron.api_key"
    answer = await Console.post(
        admin, page, page, value="ABCD-1234-secret-key", reason="new TronGrid key"
    )
    assert answer.status_code == 303
    http = await console.sign_in("operator")
    listing = await http.get("/admin/configs")
    assert listing.status_code == 200
    assert "site.name" in listing.text and "TronRent" in listing.text  # the default
    assert "set, encrypted" in listing.text
    detail = await http.get(page)
    assert detail.status_code == 200 and "new TronGrid key" in detail.text
    for shown in (listing.text, detail.text):
        assert "ABCD-1234-secret-key" not in shown
    assert 'type="password"' not in detail.text  # no form for an operator


async def test_admin_sets_and_resets(console: Console) -> None:
    http = await console.sign_in("admin")
    page = "/admin/configs/site.name"
    answer = await Console.post(http, page, page, value="  Energy Shop ", reason="rebrand")
    assert answer.status_code == 303 and answer.headers["location"] == f"{page}?done=set"
    shown = (await http.get(answer.headers["location"])).text
    assert "Energy Shop" in shown and "Value saved" in shown
    reset = await Console.post(http, page, page, reset="true", reason="back to the old name")
    assert reset.status_code == 303 and reset.headers["location"] == f"{page}?done=reset"
    async with console.state.session_maker() as s:
        view = await system_config.get(s, "site.name")
        changes = await system_config.history(s, "site.name")
    assert view.value == "TronRent" and not view.is_set
    assert [(c.old_value, c.new_value) for c in changes] == [
        ("Energy Shop", None),
        (None, "Energy Shop"),
    ]
    assert changes[1].reason is not None and changes[1].reason.startswith("rebrand (admin:admin_")
    assert "rebrand" in (await http.get(page)).text


async def test_operator_gets_403(console: Console) -> None:
    http = await console.sign_in("operator")
    page = "/admin/configs/site.name"
    answer = await Console.post(http, page, page, value="Mine", reason="mine")
    assert answer.status_code == 403
    async with console.state.session_maker() as s:
        assert not (await system_config.get(s, "site.name")).is_set


async def test_bad_input_is_a_page(console: Console) -> None:
    http = await console.sign_in("admin")
    page = "/admin/configs/site.name"
    for path, form, status in (
        (page, {"value": "", "reason": "empty name"}, 422),  # len:1..100
        (page, {"value": "x" * 101, "reason": "too long"}, 422),
        (page, {"value": "ok", "reason": ""}, 422),
        ("/admin/configs/tron.api_key", {"value": "bad key!", "reason": "why"}, 422),
        ("/admin/configs/no.such.key", {"value": "1", "reason": "why"}, 404),
    ):
        answer = await Console.post(http, path, page, **form)
        assert answer.status_code == status, (path, form)
        assert answer.headers["content-type"].startswith("text/html")
    assert (await http.get("/admin/configs/no.such.key")).status_code == 404
    assert (await http.get("/admin/configs/" + "k" * 101)).status_code == 422
    async with console.state.session_maker() as s:
        assert await system_config.history(s, "site.name") == []


def test_form_values_take_the_type_of_their_key() -> None:
    assert form_value(ConfigType.BOOLEAN, " True ") is True
    assert form_value(ConfigType.BOOLEAN, "false") is False
    assert form_value(ConfigType.JSON, '{"a": [1, 2.5]}') == {"a": [1, "2.5"]}  # no float
    assert form_value(ConfigType.NUMBER, "12.50") == "12.50"
    assert form_value(ConfigType.INTEGER, "7") == "7"
    for kind, text in ((ConfigType.BOOLEAN, "yes"), (ConfigType.JSON, "{nope")):
        with pytest.raises(ValidationFailed):
            form_value(kind, text)
