"""Console pages at scale (PostgreSQL): p50/p95 of each page rendered through the real app.

A dedicated database (``--db``, default ``tronrent_console_bench``) on the server of
``--database-url`` is migrated (``tronrent.storage.migrations``) and filled with ``INSERT ...
SELECT generate_series`` - ``--orders`` orders spread over ``--days`` days (the newest first: one
every ``days*86400/orders`` seconds), a payment for each paid order, the chain transactions of
their delegations, reclaims, refunds and activations, their delegations, 20 pools - and every
other list of the console sized from ``--orders`` (:func:`_sizes`; at 1,000,000 orders):
100,000 users with 1,000,000 ledger entries (a quarter of them the first 100 users') and 1,000
status changes; 1,000 agents (10 parents), 5,000 applications, a commission on each paid order
of a customer (~190,000), 10,000 withdrawals and the decisions on them; 1,000 merchant keys
with 3 settings changes each, 500,000 callbacks with their ~550,000 delivery attempts; 5,000
dead-lettered jobs, 5,000 operator alerts among ~200,000 customer notifications; 20 price
rules, 5,000 price changes, ~3,300 package changes; a count package for each delivered
transfer package (~42,000) with 4 uses each; 2,000 pool changes, 20 bots with 50 changes
each, a config key with 200 changes; 10,000 problem payments (dust, underpaid, excess,
ignored). Plain indexes are dropped during the load and built after it. ``--reuse`` times an
already filled database of that name (migrated to the head, the load skipped; it is filled
when missing).

Then the API app with the console routers (``create_app(routers=CONSOLE_ROUTERS)``, lifespan
running) is driven in-process through httpx's ASGI transport, signed in through the login form
like a browser, and each page of :data:`PAGES` (``--only``: those whose name has this text)
is rendered ``--repeat`` times after ``--warmup`` renders; p50 and p95 per page are printed
(target: p95 < 300 ms). A page that answers 404 is reported as missing (a page group not on
this branch), not timed.

To add a page: append ``(name, path)`` to :data:`PAGES`; its placeholders are the keys of
:func:`_samples` (rows in the middle of each history, the user with the most ledger entries,
an active agent with a parent...), filled from the loaded rows.

    nice -n 19 .venv/bin/python bench/console_pages.py [--orders 1000000] [--days 365]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
        [--db tronrent_console_bench] [--reuse] [--repeat 20] [--warmup 2] [--only TEXT]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Final

import argon2.profiles
import asyncpg
import httpx
from _common import PG_DEFAULT, load_average, quiet_logs
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from tronproto.address import to_base58
from tronrent.api.app import create_app
from tronrent.auth.passwords import use_parameters
from tronrent.auth.service import admin as admin_service
from tronrent.config import Settings
from tronrent.console.routers import CONSOLE_ROUTERS
from tronrent.kit.crypto import generate_key
from tronrent.kit.db import normalize_database_url
from tronrent.kit.keyset import Position, encode_cursor
from tronrent.storage.migrations import upgrade_async

#: the pages timed: (name, path); placeholders are filled from the loaded rows (see the docstring)
PAGES: Final[list[tuple[str, str]]] = [
    ("overview (figures kept 60 s)", "/admin/"),
    ("overview (read again: ?fresh=1)", "/admin/?fresh=1&window=30"),
    ("orders: first page", "/admin/orders"),
    ("orders: a later page (cursor)", "/admin/orders?cursor={cursor}"),
    ("orders: status=failed", "/admin/orders?status=failed"),
    ("orders: status=refunded, product", "/admin/orders?status=refunded&type=energy_rental"),
    ("orders: by address", "/admin/orders?q={address}"),
    ("orders: by tx hash", "/admin/orders?q={tx_hash}"),
    ("orders: date range", "/admin/orders?from={day}&to={day}"),
    ("order detail", "/admin/orders/{order_id}"),
    ("payments: first page", "/admin/payments"),
    ("payments: a later page (cursor)", "/admin/payments?cursor={payment_cursor}"),
    ("payments: status=refunded", "/admin/payments?status=refunded"),
    ("payments: by sender address", "/admin/payments?q={payer}"),
    ("payments: to the flash address", "/admin/payments?q={pay}"),
    ("payments: by tx hash", "/admin/payments?q={tx_hash}"),
    ("payments: date range, USDT", "/admin/payments?from={day}&to={day}&asset=USDT"),
    ("payments: problems", "/admin/payments/problems"),
    ("payments: problems, underpaid", "/admin/payments/problems?status=underpaid"),
    ("payment detail", "/admin/payments/{payment_id}"),
    ("users: first page", "/admin/users"),
    ("users: a later page (cursor)", "/admin/users?cursor={user_cursor}"),
    ("users: search by username", "/admin/users?q={username}"),
    ("users: search by telegram id", "/admin/users?q={telegram_id}"),
    ("user detail (busiest ledger)", "/admin/users/{user_id}"),
    ("user detail: ledger, older page", "/admin/users/{user_id}?cursor={ledger_cursor}"),
    ("user detail: ledger, USDT", "/admin/users/{user_id}?currency=USDT"),
    ("user detail (typical)", "/admin/users/{typical_user}"),
    ("catalogue", "/admin/catalogue"),
    ("package detail", "/admin/catalogue/packages/{package_id}"),
    ("price rule detail (history)", "/admin/catalogue/prices/{rule_id}"),
    ("flash config history", "/admin/catalogue/flash"),
    ("count packages: active", "/admin/catalogue/count-packages"),
    ("count packages: later page", "/admin/catalogue/count-packages?cursor={count_cursor}"),
    ("count package detail", "/admin/catalogue/count-packages/{count_order}"),
    ("pools", "/admin/pools"),
    ("pool detail", "/admin/pools/{pool_id}"),
    ("bots", "/admin/bots"),
    ("bot detail", "/admin/bots/{bot_id}"),
    ("agents: first page", "/admin/agents"),
    ("agents: a later page (cursor)", "/admin/agents?cursor={agent_cursor}"),
    ("agents: status=suspended", "/admin/agents?status=suspended"),
    ("agent detail", "/admin/agents/{agent_id}"),
    ("applications", "/admin/agents/applications"),
    ("applications: later page", "/admin/agents/applications?cursor={application_cursor}"),
    ("applications: status=pending", "/admin/agents/applications?status=pending"),
    ("withdrawals", "/admin/agents/withdrawals"),
    ("withdrawals: later page", "/admin/agents/withdrawals?cursor={withdrawal_cursor}"),
    ("withdrawals: pending review", "/admin/agents/withdrawals?status=pending_review"),
    ("withdrawals: one agent", "/admin/agents/withdrawals?agent={agent_id}"),
    ("earnings", "/admin/agents/earnings"),
    ("earnings: later page", "/admin/agents/earnings?cursor={earning_cursor}"),
    ("earnings: status=pending", "/admin/agents/earnings?status=pending"),
    ("earnings: one agent", "/admin/agents/earnings?agent={agent_id}"),
    ("merchant keys", "/admin/merchants"),
    ("merchant keys: later page", "/admin/merchants?cursor={key_cursor}"),
    ("merchant keys: one user", "/admin/merchants?user={key_user}"),
    ("merchant key detail", "/admin/merchants/keys/{key_id}"),
    ("callbacks", "/admin/merchants/callbacks"),
    ("callbacks: later page", "/admin/merchants/callbacks?cursor={callback_cursor}"),
    ("callbacks: status=failed", "/admin/merchants/callbacks?status=failed"),
    ("callbacks: one order", "/admin/merchants/callbacks?order={callback_order}"),
    ("configs", "/admin/configs"),
    ("config detail (history)", "/admin/configs/site.name"),
    ("jobs: open failures", "/admin/jobs"),
    ("jobs: all, later page", "/admin/jobs?state=all&cursor={failure_cursor}"),
    ("jobs: one job name", "/admin/jobs?state=all&job=pool.sync"),
    ("alerts", "/admin/jobs/alerts"),
    ("alerts: later page", "/admin/jobs/alerts?cursor={alert_cursor}"),
]

TRX = 1_000_000


def _address(seed: str) -> str:
    """A valid TRON address (base58check) made from ``seed`` (the console's search takes only
    valid ones)."""
    return to_base58(b"\x41" + hashlib.sha256(seed.encode()).digest()[:20])


PAY = _address("bench flash payment address")
#: repeat payers: one payment in 1,000 is sent from one of these (~10 each at 1M orders)
PAYERS: Final = tuple(_address(f"bench payer {j}") for j in range(100))
LIVE = 200  # the newest orders wait for their payment
PASSWORD = "bench console password"

_LOAD: Final = [
    # users, newest first; every third has a TRON address
    """INSERT INTO users (id, username, telegram_id, tron_address, referral_code,
        trx_balance_sun, usdt_balance_units, created_at, updated_at)
    SELECT md5('u' || j)::uuid, 'user' || j, 1000000 + j,
        CASE WHEN j % 3 = 0 THEN 'T' || md5('ua' || j) END, 'REF' || j, j % 1000 * {trx},
        j % 7 * {trx}, now() - make_interval(secs => j * {user_step}), now()
    FROM generate_series(0, {users} - 1) AS j""",
    """INSERT INTO energy_pools (id, name, tron_address, private_key_encrypted, total_energy,
        available_energy, delegated_energy, reserved_energy, status, priority)
    SELECT md5('p' || j)::uuid, 'pool ' || j, 'TPOOL' || lpad(j::text, 29, '0'), 'x',
        10000000, 10000000 - j * 400000, j * 400000, 0, 'active', 1 + j % 3
    FROM generate_series(0, 19) AS j""",
    # orders: the newest {live} wait for payment; by i / 7, one in 20 expired unpaid, one in 20
    # refunded, one in 20 active, one in 20 failed, the rest completed; 70 % flash, 20 %
    # packages, 5 % count packages, 4 % balance top-ups, 1 % auto top-ups; one in 10 paid in
    # USDT; one in 50 had its recipient activated
    """INSERT INTO orders (id, order_number, order_type, status, payment_status, currency,
        energy_amount, paid_amount_units, final_price_units, price_units, paid_at,
        target_address, from_address, payment_address, tron_tx_hash, delegate_tx_hash, user_id,
        expected_amount_units, amount_tail_units, activation_fee_sun, expires_at, created_at,
        updated_at)
    SELECT id, id, kind, st,
        CASE WHEN st IN ('pending', 'expired') THEN 'pending' ELSE 'paid' END,
        CASE WHEN i % 10 = 3 AND kind <> 'energy_flash' THEN 'USDT' ELSE 'TRX' END,
        CASE WHEN kind = 'balance_top_up' THEN NULL
             WHEN i % 3 = 0 THEN 131000 ELSE 65000 END,
        CASE WHEN st IN ('pending', 'expired') THEN NULL ELSE (2 + i % 20) * {trx} END,
        (2 + i % 20) * {trx}, (2 + i % 20) * {trx},
        CASE WHEN st IN ('pending', 'expired') THEN NULL ELSE at + interval '30 seconds' END,
        'T' || md5('t' || i), 'T' || md5('f' || i), '{pay}',
        md5('p' || i) || md5('q' || i), md5('d' || i) || md5('e' || i),
        CASE WHEN i % 5 = 0 THEN md5('u' || (i / 5 % {users}))::uuid END,
        1500000 + i, i % 10000,
        CASE WHEN i % 50 = 7 AND kind <> 'balance_top_up' THEN 1100001 END,
        at + interval '30 minutes', at, at
    FROM (
        SELECT i, 'C_' || lpad(i::text, 9, '0') AS id,
            now() - make_interval(secs => i * {step}) AS at,
            CASE WHEN i % 100 < 70 THEN 'energy_flash' WHEN i % 100 < 90 THEN 'energy_rental'
                 WHEN i % 100 < 95 THEN 'transaction_package'
                 WHEN i % 100 < 99 THEN 'balance_top_up' ELSE 'auto_top_up' END AS kind,
            CASE WHEN i <= {live} THEN 'pending'
                 WHEN (i / 7) % 20 = 0 THEN 'expired' WHEN (i / 7) % 20 = 1 THEN 'refunded'
                 WHEN (i / 7) % 20 = 2 THEN 'active' WHEN (i / 7) % 20 = 3 THEN 'failed'
                 ELSE 'completed' END AS st
        FROM generate_series(1, {n}) AS i
    ) AS o""",
    # the payment of every paid order (block = its time / 3 s)
    """INSERT INTO payments (tx_hash, event_index, asset, from_address, to_address,
        amount_units, block_number, status, match_method, order_id, handled_at, created_at,
        updated_at)
    SELECT tron_tx_hash, 0, currency, from_address, '{pay}', paid_amount_units,
        (extract(epoch FROM paid_at) / 3)::bigint,
        CASE WHEN status = 'refunded' THEN 'refunded' ELSE 'matched' END, 'amount_tail',
        id, paid_at, paid_at, paid_at
    FROM orders WHERE paid_at IS NOT NULL""",
    # their delegations: confirmed 1 to 5 blocks after the payment; a reclaim when completed
    """INSERT INTO chain_transactions (purpose, txid, owner_address, to_address, amount_sun,
        raw_data, raw_data_hex, signatures, expiration_ms, status, block_number, order_id,
        created_at, updated_at, confirmed_at)
    SELECT 'delegate', delegate_tx_hash, 'TPOOL' || lpad((abs(hashtext(id)) % 20)::text, 29, '0'),
        target_address, energy_amount * 10, '{{}}', '', '[]', 0, 'confirmed',
        (extract(epoch FROM paid_at) / 3)::bigint + 1 + abs(hashtext(id)) % 5, id,
        paid_at + interval '5 seconds', paid_at, paid_at
    FROM orders WHERE status IN ('active', 'completed') AND energy_amount IS NOT NULL""",
    """INSERT INTO chain_transactions (purpose, txid, owner_address, to_address, amount_sun,
        raw_data, raw_data_hex, signatures, expiration_ms, status, block_number, order_id,
        created_at, updated_at, confirmed_at)
    SELECT 'undelegate', md5('r' || id) || md5('s' || id),
        'TPOOL' || lpad((abs(hashtext(id)) % 20)::text, 29, '0'), target_address,
        energy_amount * 10, '{{}}', '', '[]', 0, 'confirmed',
        (extract(epoch FROM paid_at) / 3)::bigint + 1200, id,
        paid_at + interval '1 hour', paid_at, paid_at
    FROM orders WHERE status = 'completed' AND energy_amount IS NOT NULL""",
    """INSERT INTO chain_transactions (purpose, txid, owner_address, to_address, amount_sun,
        raw_data, raw_data_hex, signatures, expiration_ms, status, block_number, order_id,
        created_at, updated_at, confirmed_at)
    SELECT CASE WHEN status = 'refunded' THEN 'refund' ELSE 'activate' END,
        md5('a' || id) || md5('b' || id), '{pay}', from_address,
        CASE WHEN status = 'refunded' THEN paid_amount_units ELSE 1 END,
        '{{}}', '', '[]', 0, 'confirmed', (extract(epoch FROM paid_at) / 3)::bigint + 2, id,
        paid_at + interval '3 seconds', paid_at, paid_at
    FROM orders WHERE status = 'refunded'
        OR (activation_fee_sun IS NOT NULL AND status IN ('active', 'completed'))""",
    """INSERT INTO energy_delegations (order_id, pool_account_id, recipient_address,
        energy_amount, balance_sun, duration_hours, tx_hash, status, delegated_at, created_at,
        updated_at)
    SELECT id, md5('p' || (abs(hashtext(id)) % 20))::uuid, target_address, energy_amount,
        energy_amount * 10, 1, delegate_tx_hash,
        CASE WHEN status = 'active' THEN 'success' ELSE 'expired' END,
        paid_at + interval '5 seconds', paid_at, paid_at
    FROM orders WHERE status IN ('active', 'completed') AND energy_amount IS NOT NULL""",
]
# the rest of the console's lists, sized from --orders (see the docstring); each id is a hash of
# its index, so a placeholder or another table can name a row without reading it
_MORE: Final = [
    # the newest of the users, the ledger's whales (every 4th entry is one of the first 100)
    """INSERT INTO user_status_changes (id, user_id, previous_status, status, actor, reason,
        created_at)
    SELECT md5('usc' || j)::uuid, md5('u' || (j * 13 % {users}))::uuid,
        CASE WHEN j % 2 = 0 THEN 'active' ELSE 'banned' END,
        CASE WHEN j % 2 = 0 THEN 'banned' ELSE 'active' END, 'admin:bench', 'bench: spam',
        now() - make_interval(hours => j)
    FROM generate_series(0, {status_changes} - 1) AS j""",
    # ~n entries, ids in time order; a top-up, a payment or a refund, one in 10 in USDT, one in
    # 100 an adjustment with its who and why
    """INSERT INTO balance_ledger (user_id, currency, delta_units, balance_after_units,
        cause_type, cause_id, note, created_at)
    SELECT md5('u' || CASE WHEN k % 4 = 0 THEN (k / 4) % 100 ELSE k % {users} END)::uuid,
        CASE WHEN k % 10 = 3 THEN 'USDT' ELSE 'TRX' END,
        CASE WHEN k % 100 = 50 THEN 5 * {trx} WHEN k % 3 = 1 THEN -(2 + k % 20) * {trx}
             ELSE (2 + k % 20) * {trx} END,
        (10 + k % 1000) * {trx},
        CASE WHEN k % 100 = 50 THEN 'adjustment' WHEN k % 3 = 1 THEN 'order_payment'
             WHEN k % 3 = 2 THEN 'order_refund' ELSE 'top_up' END,
        'bench-' || k,
        CASE WHEN k % 100 = 50
             THEN '{{"by": "admin:bench", "reason": "goodwill credit", "reference": "b' || k
                  || '"}}' END,
        now() - make_interval(secs => ({ledger} - k) * {ledger_step})
    FROM generate_series(1, {ledger}) AS k""",
    # agents: the users at the end of the list; the first 10 are the others' parents
    """INSERT INTO agents (id, user_id, agent_code, level, commission_bps, parent_agent_id,
        status, approved_at, total_referrals, total_earnings_sun, available_balance_sun,
        created_at, updated_at)
    SELECT md5('a' || j)::uuid, md5('u' || ({users} - 1 - j))::uuid,
        'AG' || lpad(j::text, 6, '0'), CASE WHEN j < 10 THEN 1 ELSE 2 END, 500 + j % 10 * 100,
        CASE WHEN j >= 10 THEN md5('a' || (j % 10))::uuid END,
        CASE WHEN j % 50 = 11 THEN 'suspended' WHEN j % 100 = 12 THEN 'terminated'
             ELSE 'active' END,
        now() - make_interval(secs => j * {agent_step}), 10 + j % 90, j * {trx}, j * 1000,
        now() - make_interval(secs => j * {agent_step}) - interval '1 day', now()
    FROM generate_series(0, {agents} - 1) AS j""",
    # applications: the newest twentieth waits for a decision
    """INSERT INTO agent_applications (id, user_id, application_type, business_info,
        contact_info, experience, expected_volume_sun, status, reviewed_at, review_notes,
        created_at, updated_at)
    SELECT md5('ap' || j)::uuid, md5('u' || j)::uuid, 'agent',
        '{{"company": "bench shop", "site": "https://shop.example"}}',
        '{{"telegram": "@bench"}}', 'resells energy to wallets',
        (1 + j % 100) * 1000 * {trx}::bigint,
        CASE WHEN j < {applications} / 20 THEN 'pending' WHEN j % 3 = 0 THEN 'rejected'
             ELSE 'approved' END,
        CASE WHEN j >= {applications} / 20 THEN now() - make_interval(secs => j * {app_step})
             + interval '1 hour' END,
        CASE WHEN j >= {applications} / 20 THEN 'bench review' END,
        now() - make_interval(secs => j * {app_step}), now()
    FROM generate_series(0, {applications} - 1) AS j""",
    # a commission on every paid order of a customer (one agent each)
    """INSERT INTO agent_earnings (id, agent_id, order_id, earning_type, level, amount_units,
        commission_bps, base_amount_units, currency, status, settled_at, created_at,
        updated_at)
    SELECT md5('e' || id)::uuid, md5('a' || (abs(hashtext(id)) % {agents}))::uuid, id,
        'commission', 1, paid_amount_units / 10, 1000, paid_amount_units, currency,
        CASE WHEN paid_at > now() - interval '1 day' THEN 'pending'
             WHEN status = 'refunded' THEN 'cancelled' ELSE 'settled' END,
        CASE WHEN paid_at <= now() - interval '1 day' AND status <> 'refunded'
             THEN paid_at + interval '1 day' END,
        paid_at, paid_at
    FROM orders WHERE user_id IS NOT NULL AND paid_at IS NOT NULL""",
    # withdrawals, oldest first (ids in time order): the newest wait for review or payout
    """INSERT INTO agent_withdrawals (agent_id, user_id, currency, amount_units, fee_units,
        payout_units, to_address, status, reviewed_at, review_notes, txid, paid_at,
        created_at, updated_at)
    SELECT md5('a' || (k % {agents}))::uuid, md5('u' || ({users} - 1 - k % {agents}))::uuid,
        CASE WHEN k % 10 = 3 THEN 'USDT' ELSE 'TRX' END, (10 + k % 90) * {trx}, {trx},
        (9 + k % 90) * {trx}, 'T' || md5('w' || k), st,
        CASE WHEN st <> 'pending_review' THEN at + interval '1 hour' END,
        CASE WHEN st <> 'pending_review' THEN 'bench review' END,
        CASE WHEN st = 'paid' THEN md5('wt' || k) || md5('wu' || k) END,
        CASE WHEN st = 'paid' THEN at + interval '2 hours' END, at, at
    FROM (
        SELECT k, now() - make_interval(secs => k * {withdrawal_step}) AS at,
            CASE WHEN k <= {withdrawals} / 100 THEN 'pending_review'
                 WHEN k <= {withdrawals} / 50 THEN 'approved'
                 WHEN k % 20 = 7 THEN 'rejected' ELSE 'paid' END AS st
        FROM generate_series({withdrawals}, 1, -1) AS k
    ) AS w""",
    # the decisions: each agent's approval and a rate change, each reviewed withdrawal's
    """INSERT INTO agent_changes (id, subject, actor, action, before, after, reason,
        created_at)
    SELECT md5('ac' || id || x)::uuid, 'agent:' || id, 'admin:bench',
        CASE WHEN x = 0 THEN 'approve_application' ELSE 'edit_agent' END,
        '{{"commissionBps": 500}}', '{{"commissionBps": 600}}', 'bench decision',
        created_at + make_interval(days => x)
    FROM agents CROSS JOIN generate_series(0, 1) AS x""",
    """INSERT INTO agent_changes (id, subject, actor, action, before, after, reason,
        created_at)
    SELECT md5('wc' || id)::uuid, 'withdrawal:' || id, 'admin:bench',
        CASE WHEN status = 'rejected' THEN 'reject_withdrawal' ELSE 'approve_withdrawal' END,
        '{{"status": "pending_review"}}', jsonb_build_object('status', status), 'bench review',
        reviewed_at
    FROM agent_withdrawals WHERE reviewed_at IS NOT NULL""",
    # merchant API keys (one in 10 revoked), three settings changes each
    """INSERT INTO merchant_api_keys (id, key_id, user_id, name, secret_encrypted, ip_allowlist,
        callback_url, status, created_by, created_reason, last_used_at, revoked_at, revoked_by,
        revoked_reason, created_at)
    SELECT md5('k' || j)::uuid, 'mk_' || substr(md5('kid' || j), 1, 24),
        md5('u' || (j * 7 % {users}))::uuid, 'shop key ' || j, 'not-a-secret',
        '["203.0.113.0/24"]', 'https://merchant' || j || '.example/tronrent/callback',
        CASE WHEN j % 10 = 9 THEN 'revoked' ELSE 'active' END, 'admin:bench', 'bench merchant',
        now() - make_interval(mins => j), CASE WHEN j % 10 = 9 THEN now() END,
        CASE WHEN j % 10 = 9 THEN 'admin:bench' END,
        CASE WHEN j % 10 = 9 THEN 'bench: rotated' END,
        now() - make_interval(secs => j * {key_step})
    FROM generate_series(0, {keys} - 1) AS j""",
    """INSERT INTO merchant_key_changes (api_key_id, actor, reason, before, after, created_at)
    SELECT id, 'admin:bench', 'bench: new callback URL',
        '{{"callbackUrl": "https://old.example/cb"}}',
        jsonb_build_object('callbackUrl', callback_url), created_at + make_interval(days => x)
    FROM merchant_api_keys CROSS JOIN generate_series(1, 3) AS x""",
    # callbacks: a paid and a completed event of every other order, oldest first (ids in time
    # order); the newest 50 pending, one in 200 failed after 8 attempts, one in 10 delivered
    # at the second attempt
    """INSERT INTO merchant_callbacks (event_id, event_type, order_id, api_key_id, url, payload,
        status, attempts, next_attempt_at, last_error, delivered_at, created_at)
    SELECT 'evt_' || k, ev, oid, md5('k' || (k / 2 % {keys}))::uuid,
        'https://merchant' || (k / 2 % {keys}) || '.example/tronrent/callback',
        jsonb_build_object('event', ev, 'orderId', oid, 'status', 'completed',
            'amountSun', (2 + k % 20) * {trx}, 'energy', 65000),
        st, CASE WHEN st = 'failed' THEN 8 WHEN st = 'pending' THEN 0
                 WHEN k % 10 = 3 THEN 2 ELSE 1 END,
        at, CASE WHEN st = 'failed' THEN 'HTTP 500 from the receiver' END,
        CASE WHEN st = 'delivered' THEN at + interval '1 second' END, at
    FROM (
        SELECT k, CASE WHEN k % 2 = 0 THEN 'order.completed' ELSE 'order.paid' END AS ev,
            'C_' || lpad(({live} + 1 + k / 2 * 2)::text, 9, '0') AS oid,
            now() - make_interval(secs => ({live} + 1 + k / 2 * 2) * {step})
                + make_interval(secs => (1 - k % 2) * 60) AS at,
            CASE WHEN k <= 50 THEN 'pending' WHEN k % 200 = 17 THEN 'failed'
                 ELSE 'delivered' END AS st
        FROM generate_series({callbacks}, 1, -1) AS k
    ) AS c""",
    """INSERT INTO merchant_callback_attempts (callback_id, attempted_at, status_code, error,
        duration_ms)
    SELECT c.id, c.created_at + make_interval(secs => (a - 1) * 60),
        CASE WHEN a = c.attempts AND c.status = 'delivered' THEN 200 ELSE 500 END,
        CASE WHEN a = c.attempts AND c.status = 'delivered' THEN NULL
             ELSE 'HTTP 500 from the receiver' END,
        40 + a * 7
    FROM merchant_callbacks AS c CROSS JOIN LATERAL generate_series(1, c.attempts) AS a""",
    # dead-lettered jobs (the newest twentieth still open) and operator alerts, oldest first
    """INSERT INTO job_failures (job_name, args, error, attempts, failed_at, resolved_at,
        resolution)
    SELECT (ARRAY['flash.deliver', 'agent.pay_withdrawal', 'merchant.deliver_callback',
            'count.apply_pending', 'pool.sync'])[1 + k % 5],
        jsonb_build_object('order_id', 'C_' || lpad(k::text, 9, '0')),
        'TimeoutError: the node did not answer in 10 s', 5,
        now() - make_interval(secs => k * {failure_step}),
        CASE WHEN k > {failures} / 20 THEN now() - make_interval(secs => k * {failure_step})
             + interval '10 minutes' END,
        CASE WHEN k > {failures} / 20 THEN 'retried' END
    FROM generate_series({failures}, 1, -1) AS k""",
    """INSERT INTO notification_outbox (event_type, payload, dedupe_key, status, attempts,
        next_attempt_at, sent_at, created_at)
    SELECT (ARRAY['job_dead_lettered', 'delegation_failing', 'order_in_limbo'])[1 + k % 3],
        jsonb_build_object('order_id', 'C_' || lpad(k::text, 9, '0'), 'error',
            'TimeoutError: the node did not answer in 10 s'),
        'bench_alert:' || k, 'sent', 1, at, at + interval '2 seconds', at
    FROM (SELECT k, now() - make_interval(secs => k * {alert_step}) AS at
          FROM generate_series({alerts}, 1, -1) AS k) AS a""",
    # the customers' notifications share the table (one per order of a customer)
    """INSERT INTO notification_outbox (event_type, user_id, chat_id, order_id, payload,
        dedupe_key, status, attempts, next_attempt_at, sent_at, created_at)
    SELECT 'energy_delivered', user_id, 1000000, id, jsonb_build_object('order_id', id),
        'delivered:' || id, 'sent', 1, created_at, created_at, created_at
    FROM orders WHERE user_id IS NOT NULL""",
    # price rules on the packages, their history and the flash config's; package changes
    """INSERT INTO price_configs (id, config_name, package_id, base_price_units, markup_bps,
        currency, is_active, priority, created_at, updated_at)
    SELECT md5('pc' || j)::uuid, 'bench rule ' || j,
        (SELECT id FROM energy_packages ORDER BY sort_order, name, id
         OFFSET j % (SELECT count(*) FROM energy_packages) LIMIT 1),
        (2 + j) * {trx}, 100 * j, CASE WHEN j % 4 = 3 THEN 'USDT' ELSE 'TRX' END, j % 5 <> 4,
        j, now() - interval '300 days', now()
    FROM generate_series(0, 19) AS j""",
    """INSERT INTO price_history (id, config_id, change_type, old_value, new_value,
        change_reason, created_at)
    SELECT md5('ph' || k)::uuid,
        CASE WHEN k % 21 = 20 THEN (SELECT id FROM price_configs WHERE mode_type IS NOT NULL
                                    ORDER BY id LIMIT 1)
             ELSE md5('pc' || (k % 21))::uuid END,
        'update', jsonb_build_object('basePriceUnits', (2 + k % 20) * {trx}),
        jsonb_build_object('basePriceUnits', (3 + k % 20) * {trx}), 'bench: repricing',
        now() - make_interval(secs => k * {price_step})
    FROM generate_series(1, {price_changes}) AS k""",
    """INSERT INTO catalog_changes (id, entity_type, entity_id, actor, action, before, after,
        reason, created_at)
    SELECT md5('cc' || p.id || x)::uuid, 'package', p.id, 'admin:bench', 'update',
        jsonb_build_object('sortOrder', x), jsonb_build_object('sortOrder', x + 1),
        'bench: reordered', now() - make_interval(secs => x * {catalog_step})
    FROM energy_packages AS p CROSS JOIN generate_series(1, {catalog_changes_each}) AS x""",
    # a count package for every delivered transfer package, 4 uses each, one in 10 adjusted
    """INSERT INTO count_packages (order_id, address, total_counts, used_counts,
        energy_per_count, new_holder_counts, last_use_at, created_at, updated_at)
    SELECT id, target_address, 100,
        CASE WHEN status = 'completed' THEN 100 ELSE abs(hashtext(id)) % 100 END, 65000, 1,
        paid_at + interval '1 hour', paid_at, paid_at
    FROM orders WHERE order_type = 'transaction_package' AND status IN ('active', 'completed')""",
    """INSERT INTO count_package_uses (order_id, tx_hash, block_number, to_address, succeeded,
        energy_used, energy_total, counts, status, top_up_tx_hash, created_at, updated_at)
    SELECT order_id, md5('cu' || u || order_id) || md5('cv' || u || order_id),
        (extract(epoch FROM created_at) / 3)::bigint + u * 100, 'T' || md5('ct' || order_id),
        true, 64285, 65000, 1, 'topped_up',
        md5('ce' || u || order_id) || md5('cf' || u || order_id),
        created_at + make_interval(mins => u * 5), created_at + make_interval(mins => u * 5)
    FROM count_packages CROSS JOIN generate_series(1, 4) AS u""",
    """INSERT INTO count_package_changes (order_id, actor, total_before, total_after, reason,
        created_at, kind, counts)
    SELECT order_id, 'admin:bench', 100, 110, 'bench: goodwill', created_at + interval '1 hour',
        'adjust', 10
    FROM count_packages WHERE abs(hashtext(order_id)) % 10 = 0""",
    # pools' changes, bots (inactive: nothing connects to Telegram) and their changes, a
    # config's history
    """INSERT INTO pool_changes (id, pool_id, actor, action, before, after, reason, created_at)
    SELECT md5('pl' || k)::uuid, md5('p' || (k % 20))::uuid, 'admin:bench', 'edit',
        jsonb_build_object('priority', k % 3), jsonb_build_object('priority', (k + 1) % 3),
        'bench: rebalanced', now() - make_interval(secs => k * {pool_step})
    FROM generate_series(1, {pool_changes}) AS k""",
    """INSERT INTO bots (id, name, token_encrypted, token_hash, username, status, created_at,
        updated_at)
    SELECT md5('b' || j)::uuid, 'bench bot ' || j, 'not-a-token', md5('bt' || j),
        'bench_bot_' || j, 'inactive', now() - make_interval(days => j * 10), now()
    FROM generate_series(0, 19) AS j""",
    """INSERT INTO bot_changes (id, bot_id, username, actor, action, before, after, reason,
        created_at)
    SELECT md5('bc' || j || '/' || x)::uuid, md5('b' || j)::uuid, 'bench_bot_' || j, 'admin:bench',
        CASE WHEN x = 0 THEN 'add' ELSE 'edit' END, '{{}}', jsonb_build_object('rateLimit', x),
        'bench: tuning', now() - make_interval(days => j * 10) + make_interval(hours => x)
    FROM generate_series(0, 19) AS j CROSS JOIN generate_series(0, 49) AS x""",
    """INSERT INTO system_configs (id, config_key, config_value, config_type, category,
        is_public)
    VALUES (md5('sc-site')::uuid, 'site.name', 'TronRent', 'string', 'site', true)""",
    """INSERT INTO system_config_history (id, config_id, old_value, new_value, change_reason,
        created_at)
    SELECT md5('sh' || k)::uuid, md5('sc-site')::uuid, 'TronRent ' || k, 'TronRent ' || (k + 1),
        'bench: renamed', now() - make_interval(days => k)
    FROM generate_series(1, 200) AS k""",
    # repeat payers (valid addresses, searchable)
    """UPDATE payments SET from_address = (ARRAY[{payers}])[1 + id / 1000 % 100]
    WHERE id % 1000 = 0""",
    # payments nobody ordered: dust, underpaid, excess, ignored (the problem list)
    """INSERT INTO payments (tx_hash, event_index, asset, from_address, to_address,
        amount_units, block_number, status, note, handled_at, created_at, updated_at)
    SELECT md5('x' || k) || md5('y' || k), 0, CASE WHEN k % 10 = 3 THEN 'USDT' ELSE 'TRX' END,
        'T' || md5('xf' || k), '{pay}', CASE WHEN k % 4 = 0 THEN 1000 ELSE k % 50 * {trx} + 1 END,
        (extract(epoch FROM at) / 3)::bigint,
        (ARRAY['dust', 'underpaid', 'excess', 'ignored'])[1 + k % 4], 'bench: no order', at, at,
        at
    FROM (SELECT k, now() - make_interval(secs => k * {problem_step}) AS at
          FROM generate_series({problems}, 1, -1) AS k) AS p""",
]
_TABLES: Final = (
    "users",
    "energy_pools",
    "orders",
    "payments",
    "chain_transactions",
    "energy_delegations",
    "user_status_changes",
    "balance_ledger",
    "agents",
    "agent_applications",
    "agent_earnings",
    "agent_withdrawals",
    "agent_changes",
    "merchant_api_keys",
    "merchant_key_changes",
    "merchant_callbacks",
    "merchant_callback_attempts",
    "job_failures",
    "notification_outbox",
    "price_configs",
    "price_history",
    "catalog_changes",
    "count_packages",
    "count_package_uses",
    "count_package_changes",
    "pool_changes",
    "bots",
    "bot_changes",
    "system_configs",
    "system_config_history",
)


def _sizes(n: int, days: int) -> dict[str, Any]:
    """How many rows of each list for ``n`` orders over ``days`` days (at 1,000,000 orders:
    100,000 users, 1,000,000 ledger entries, 1,000 agents, 5,000 applications, 10,000
    withdrawals, 1,000 merchant keys, 500,000 callbacks, 5,000 job failures and operator
    alerts, 10,000 problem payments) and the seconds between two rows of each."""
    span = days * 86_400
    sizes: dict[str, Any] = {
        "n": n,
        "live": LIVE,
        "pay": PAY,
        "trx": TRX,
        "payers": ", ".join(f"'{a}'" for a in PAYERS),
        "step": span / n,
        "users": max(1_000, n // 10),
        "status_changes": max(10, n // 1_000),
        "ledger": n,
        "agents": max(20, n // 1_000),
        "applications": max(100, n // 200),
        "withdrawals": max(100, n // 100),
        "keys": max(20, n // 1_000),
        "callbacks": n // 2,
        "failures": max(100, n // 200),
        "alerts": max(100, n // 200),
        "price_changes": max(100, n // 200),
        "catalog_changes_each": max(10, n // 3_000),
        "pool_changes": max(40, n // 500),
        "problems": max(100, n // 100),
    }
    for name, count in (
        ("user", "users"),
        ("ledger", "ledger"),
        ("agent", "agents"),
        ("app", "applications"),
        ("withdrawal", "withdrawals"),
        ("key", "keys"),
        ("failure", "failures"),
        ("alert", "alerts"),
        ("price", "price_changes"),
        ("catalog", "catalog_changes_each"),
        ("pool", "pool_changes"),
        ("problem", "problems"),
    ):
        sizes[f"{name}_step"] = span / int(sizes[count])
    return sizes


_PLAIN_INDEXES: Final = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.tablename = ANY($1::text[]) AND i.schemaname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = to_regclass(i.indexname))
"""


