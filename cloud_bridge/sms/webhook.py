"""An HTTP webhook SMS provider: a JSON POST to the operator's gateway, signed with a shared secret.

Body: ``{"to": NUMBER, "text": TEXT, "alarm_id": ID or null}`` (UTF-8 JSON). Header ``X-Signature:
sha256=<hex>``: HMAC-SHA256 of the exact body under the secret, so the gateway can refuse a forgery.
A 2xx answer is taken; its JSON ``id``, when it has one, is the message id. Anything else (another
status, no answer within the timeout) is a ``ProviderError``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

from cloud_bridge.sms.provider import ProviderError

SIGNATURE_HEADER = "X-Signature"
TIMEOUT_S = 10.0


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookProvider:
    """POSTs each message to ``url``."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes, timeout_s: float = TIMEOUT_S) -> None:
        if not secret:
            raise ValueError("the webhook needs a shared secret")
        self.url, self._secret, self.timeout_s = url, secret, timeout_s

    def send(self, number: str, text: str, alarm_id: int | None = None) -> str:
        """POST the message; the gateway's id for it (``http-<status>`` when its answer names none)."""
        body = json.dumps({"to": number, "text": text, "alarm_id": alarm_id}, ensure_ascii=False).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                SIGNATURE_HEADER: signature(self._secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:  # a non-2xx status
            raise ProviderError("webhook answered %d %s" % (error.code, error.reason)) from None
        except (OSError, ValueError) as error:  # refused, unreachable, timed out, a bad URL
            raise ProviderError("webhook: %s" % error) from None
        if not 200 <= status < 300:
            raise ProviderError("webhook answered %d" % status)
        try:
            message_id = json.loads(answer).get("id")
        except (ValueError, AttributeError):
            message_id = None
        return str(message_id) if message_id is not None else "http-%d" % status
