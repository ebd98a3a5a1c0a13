"""Import every module declaring jobs, so the queue knows all actors (as polar/tasks.py)."""

from tronrent.agent import tasks as agent_tasks
from tronrent.count import tasks as count_tasks
from tronrent.delegation import tasks as delegation_tasks
from tronrent.merchant import callbacks as merchant_callbacks  # the order event tap
from tronrent.notification import tasks as notification_tasks
from tronrent.payment import tasks as payment_tasks
from tronrent.pool import tasks as pool_tasks
from tronrent.retention import tasks as retention_tasks

__all__ = [
    "agent_tasks",
    "count_tasks",
    "delegation_tasks",
    "merchant_callbacks",
    "notification_tasks",
    "payment_tasks",
    "pool_tasks",
    "retention_tasks",
]
