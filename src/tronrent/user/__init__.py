"""Users: registration from Telegram, referral binding, bound TRON address."""
