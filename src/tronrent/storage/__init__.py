"""Storage lifecycle: schema migrations (``tronrent.storage.migrations``)."""
