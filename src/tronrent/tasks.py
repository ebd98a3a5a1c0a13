"""Import every module declaring jobs, so the queue knows all actors (as polar/tasks.py)."""

from tronrent.agent import tasks as agent_tasks
from tronrent.delegation import tasks as delegation_tasks
from tronrent.notification import tasks as notification_tasks
from tronrent.payment import tasks as payment_tasks
from tronrent.pool import tasks as pool_tasks

__all__ = ["agent_tasks", "delegation_tasks", "notification_tasks", "payment_tasks", "pool_tasks"]
