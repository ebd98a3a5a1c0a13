"""HTTP API: app factory, envelope, exception handlers, middleware, health, metrics."""

from tronrent.api.app import create_app

__all__ = ["create_app"]
