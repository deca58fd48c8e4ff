"""The runner's server for tests/e2e/serve_relay.sh: one endpoint per way
an HTTP answer can be framed or go wrong, so the gateway's relay is seen
passing each through (or failing it the documented way)."""
import hashlib
import http.server
import itertools
import json
import sys
import time

_serial = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.serial = next(_serial)  # which TCP connection from the gateway

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def raw(self, data, close=True):
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = close

    def do_GET(self):
        self.route(b"")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.route(self.rfile.read(n) if n else b"")

    def route(self, body):
        if getattr(self, "drop_next", False):
            # /arm asked for it: this connection's next request is dropped
            # unanswered, as a server closing an idle keep-alive
            # connection just as the gateway reuses it.
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        args = dict(a.split("=", 1) for a in query.split("&") if "=" in a)
        if path == "/health":
            self.send(200, b"ok\n", "text/plain")
        elif path.startswith("/echo"):
            out = {
                "method": self.command,
                "target": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "conn": self.serial,
            }
            self.send(200, json.dumps(out).encode() + b"\n", extra=[("X-Up", "1"), ("Keep-Alive", "timeout=5")])
        elif path == "/chunked":
            self.raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                     b"1\r\na\r\n2\r\nbb\r\n3\r\nccc\r\n0\r\n\r\n", close=False)
        elif path == "/close":
            self.raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nclose-delimited\n")
        elif path == "/sse":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n", close=False)
            for i in range(2):
                ev = b"data: event %d\n\n" % i
                self.raw(b"%x\r\n%s\r\n" % (len(ev), ev), close=False)
                if i == 0:
                    time.sleep(float(args.get("gap", "2")))
            self.raw(b"0\r\n\r\n", close=False)
        elif path == "/big":
            n = int(args.get("n", "1000000"))
            block = hashlib.sha256(b"berth").hexdigest().encode() * 2048  # 128 KiB
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0:
                k = min(n, len(block))
                self.wfile.write(block[:k])
                n -= k
        elif path == "/slow":
            time.sleep(float(args.get("s", "1")))
            self.send(200, b'{"slept": true}\n')
        elif path == "/204":
            self.send_response(204)
            self.end_headers()
        elif path == "/100":
            self.raw(b"HTTP/1.1 100 Continue\r\n\r\n", close=False)
            self.send(200, b"after 100\n", "text/plain")
        elif path == "/arm":
            self.drop_next = True
            self.send(200, b"%d\n" % self.serial, "text/plain")
        elif path == "/conn":
            self.send(200, b"%d\n" % self.serial, "text/plain")
        elif path == "/short":
            self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        elif path == "/die":
            self.raw(b"")
        else:
            self.send(404, json.dumps({"detail": "no such endpoint", "target": self.path}).encode() + b"\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
