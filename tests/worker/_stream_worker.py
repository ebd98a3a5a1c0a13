"""A worker process for the Redis crash test: `python _stream_worker.py URL PREFIX KEY MODE`.

It consumes the job queue; job `test.stream_job(token)` pushes the token to `KEY:started`,
then with MODE=hang never finishes (the test kills the process with SIGKILL), with MODE=run
pushes it to `KEY:done`."""

from __future__ import annotations

import asyncio
import sys

from redis.asyncio import Redis

from tronrent.worker import JobQueue, Priority, actor

URL, PREFIX, KEY, MODE = sys.argv[1:5]


@actor("test.stream_job", priority=Priority.HIGH, max_retries=0)
async def stream_job(token: str) -> None:
    async with Redis.from_url(URL) as r:
        await r.rpush(f"{KEY}:started", token)
        if MODE == "hang":
            await asyncio.sleep(3600)
        await r.rpush(f"{KEY}:done", token)


async def main() -> None:
    queue = JobQueue.redis(URL, prefix=PREFIX, redeliver_after_s=0.5, poll_ms=100)
    await queue.startup()
    print("ready", flush=True)
    await queue.listen(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main())
