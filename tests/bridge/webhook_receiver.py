"""An SMS gateway's webhook for the tests: an HTTP server on a free port that checks each POST's
signature, records the bodies it accepts, and answers ``{"id": ...}``, or ``fail_with`` when set."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """``with WebhookReceiver(secret) as hook:`` serves ``hook.url``."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.bodies: list[dict] = []  # accepted messages, decoded
        self.forged = 0  # requests whose signature did not verify
        self.fail_with = 0  # a status to answer instead of taking the message; 0 takes it
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Signature", ""), expected):
                    receiver.forged += 1
                    self._answer(401, {"error": "bad signature"})
                elif receiver.fail_with:
                    self._answer(receiver.fail_with, {"error": "down"})
                else:
                    receiver.bodies.append(json.loads(body))
                    self._answer(200, {"id": "w%d" % len(receiver.bodies)})

            def _answer(self, status: int, answer: dict) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass  # quiet tests

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/sms" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