def _dsn(url: str, database: str) -> str:
    base = make_url(normalize_database_url(url)).set(drivername="postgresql", database=database)
    return base.render_as_string(hide_password=False)


def _db_url(url: str, database: str) -> str:
    base = make_url(normalize_database_url(url)).set(database=database)
    return base.render_as_string(hide_password=False)


async def _filled(url: str, db: str) -> int | None:
    """The orders of ``db`` (None: no such database, or not filled)."""
    admin = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db):
            return None
    finally:
        await admin.close()
    conn = await asyncpg.connect(_dsn(url, db))
    try:
        if not await conn.fetchval("SELECT to_regclass('orders') IS NOT NULL"):
            return None
        count: int = await conn.fetchval("SELECT count(*) FROM orders")
        return count or None
    finally:
        await conn.close()


async def _load(url: str, db: str, n: int, days: int) -> float:
    """Create ``db`` afresh, migrate and fill it; the seconds it took."""
    started = time.monotonic()
    admin = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{db}"')
    finally:
        await admin.close()
    await upgrade_async(_db_url(url, db))
    conn = await asyncpg.connect(_dsn(url, db))
    try:
        await conn.execute("SET session_replication_role = replica")  # no FK triggers
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        indexes = await conn.fetch(_PLAIN_INDEXES, list(_TABLES))
        for row in indexes:
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
        sizes = _sizes(n, days)
        for sql in (*_LOAD, *_MORE):
            await conn.execute(sql.format(**sizes))
        for row in indexes:
            await conn.execute(row["indexdef"])
        for table in _TABLES:
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
    return time.monotonic() - started


