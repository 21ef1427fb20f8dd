"""What the alarm notifier asks of an SMS provider: send a text to a number, get the provider's message id."""

from __future__ import annotations

from typing import Protocol


class ProviderError(Exception):
    """The provider did not take the message (refused, unreachable, timed out); it may be tried again."""


class SmsProvider(Protocol):
    """One way of sending SMS: a GSM modem, an SMPP centre, an HTTP gateway."""

    name: str

    def send(self, number: str, text: str) -> str:
        """Send ``text`` to ``number``; the provider's message id. Raises ``ProviderError``."""
        ...
