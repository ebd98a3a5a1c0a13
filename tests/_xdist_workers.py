"""What keeps pytest-xdist workers apart (used by tests/conftest.py; tested in test_parallel.py).

A plain module rather than conftest: ``from conftest import`` would pick whichever of the
suite's conftest.py files Python imported first.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_DATABASES = 16  # Redis's default ``databases``


def redis_url_for_worker(url: str, worker: str | None) -> str:
    """``url`` with the Redis database number of xdist worker ``worker`` (``"gw3"``): the base
    number plus one plus the worker index, so workers never share rate-limit windows, queue
    streams, bot conversation state or cache keys. ``url`` unchanged outside xdist."""
    if not url or not worker:
        return url
    parsed = urlsplit(url)
    base = int(parsed.path.strip("/") or 0)
    number = base + 1 + int(worker.removeprefix("gw"))
    if number >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"TEST_REDIS_URL database {base} + worker {worker}: Redis has databases 0-"
            f"{REDIS_DATABASES - 1}; use fewer workers (-n) or a lower database number"
        )
    return urlunsplit(parsed._replace(path=f"/{number}"))
