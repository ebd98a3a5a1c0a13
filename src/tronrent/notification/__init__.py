"""Notifications: the outbox the workers write, and the sender that delivers it to Telegram."""
