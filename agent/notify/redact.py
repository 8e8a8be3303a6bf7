"""Keep bot tokens out of every log line.

The Bot API puts the token in the URL path (`/bot<token>/sendMessage`), and the libraries log
that URL: httpx at INFO for every request, python-telegram-bot at DEBUG ("Set Bot API URL") and
inside exception texts (`InvalidToken` quotes the rejected token). Secrets are write-only in
mmbot, so the notifier quietens httpx/httpcore and puts a redacting filter on every logger of
those libraries, including exception tracebacks.
"""

from __future__ import annotations

import logging

REDACTED = "<redacted>"
# Loggers (and their children) that may see a token: the libraries, and our own notifier,
# which logs exceptions raised by them.
GUARDED_LOGGERS = ("telegram", "httpx", "httpcore", "agent.notify")
_QUIET = ("httpx", "httpcore")  # one INFO line with the full URL per request


class SecretRedactor(logging.Filter):
    """Rewrites a record's message (and exception text) when it contains a known secret."""

    def __init__(self) -> None:
        super().__init__("mmbot-secrets")
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_text is None:
            text = logging.Formatter().formatException(record.exc_info)
            clean = self.redact(text)
            if clean != text:
                record.exc_text = clean  # Formatter.format uses a pre-set exc_text as is
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = SecretRedactor()


def protect(secret: str) -> None:
    """Register `secret` and make sure every library logger that could print it redacts it.

    Call before creating python-telegram-bot objects (Bot logs its URL, token included, when
    created); the library's loggers exist once `telegram.ext` is imported. Idempotent."""
    REDACTOR.add(secret)
    names = [
        name
        for name in list(logging.Logger.manager.loggerDict)
        if any(name == g or name.startswith(g + ".") for g in GUARDED_LOGGERS)
    ]
    for name in {*GUARDED_LOGGERS, *names}:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)
    for name in _QUIET:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def redact(text: str) -> str:
    return REDACTOR.redact(text)


def describe(exc: BaseException) -> str:
    """An exception as text fit for a log line or an operator message."""
    return redact(f"{type(exc).__name__}: {exc}")
