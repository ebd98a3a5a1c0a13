"""Admin accounts (roles admin/operator), argon2 password hashes, short-lived JWT bearer tokens."""
