"""PostgreSQL: a NOTIFY when an order paid from the balance commits (the engine's pickup).

Revision ID: 0034_balance_paid_notify
Revises: 0033_console_bench
Create Date: 2026-12-05

A payment from the balance runs wherever the request is (API workers, the bots) and sends no
job: the engine's pickup (`tronrent.delegation.pickup`) takes the paid orders. It polled a
few times a block, so an order waited for the next poll. Now every transaction that moves an
order paid from the balance to ``paid`` sends ``NOTIFY tronrent_balance_paid`` (delivered on
commit only, one per transaction whatever the number of rows), and the pickup, listening,
takes it at once. The trigger is on the table, so every path that pays from the balance
(bot, HTTP API, merchant API, console) wakes the pickup without code of its own. SQLite
(one process) has no NOTIFY: the payment's commit wakes the pickup in the process instead.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034_balance_paid_notify"
down_revision: str | Sequence[str] | None = "0033_console_bench"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the channel `tronrent.delegation.pickup` listens on (``BALANCE_PAID_CHANNEL``)
CHANNEL = "tronrent_balance_paid"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION tronrent_balance_paid_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER orders_balance_paid_notify
        AFTER INSERT OR UPDATE OF status ON orders
        FOR EACH ROW
        WHEN (NEW.status = 'paid' AND NEW.payment_method = 'balance')
        EXECUTE FUNCTION tronrent_balance_paid_notify()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS orders_balance_paid_notify ON orders")
    op.execute("DROP FUNCTION IF EXISTS tronrent_balance_paid_notify()")
