"""Redis streams with consumer groups: a job is acknowledged only after it ran.

taskiq-redis's `RedisStreamBroker` reads with XREADGROUP and the receiver acknowledges (XACK)
once the job finished, so a worker killed mid-job leaves the message pending in the group. Its
own listen loop, though, reclaims pending messages (XAUTOCLAIM) only after a read that returned
new messages - on a quiet queue a crashed worker's job would wait for the next job. This
subclass claims idle pending messages on every turn of the loop (at most every `xread_block`
ms), so a crashed worker's job is redelivered `idle_timeout` ms after it was taken, to any
live worker. XAUTOCLAIM is atomic: one message goes to one consumer per claim.

Redis going away does not stop the workers: taskiq's receiver ends for good when the broker's
read raises, so this loop keeps reading itself. A lost connection (Redis restarting) is
retried every ``RECONNECT_S``; streams and consumer group gone (Redis restarted without
persistence, keys deleted: XREADGROUP answers NOGROUP, or UNBLOCKED when the key vanishes under
a blocked read) are declared again, from the start of the stream (the group's ``consumer_id``
"0": jobs are idempotent), and the reading goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

log = logging.getLogger("tronrent.worker")

#: seconds between attempts to read again after Redis went away
RECONNECT_S: Final = 1.0
#: what Redis answers a read whose stream or consumer group is gone
_GONE: Final = ("NOGROUP", "UNBLOCKED")


class AckedStreamBroker(RedisStreamBroker):
    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        while True:
            try:
                async for message in self._read():
                    yield message
            except ResponseError as exc:
                if not str(exc).startswith(_GONE):
                    raise
                log.warning(
                    "job stream %s lost its group (%s); declared again", self.queue_name, exc
                )
                await self._redeclare()
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("job stream %s: Redis away (%s); reading again", self.queue_name, exc)
                await asyncio.sleep(RECONNECT_S)

    async def _redeclare(self) -> None:
        try:
            await self._declare_consumer_group()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            await asyncio.sleep(RECONNECT_S)

    async def _read(self) -> AsyncGenerator[AckableMessage, None]:
        async with Redis(connection_pool=self.connection_pool) as conn:
            while True:
                fetched: Any = await conn.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    {self.queue_name: ">"},
                    block=self.block,
                    noack=False,
                    count=self.count,
                )
                for stream, messages in fetched or []:
                    for msg_id, msg in messages:
                        yield self._message(stream, msg_id, msg)
                claimed: Any = await conn.xautoclaim(
                    self.queue_name,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
                for msg_id, msg in claimed[1]:
                    if msg:  # None: trimmed from the stream meanwhile
                        yield self._message(self.queue_name, msg_id, msg)

    def _message(self, stream: Any, msg_id: Any, msg: Any) -> AckableMessage:
        return AckableMessage(
            data=msg[b"data"],
            ack=self._ack_generator(id=msg_id, queue_name=stream),
        )
