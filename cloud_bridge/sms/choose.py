"""The SMS provider a settings string names (docs/alarms.md, "Providers"):

- ``gsm:/dev/ttyUSB0[?baud=115200]``: a GSM modem on a serial port;
- ``smpp://SYSTEM_ID:PASSWORD@HOST[:2775][?source=SENDER]``: an SMPP 3.4 SMS centre;
- ``https://...`` or ``http://...``: a webhook, signed with the shared secret given alongside.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from cloud_bridge.sms.provider import SmsProvider
from cloud_bridge.sms.smpp import SMPP_PORT, SmppProvider
from cloud_bridge.sms.webhook import WebhookProvider


def provider_from_url(url: str, webhook_secret: bytes = b"") -> SmsProvider:
    """The provider ``url`` names; ``ValueError`` if it names none."""
    parts = urlsplit(url)
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    if parts.scheme == "gsm":
        from cloud_bridge.sms.gsm_modem import GsmModemProvider  # pyserial and the PDU encoder, only when used

        if not parts.path:
            raise ValueError("gsm: needs the serial port, e.g. gsm:/dev/ttyUSB0")
        if "baud" in query:
            return GsmModemProvider(parts.path, baudrate=int(query["baud"]))
        return GsmModemProvider(parts.path)
    if parts.scheme == "smpp":
        if not parts.hostname or parts.username is None:
            raise ValueError("smpp: needs smpp://SYSTEM_ID:PASSWORD@HOST[:PORT]")
        return SmppProvider(
            parts.hostname,
            parts.port or SMPP_PORT,
            unquote(parts.username),
            unquote(parts.password or ""),
            source=query.get("source", ""),
        )
    if parts.scheme in ("http", "https"):
        return WebhookProvider(url, webhook_secret)
    raise ValueError("an SMS provider is gsm:PORT, smpp://... or an http(s) URL, not %r" % url)
