"""aiogram Bot factory and the message transport the notification sender uses."""
