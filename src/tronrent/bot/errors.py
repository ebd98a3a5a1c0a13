"""Bot domain errors."""

from __future__ import annotations

from tronrent.kit.errors import Conflict, NotFound, ValidationFailed


class BotNotFound(NotFound):
    default_code = "BOT_NOT_FOUND"


class BotAlreadyExists(Conflict):
    default_code = "BOT_ALREADY_EXISTS"


class InvalidBotToken(ValidationFailed):
    default_code = "INVALID_BOT_TOKEN"


class BotInUse(Conflict):
    default_code = "BOT_IN_USE"
