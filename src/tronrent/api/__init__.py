"""HTTP API: app factory (`tronrent.api.app.create_app`), envelope, exception handlers,
middleware, health, metrics.

Nothing is imported here: a module that needs only ``tronrent.api.deps`` (a domain's routes)
must not pull in the whole app, whose routers import those very domains.
"""
