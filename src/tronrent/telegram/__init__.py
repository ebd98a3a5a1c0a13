"""The Telegram storefront: aiogram routers, middlewares, keyboards, texts, multi-bot runtime."""
