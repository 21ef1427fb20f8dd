"""An SMS centre for the tests: SMPP 3.4 over TCP, parsed and answered byte by byte (not with smpplib, so
the provider's use of smpplib is checked against the spec, not against itself).

It takes ``bind_transmitter`` (checking the password), ``submit_sm`` (answering a message id, decoding
UCS-2 or plain text and joining UDH or SAR parts into whole messages), ``enquire_link`` and ``unbind``;
anything else gets a ``generic_nack``. ``refuse_submit`` makes it answer submits with an error status,
``drop_connections()`` cuts every session as a restarting centre would.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

BIND_TRANSMITTER, SUBMIT_SM, UNBIND, ENQUIRE_LINK, GENERIC_NACK = 0x02, 0x04, 0x06, 0x15, 0x80000000
RESPONSE = 0x80000000
ESME_RINVPASWD, ESME_RINVCMDID = 0x0E, 0x03
# Optional parameters (TLVs) of submit_sm that concatenate: SAR reference, total, this part's number.
SAR_MSG_REF_NUM, SAR_TOTAL_SEGMENTS, SAR_SEGMENT_SEQNUM = 0x020C, 0x020E, 0x020F
UDHI = 0x40


@dataclass
class Submitted:
    """One whole message as the centre put it together: who bound, to whom, the text, its parts."""

    system_id: str
    destination: str
    dest_ton: int
    text: str
    data_coding: int
    parts: int
    message_ids: list[str] = field(default_factory=list)


def _cstring(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\0", at)
    return body[at:end].decode("ascii"), end + 1


def _pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">LLLL", 16 + len(body), command_id, status, sequence) + body


class SmppEmulator:
    """``with SmppEmulator(system_id, password) as centre:`` listens on ``centre.port``."""

    def __init__(self, system_id: str = "bridge", password: str = "secret") -> None:
        self.system_id, self.password = system_id, password
        self.messages: list[Submitted] = []
        self.commands: list[str] = []  # every request's name, in order: bind_transmitter, submit_sm, ...
        self.binds = 0
        self.refuse_submit = 0  # an error status to answer submit_sm with; 0 accepts
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sessions: list[socket.socket] = []
        self._next_id = 0
        # Parts of long messages so far, by (destination, reference): {part number: (bytes, message id)}.
        self._partial: dict[tuple[str, int], dict[int, tuple[bytes, str]]] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> SmppEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.close()
        self.drop_connections()

    def drop_connections(self) -> None:
        """Close every session, as a centre restarting would."""
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _accept(self) -> None:
        while True:
            try:
                session, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._sessions.append(session)
            threading.Thread(target=self._serve, args=(session,), daemon=True).start()

    def _serve(self, session: socket.socket) -> None:
        bound_as = None
        try:
            while True:
                header = self._read(session, 16)
                length, command_id, _status, sequence = struct.unpack(">LLLL", header)
                body = self._read(session, length - 16)
                if command_id == BIND_TRANSMITTER:
                    self.commands.append("bind_transmitter")
                    system_id, at = _cstring(body, 0)
                    password, _ = _cstring(body, at)
                    ok = system_id == self.system_id and password == self.password
                    bound_as = system_id if ok else None
                    self.binds += ok
                    answer = _pdu(RESPONSE | BIND_TRANSMITTER, 0 if ok else ESME_RINVPASWD, sequence, b"SMSC\0")
                elif command_id == SUBMIT_SM and bound_as is not None:
                    self.commands.append("submit_sm")
                    answer = self._submit(bound_as, body, sequence)
                elif command_id == ENQUIRE_LINK:
                    self.commands.append("enquire_link")
                    answer = _pdu(RESPONSE | ENQUIRE_LINK, 0, sequence)
                elif command_id == UNBIND:
                    self.commands.append("unbind")
                    session.sendall(_pdu(RESPONSE | UNBIND, 0, sequence))
                    return
                else:
                    answer = _pdu(GENERIC_NACK, ESME_RINVCMDID, sequence)
                session.sendall(answer)
        except (OSError, ConnectionError):
            return
        finally:
            session.close()

    @staticmethod
    def _read(session: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = session.recv(size - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _submit(self, system_id: str, body: bytes, sequence: int) -> bytes:
        """Parse a submit_sm (SMPP 3.4 §4.4.1), keep its part, answer it."""
        _service_type, at = _cstring(body, 0)
        at += 2  # source_addr_ton, source_addr_npi
        _source, at = _cstring(body, at)
        dest_ton = body[at]
        at += 2  # dest_addr_ton, dest_addr_npi
        destination, at = _cstring(body, at)
        esm_class = body[at]
        at += 3  # esm_class, protocol_id, priority_flag
        _schedule, at = _cstring(body, at)
        _validity, at = _cstring(body, at)
        at += 2  # registered_delivery, replace_if_present_flag
        data_coding = body[at]
        sm_length = body[at + 2]  # after sm_default_msg_id
        short_message = body[at + 3 : at + 3 + sm_length]
        tlvs = self._tlvs(body[at + 3 + sm_length :])
        if self.refuse_submit:
            return _pdu(RESPONSE | SUBMIT_SM, self.refuse_submit, sequence, b"\0")
        self._next_id += 1
        message_id = "m%d" % self._next_id
        if esm_class & UDHI:
            udh = short_message[: short_message[0] + 1]
            short_message = short_message[len(udh) :]
            reference, total, number = self._udh_concatenation(udh)
        elif SAR_MSG_REF_NUM in tlvs:
            reference = int.from_bytes(tlvs[SAR_MSG_REF_NUM], "big")
            total, number = tlvs[SAR_TOTAL_SEGMENTS][0], tlvs[SAR_SEGMENT_SEQNUM][0]
        else:
            reference, total, number = -1, 1, 1
        parts = self._partial.setdefault((destination, reference), {})
        parts[number] = (short_message, message_id)
        if len(parts) == total:
            del self._partial[destination, reference]
            whole = b"".join(parts[n][0] for n in sorted(parts))
            text = whole.decode("utf-16-be") if data_coding == 8 else whole.decode("latin-1")
            message_ids = [parts[n][1] for n in sorted(parts)]
            self.messages.append(Submitted(system_id, destination, dest_ton, text, data_coding, total, message_ids))
        return _pdu(RESPONSE | SUBMIT_SM, 0, sequence, message_id.encode() + b"\0")

    @staticmethod
    def _tlvs(data: bytes) -> dict[int, bytes]:
        found, at = {}, 0
        while at + 4 <= len(data):
            tag, length = struct.unpack(">HH", data[at : at + 4])
            found[tag] = data[at + 4 : at + 4 + length]
            at += 4 + length
        return found

    @staticmethod
    def _udh_concatenation(udh: bytes) -> tuple[int, int, int]:
        """(reference, total, this part) from a user data header's concatenation element (8- or 16-bit)."""
        at = 1
        while at < len(udh):
            element, length = udh[at], udh[at + 1]
            value = udh[at + 2 : at + 2 + length]
            if element == 0x00:
                return value[0], value[1], value[2]
            if element == 0x08:
                return int.from_bytes(value[:2], "big"), value[2], value[3]
            at += 2 + length
        raise ValueError("UDH without a concatenation element: %r" % udh)
