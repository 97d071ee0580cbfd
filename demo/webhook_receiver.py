"""A webhook receiver on loopback: what a brand's CRM would run, for the demo, the tests and the benchmark.

It checks each delivery's signature (X-Webhook-Signature: t=..,v1=..) against the secrets it is given, keeps
what it got (event ids, types, bodies) and answers as told: 200, an error status, slowly, or not before the
sender gives up. HTTP/1.1 with keep-alive, a thread per connection (the standard library's server).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_ok(header: str, body: bytes, secret: str) -> bool:
    """Whether one of the header's v1 signatures is HMAC-SHA256(secret, "<t>.<body>")."""
    parts = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamp = next((value for name, value in parts if name == "t"), None)
    if stamp is None:
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(name == "v1" and hmac.compare_digest(value, expected) for name, value in parts)


@dataclass
class Received:
    event_id: str
    type: str
    body: dict
    signature: str
    signed: bool  # by one of the receiver's secrets


@dataclass
class WebhookReceiver:
    """`behave(event_id) -> (status, delay seconds)`: how to answer each delivery (default 200 at once)."""

    secrets: list[str] = field(default_factory=list)
    behave: Callable[[str], tuple[int, float]] = lambda event_id: (200, 0.0)
    keep_bodies: bool = True
    port: int = 0  # 0: any free port
    received: list[Received] = field(default_factory=list)
    count: int = 0
    on_event: Callable[[Received], None] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.arrived = threading.Event()  # set at the first delivery
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event_id = self.headers.get("X-Webhook-Id", "")
                receiver._got(event_id, body, self.headers.get("X-Webhook-Signature", ""))
                status, delay = receiver.behave(event_id)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True

    def _got(self, event_id: str, body: bytes, signature: str) -> None:
        with self._lock:
            self.count += 1
            if self.keep_bodies:
                document = json.loads(body)
                signed = any(signature_ok(signature, body, secret) for secret in self.secrets)
                self.received.append(Received(event_id, document["type"], document, signature, signed))
                if self.on_event is not None:
                    self.on_event(self.received[-1])
        self.arrived.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def start(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def event_ids(self) -> list[str]:
        with self._lock:
            return [item.event_id for item in self.received]


def main() -> None:
    """`python -m demo.webhook_receiver PORT [SECRET]`: the demo's CRM on loopback, printing each event it gets
    (signed or not); with --count-only it prints only how many it got when stopped (the benchmark's receiver)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("secret", nargs="?")
    parser.add_argument("--count-only", action="store_true")
    args = parser.parse_args()
    receiver = WebhookReceiver(secrets=[args.secret] if args.secret else [], keep_bodies=not args.count_only,
                               port=args.port)
    if not args.count_only:
        receiver.on_event = lambda item: print(
            f"webhook {item.type} {item.event_id} {'signed' if item.signed else 'NOT SIGNED BY OUR SECRET'}: "
            f"{json.dumps(item.body['data'], ensure_ascii=False)[:200]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (print(f"received {receiver.count}", flush=True), os._exit(0)))
    print(f"webhook receiver on {receiver.url}", flush=True)
    receiver._server.serve_forever()


if __name__ == "__main__":
    main()
