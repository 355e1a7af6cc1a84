"""A webhook receiver for the tests, verifying every delivery with the `standardwebhooks`
package (the Standard Webhooks reference library, which nobody on this project wrote).

    receiver.py PORT      (0: any free port; the first line printed is "listening <port>")

Deliveries are POSTs to any path but /_control/…. Each is checked against every secret set with
POST /_control/secrets {"secrets": [...]} and recorded with the indexes of the secrets that
verify it; one that no secret verifies is answered 400 and counted as rejected. Deliveries are
deduplicated by `webhook-id`, as a receiver should: a repeat is answered 200 and counted.

POST /_control/mode {"mode": ...} says how to answer: "ok" (200, the default), "500", "410",
or "timeout" (answer 200 only after `delay_ms`, default 3000 — after the sender gave up; such a
delivery is not recorded). GET /_control/state answers everything seen so far.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()
STATE = {
    "secrets": [],
    "mode": "ok",
    "delay_ms": 3000,
    # Every request, in arrival order: webhook-id, mode answered with, arrival (unix ms).
    "attempts": [],
    # First receipt of each webhook-id: id, type, body, verified_with, arrival (unix ms).
    "received": [],
    "duplicates": 0,
    "rejected": 0,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        return self.rfile.read(int(self.headers.get("content-length", "0")))

    def do_GET(self):
        if self.path == "/_control/state":
            with LOCK:
                body = json.dumps(STATE).encode()
            return self.answer(200, body)
        self.answer(404)

    def do_POST(self):
        body = self.read_body()
        if self.path.startswith("/_control/"):
            update = json.loads(body)
            with LOCK:
                STATE.update(update)
            return self.answer(200, b"{}")
        arrival = int(time.time() * 1000)
        webhook_id = self.headers.get("webhook-id", "")
        with LOCK:
            mode = STATE["mode"]
            delay_ms = STATE["delay_ms"]
            secrets = list(STATE["secrets"])
            STATE["attempts"].append({"id": webhook_id, "mode": mode, "at": arrival})
        if mode == "500":
            return self.answer(500, b'{"error": "receiver is failing"}')
        if mode == "410":
            return self.answer(410, b'{"error": "gone"}')
        if mode == "timeout":
            time.sleep(delay_ms / 1000)
            return self.answer(200)
        headers = {key: value for key, value in self.headers.items()}
        verified_with = []
        for index, secret in enumerate(secrets):
            try:
                Webhook(secret).verify(body, headers)
                verified_with.append(index)
            except WebhookVerificationError:
                pass
        with LOCK:
            if not verified_with:
                STATE["rejected"] += 1
                return self.answer(400, b'{"error": "signature"}')
            if any(seen["id"] == webhook_id for seen in STATE["received"]):
                STATE["duplicates"] += 1
            else:
                event = json.loads(body)
                STATE["received"].append(
                    {
                        "id": webhook_id,
                        "type": event.get("type"),
                        "body": event,
                        "verified_with": verified_with,
                        "at": arrival,
                    }
                )
        self.answer(200, b'{"ok": true}')


class Server(ThreadingHTTPServer):
    """Quiet about senders that drop their idle keep-alive connections (a dispatcher
    stopped or killed by the test): that is no delivery and no error of the receiver."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