#: placeholders that name one row: the first pool, an active agent with a parent, the newest
#: active count package, the first price rule, package and bot
_ONE_ROW: Final = {
    "pool_id": "SELECT id FROM energy_pools ORDER BY name LIMIT 1",
    "agent_id": "SELECT id FROM agents WHERE parent_agent_id IS NOT NULL AND status = 'active' "
    "ORDER BY agent_code LIMIT 1",
    "count_order": "SELECT p.order_id FROM count_packages p JOIN orders o ON o.id = p.order_id "
    "WHERE o.status = 'active' ORDER BY p.created_at DESC LIMIT 1",
    "rule_id": "SELECT id FROM price_configs WHERE mode_type IS NULL ORDER BY config_name LIMIT 1",
    "package_id": "SELECT id FROM energy_packages ORDER BY sort_order, name LIMIT 1",
    "bot_id": "SELECT id FROM bots ORDER BY name LIMIT 1",
}
#: a row in the middle of a list read newest first: (created_at, id)
_MIDDLE: Final = (
    "SELECT {at}, {id} FROM {table} {where} ORDER BY {at} DESC, {id} DESC OFFSET $1 LIMIT 1"
)


async def _middle(
    conn: asyncpg.Connection, table: str, *, at: str = "created_at", where: str = ""
) -> asyncpg.Record:
    total = await conn.fetchval(f"SELECT count(*) FROM {table} {where}")
    sql = _MIDDLE.format(
        at=at, id="id" if table != "count_packages" else "order_id", table=table, where=where
    )
    row = await conn.fetchrow(sql, total // 2)
    assert row is not None, table
    return row


def _keyset(row: asyncpg.Record) -> str:
    """The ``?cursor=`` of a (created_at, id) list after ``row``."""
    created_at, key = row[0], row[1]
    return encode_cursor(Position(created_at, key if isinstance(key, int) else str(key)))


async def _samples(url: str, db: str) -> dict[str, str]:
    """Values for the paths' placeholders: rows in the middle of each history (an order, a
    payment, a ledger entry...), the busiest user, an agent with a parent."""
    conn = await asyncpg.connect(_dsn(url, db))
    try:
        total = await conn.fetchval("SELECT count(*) FROM orders")
        o = await conn.fetchrow(
            "SELECT id, created_at, target_address, from_address, tron_tx_hash FROM orders "
            "WHERE paid_at IS NOT NULL ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
            total // 2,
        )
        payment = await conn.fetchrow(
            "SELECT created_at, id FROM payments WHERE order_id = $1", o["id"]
        )
        whale = await conn.fetchrow(
            "SELECT user_id, count(*) AS n FROM balance_ledger GROUP BY user_id "
            "ORDER BY n DESC, user_id LIMIT 1"
        )
        typical = await conn.fetchval(
            "SELECT user_id FROM balance_ledger WHERE id = (SELECT max(id) / 2 FROM balance_ledger)"
        )
        ledger_cursor = await conn.fetchval(
            "SELECT id FROM balance_ledger WHERE user_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1",
            whale["user_id"],
            whale["n"] // 2,
        )
        users = await conn.fetchval("SELECT count(*) FROM users")
        user = await conn.fetchrow(
            "SELECT username, telegram_id FROM users WHERE username = $1", f"user{users // 2}"
        )
        key = await conn.fetchrow(
            "SELECT key_id, user_id FROM merchant_api_keys ORDER BY created_at DESC LIMIT 1"
        )
        callback = await _middle(conn, "merchant_callbacks")
        callback_order = await conn.fetchval(
            "SELECT order_id FROM merchant_callbacks WHERE id = $1", callback["id"]
        )
        withdrawal = await _middle(conn, "agent_withdrawals")
        samples = {name: str(await conn.fetchval(sql)) for name, sql in _ONE_ROW.items()} | {
            "order_id": o["id"],
            "address": o["target_address"],
            "payer": PAYERS[1],
            "tx_hash": o["tron_tx_hash"],
            "pay": PAY,
            "cursor": encode_cursor(Position(o["created_at"], o["id"])),
            "day": o["created_at"].date().isoformat(),
            "payment_id": str(payment["id"]),
            "payment_cursor": _keyset(payment),
            "user_id": str(whale["user_id"]),
            "typical_user": str(typical),
            "ledger_cursor": str(ledger_cursor),
            "user_cursor": _keyset(await _middle(conn, "users")),
            "username": user["username"],
            "telegram_id": str(user["telegram_id"]),
            "agent_cursor": _keyset(await _middle(conn, "agents")),
            "application_cursor": _keyset(await _middle(conn, "agent_applications")),
            "earning_cursor": _keyset(await _middle(conn, "agent_earnings")),
            "withdrawal_cursor": str(withdrawal["id"]),
            "key_id": key["key_id"],
            "key_user": str(key["user_id"]),
            "key_cursor": _keyset(await _middle(conn, "merchant_api_keys")),
            "callback_cursor": str(callback["id"]),
            "callback_order": callback_order,
            "count_cursor": _keyset(
                await _middle(conn, "count_packages", where="WHERE used_counts < total_counts")
            ),
            "failure_cursor": _keyset(await _middle(conn, "job_failures", at="failed_at")),
            "alert_cursor": _keyset(
                await _middle(
                    conn, "notification_outbox", where="WHERE user_id IS NULL AND chat_id IS NULL"
                )
            ),
        }
    finally:
        await conn.close()
    return samples


Timing = tuple[str, float, float]  # page, p50, p95 (ms)


def _percentile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[rank - 1]


async def _time_pages(url: str, db: str, repeat: int, warmup: int, only: str = "") -> list[Timing]:
    samples = await _samples(url, db)
    use_parameters(argon2.profiles.CHEAPEST)
    settings = Settings(
        _env_file=None,
        database_url=_db_url(url, db),
        data_dir=Path(tempfile.mkdtemp(prefix="console_bench_")),
        secret_keys=[SecretStr(generate_key())],
        jwt_secret=SecretStr("b" * 40),
        rate_limit_per_minute=0,
        redis_url=None,
    )
    app = create_app(settings, routers=CONSOLE_ROUTERS)
    timings: list[Timing] = []
    async with app.router.lifespan_context(app):
        username = f"bench_{uuid.uuid4().hex[:8]}"
        async with app.state.tronrent.session_maker() as session, session.begin():
            await admin_service.create(session, username=username, password=PASSWORD, role="admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            form = await http.get("/admin/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            signed = await http.post(
                "/admin/login",
                data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
            )
            assert signed.status_code == 303, signed.text
            for name, template in PAGES:
                if only not in name:
                    continue
                path = template.format(**samples)
                first = await http.get(path)
                if first.status_code != 200:
                    why = (
                        "missing (404: not on this branch)"
                        if first.status_code == 404
                        else (f"HTTP {first.status_code}: {path}")
                    )
                    print(f"  {name:<36} {why}", flush=True)
                    continue
                for _ in range(max(0, warmup - 1)):
                    await http.get(path)
                took = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    answer = await http.get(path)
                    took.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, (path, answer.status_code)
                p50, p95 = _percentile(took, 50), _percentile(took, 95)
                flag = "" if p95 < 300 else "  <-- over 300 ms"
                print(f"  {name:<36} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms{flag}", flush=True)
                timings.append((name, p50, p95))
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=PG_DEFAULT)
    parser.add_argument("--db", default="tronrent_console_bench")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reuse", action="store_true", help="time the filled --db as it is")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", default="", help="time only the pages whose name has this")
    args = parser.parse_args()
    quiet_logs()
    have = await _filled(args.database_url, args.db) if args.reuse else None
    if have is None:
        took = await _load(args.database_url, args.db, args.orders, args.days)
        print(f"filled {args.db} with {args.orders:,} orders in {took:.0f} s", flush=True)
    else:
        await upgrade_async(_db_url(args.database_url, args.db))  # indexes added since
        print(f"reusing {args.db}: {have:,} orders", flush=True)
    print(f"console pages, {args.repeat} renders each after {args.warmup} ({load_average()}):")
    timings = await _time_pages(args.database_url, args.db, args.repeat, args.warmup, args.only)
    worst = max(timings, key=lambda t: t[2])
    over = [t[0] for t in timings if t[2] >= 300]
    print(load_average())
    print(
        f"RESULT {len(timings)} pages, worst p95 {worst[2]:.0f} ms ({worst[0]}); "
        f"over 300 ms: {', '.join(over) if over else 'none'}"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
