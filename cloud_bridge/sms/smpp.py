"""An SMPP 3.4 SMS provider (an operator's SMS centre), on smpplib.

The provider binds as a transmitter and keeps the session between messages; a session idle for longer
than ``enquire_after_s`` is checked with ``enquire_link`` first and opened again if it is gone. Each
message goes as UCS-2 (``data_coding`` 8, for Chinese); one longer than a part (70 characters) goes as
several ``submit_sm`` whose short messages start with a concatenation header (UDH, ``esm_class`` 0x40).
The message id is the SMS centre's id of each part, joined by commas. A refused bind or submit, a lost
connection or a timeout is a ``ProviderError``.
"""

from __future__ import annotations

import logging
import time

from smpplib import client, consts, exceptions, gsm, smpp  # type: ignore[import-untyped]

from cloud_bridge.sms.provider import ProviderError

log = logging.getLogger(__name__)

SMPP_PORT = 2775
TIMEOUT_S = 10.0
ENQUIRE_AFTER_S = 30.0


def _text(value: bytes | str | None) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else (value or "")


class SmppProvider:
    """Sends through the SMS centre at ``host:port`` as ``system_id``; ``source`` is the sender shown (the
    centre's default when empty)."""

    name = "smpp"

    def __init__(
        self,
        host: str,
        port: int,
        system_id: str,
        password: str,
        source: str = "",
        timeout_s: float = TIMEOUT_S,
        enquire_after_s: float = ENQUIRE_AFTER_S,
    ) -> None:
        self.host, self.port, self.system_id, self._password, self.source = host, port, system_id, password, source
        self.timeout_s, self.enquire_after_s = timeout_s, enquire_after_s
        self._client: client.Client | None = None
        self._used_at = 0.0

    def send(self, number: str, text: str) -> str:
        """Submit ``text`` to ``number``; the centre's message ids."""
        parts, coding, esm_class = gsm.make_parts(text, encoding=consts.SMPP_ENCODING_ISO10646)
        international = number.startswith("+")
        ids = []
        try:
            session = self._session()
            for part in parts:
                request = session.send_message(
                    source_addr_ton=consts.SMPP_TON_ALNUM if self.source and not self.source.isdigit() else 0,
                    source_addr_npi=0,
                    source_addr=self.source,
                    dest_addr_ton=consts.SMPP_TON_INTL if international else consts.SMPP_TON_UNK,
                    dest_addr_npi=consts.SMPP_NPI_ISDN,
                    destination_addr=number.lstrip("+"),
                    short_message=part,
                    data_coding=coding,
                    esm_class=esm_class,
                    registered_delivery=0,
                )
                answer = self._answer(session, "submit_sm_resp", request.sequence)
                if answer.is_error():
                    raise ProviderError("SMSC refused the message: %s" % _status(answer.status))
                ids.append(_text(answer.message_id))
        except (exceptions.ConnectionError, exceptions.PDUError, OSError) as error:
            self._drop()
            raise ProviderError("SMPP %s:%d: %s" % (self.host, self.port, error or type(error).__name__)) from None
        self._used_at = time.monotonic()
        return ",".join(ids)

    def close(self) -> None:
        """Unbind and disconnect (the next message binds again)."""
        if self._client is None:
            return
        try:
            request = smpp.make_pdu("unbind", client=self._client)
            self._client.send_pdu(request)
            self._answer(self._client, "unbind_resp", request.sequence)
        except (exceptions.ConnectionError, exceptions.PDUError, OSError) as error:
            log.info("SMPP unbind: %s", error)
        self._drop()

    def _session(self) -> client.Client:
        """The bound session, checked if idle for a while, bound anew if there is none."""
        if self._client is not None and time.monotonic() - self._used_at > self.enquire_after_s:
            try:
                request = smpp.make_pdu("enquire_link", client=self._client)
                self._client.send_pdu(request)
                self._answer(self._client, "enquire_link_resp", request.sequence)
            except (exceptions.ConnectionError, exceptions.PDUError, OSError) as error:
                log.info("SMPP session gone (%s); binding again", error or type(error).__name__)
                self._drop()
        if self._client is None:
            session = client.Client(self.host, self.port, timeout=self.timeout_s, allow_unknown_opt_params=True)
            try:
                session.connect()
                session.bind_transmitter(system_id=self.system_id, password=self._password)
            except exceptions.PDUError as error:
                session.disconnect()
                raise ProviderError("SMSC refused the bind: %s" % error) from None
            except BaseException:
                session.disconnect()
                raise
            self._client = session
        return self._client

    def _answer(self, session: client.Client, command: str, sequence: int):
        """The centre's ``command`` answering ``sequence``, answering its own ``enquire_link``s meanwhile."""
        while True:
            try:
                pdu = session.read_pdu()
            except TimeoutError:
                raise exceptions.ConnectionError("no %s in %.0f s" % (command, self.timeout_s)) from None
            if pdu.command == "enquire_link":
                reply = smpp.make_pdu("enquire_link_resp", client=session)
                reply.sequence = pdu.sequence
                session.send_pdu(reply)
            elif pdu.command == "generic_nack":
                raise exceptions.PDUError("generic_nack: %s" % _status(pdu.status))
            elif pdu.command == "unbind":
                raise exceptions.ConnectionError("the SMSC unbound")
            elif pdu.command == command and pdu.sequence == sequence:
                return pdu

    def _drop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client = None


def _status(status: int) -> str:
    return "0x%02x %s" % (status, consts.DESCRIPTIONS.get(status, "unknown status"))
