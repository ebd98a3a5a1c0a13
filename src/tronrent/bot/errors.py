"""Bot domain errors."""

from __future__ import annotations

from tronrent.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed


class BotNotFound(NotFound):
    default_code = "BOT_NOT_FOUND"


class BotAlreadyExists(Conflict):
    default_code = "BOT_ALREADY_EXISTS"


class InvalidBotToken(ValidationFailed):
    default_code = "INVALID_BOT_TOKEN"


class BotInUse(Conflict):
    default_code = "BOT_IN_USE"


class NotAnActiveAgent(Forbidden):
    """Only an active agent may own a bot."""

    default_code = "AGENT_NOT_ACTIVE"


class NotAnAgentBot(Conflict):
    """The bot is the operator's, or it is another agent's."""

    default_code = "NOT_AN_AGENT_BOT"


class AgentBotNotApproved(Conflict):
    """An agent's bot runs only once an operator approved it."""

    default_code = "AGENT_BOT_NOT_APPROVED"


class AgentBotApproved(Conflict):
    default_code = "AGENT_BOT_APPROVED"


class MarkupOutOfBounds(ValidationFailed):
    default_code = "MARKUP_OUT_OF_BOUNDS"


class TooManyAgentBots(Conflict):
    default_code = "TOO_MANY_AGENT_BOTS"
