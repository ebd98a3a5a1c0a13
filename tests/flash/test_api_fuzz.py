# ruff: noqa: F811  (the api fixture is imported from test_endpoints)
"""API fuzz run: schemathesis generates requests from the app's own OpenAPI (valid and invalid
ones, every route), sent in-process (ASGI transport) anonymously and with an admin token.

Every answer must be below 500 and carry the envelope: ``{success: true, data}`` or
``{success: false, error: {code, message}}``. The examples are generated first (hypothesis,
bounded per route) and then sent on the test's own event loop, where the app and its database
engine live."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tronproto.address import b58check_encode
from tronrent.api.ratelimit import LoginThrottle

from .test_endpoints import Api, api  # noqa: F401  (the fixture)

#: examples per route and generation mode; PostgreSQL runs fewer (slower per request)
EXAMPLES = {"sqlite": 5, "postgres": 4}
#: label of the requests with a NUL character added to every string of a generated body
NUL_VARIANT = "(NUL variant)"
#: answers that are not JSON by design
NOT_JSON = {"/api/metrics"}


def _draw(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    drawn: list[Any] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Any) -> None:
        drawn.append(case)

    # Unsatisfiable: e.g. no invalid input exists for a GET without parameters
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        collect()
    return drawn


#: the ``tron-address`` format of the OpenAPI: real base58check addresses (the pattern alone
#: almost never yields a valid checksum)
TRON_ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda raw: b58check_encode(b"\x41" + raw))


def generate_cases(openapi: dict[str, Any], per_route: int) -> list[Any]:
    schemathesis.openapi.format("tron-address", TRON_ADDRESSES)
    schema = schemathesis.openapi.from_dict(openapi)
    cases: list[Any] = []
    for index, result in enumerate(schema.get_all_operations()):
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases += _draw(operation.as_strategy(generation_mode=mode), per_route, seed=index)
    return cases


def _check_envelope(path: str, response: Any) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if path in NOT_JSON and response.status_code == 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]}"
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return f"no envelope: {str(body)[:200]}"
    if body["success"]:
        return None if "data" in body and response.status_code < 400 else f"bad success {body}"
    error = body.get("error")
    if not (
        response.status_code >= 400
        and isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and error["message"]
    ):
        return f"bad error envelope: {str(body)[:200]}"
    return None


@pytest.mark.timeout(600)
async def test_fuzz_every_route(api: Api, db_backend: str) -> None:
    app = api.http._transport.app  # type: ignore[attr-defined]
    # the fuzzer is after the login route's input handling, not the failed-login throttle
    # (tests/api/test_hostile.py): give it a budget it cannot use up
    assert api.state is not None and api.state.login_throttle is not None
    api.state.login_throttle = LoginThrottle(
        api.state.login_throttle.limits, per_username=10**6, per_ip=10**6, window_seconds=1
    )
    openapi = app.openapi()
    per_route = int(os.environ.get("FUZZ_EXAMPLES", EXAMPLES[db_backend]))
    cases = generate_cases(openapi, per_route)
    assert len(cases) >= per_route * len(openapi["paths"])
    failures: list[str] = []
    seen_statuses: set[int] = set()
    answered: dict[str, set[int]] = {}
    requests: list[tuple[str, dict[str, Any]]] = []
    nul_variants = 0
    for case in cases:
        request = case.as_transport_kwargs(base_url="http://t")
        requests.append((case.operation.path, request))
        # generated strings rarely hold a NUL: add a variant with one in every string field
        body = request.get("json")
        if isinstance(body, dict) and any(isinstance(v, str) for v in body.values()):
            nul = {k: v + "\x00" if isinstance(v, str) else v for k, v in body.items()}
            requests.append((NUL_VARIANT, {**request, "json": nul}))
            nul_variants += 1
    assert nul_variants >= per_route
    for path, request in requests:
        for auth in (None, api.admin):
            headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
            headers.pop("Authorization", None)
            if auth:
                headers.update(auth)
            response = await api.http.request(
                request["method"],
                request["url"],
                params=request.get("params"),
                headers=headers,
                json=request.get("json"),
                content=request.get("data") if "json" not in request else None,
            )
            seen_statuses.add(response.status_code)
            answered.setdefault(path, set()).add(response.status_code)
            problem = _check_envelope(path, response)
            if path == NUL_VARIANT and response.status_code != 422 and not problem:
                problem = f"NUL accepted: {response.status_code} {response.text[:200]}"
            if problem:
                failures.append(
                    f"{request['method']} {request['url']} auth={bool(auth)} "
                    f"json={str(request.get('json'))[:200]} -> {problem}"
                )
    assert not failures, "\n".join(failures[:30])
    assert 200 in seen_statuses and 422 in seen_statuses and 401 in seen_statuses
    # the published formats let generated input through validation to the real work
    for path in ("/api/energy-flash/create-order", "/api/tron/balance/{address}"):
        assert 200 in answered[path], (path, answered[path])
    assert 404 in answered["/api/energy-flash/order-status/{order_id}"]
