"""Composition roots: build clients from settings and wire the processes (API, later workers,
scanner, bot). The only place (with tests) allowed to import ``trondevnet``."""
