"""Bots the business runs: token (encrypted) reference, texts, settings, and their users."""
