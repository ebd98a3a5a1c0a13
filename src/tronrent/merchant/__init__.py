"""Merchant API: customers' API keys, HMAC-signed requests, /api/v1 routes and callbacks."""
