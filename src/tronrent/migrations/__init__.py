"""Alembic migrations, shipped inside the package so ``tronrent migrate`` works when installed.

The Alembic configuration is built in code (``tronrent.storage.migrations.alembic_config``);
there is no alembic.ini. To write a new revision against a scratch database::

    python -m tronrent.storage.migrations revision -m "what changed" --autogenerate
"""
