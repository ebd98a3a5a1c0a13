"""Wiring of the flash rental engine: job queue, workers, scanner and sweeper in one process."""
