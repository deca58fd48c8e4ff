"""`python3 -m berth.runner FILE CLASS`: serve an App inside its container.

The order of events:
  1. listen on $BERTH_HOST:$PORT (127.0.0.1:8080 by default) at once, so that
     berth sees the runner alive; GET /health answers 503 {"state": "SETUP"};
  2. import FILE, make the CLASS instance, call setup() once (in the main
     thread; sync or async); if that raises, the traceback goes to stderr and
     the runner exits with status 1;
  3. serve: each @endpoint is a POST route (JSON in, JSON out; generator
     endpoints stream Server-Sent Events); GET /health answers 200 with
     App.health(); GET /openapi.json describes the endpoints;
  4. on SIGTERM or SIGINT: stop accepting connections, let the requests in
     flight finish, call teardown() once, exit 0.

Requests are served in parallel, one thread per connection (HTTP/1.1 with
keep-alive). Async endpoints and async setup()/teardown() share one event
loop in a thread of its own. One line per request goes to stderr.
Answers: 404 unknown path, 405 wrong method, 422 bad JSON or input that does
not validate, AppException's status, 500 for any other exception (with the
traceback on stderr), 503 before setup() has finished.
"""

import asyncio
import hmac
import http.server
import inspect
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
import typing
import urllib.parse

from berth import __version__, _openapi
from berth._loader import UserError, find_app_class, import_file, split_target
from berth.app import (AppException, FieldException, RequestContext, _current_request,
                       app_name_for, collect_endpoints, is_stream)
from berth.models import ValidationError, to_jsonable, validate

USAGE = "usage: python3 -m berth.runner FILE.py CLASS  (or FILE.py::CLASS)"

# The largest request body read; a larger one is answered 413.
MAX_BODY = 256 * 1024 * 1024
# An idle keep-alive connection is closed after this long (fal's uvicorn: 300 s).
KEEP_ALIVE_SECONDS = 300
# How often the accept loop checks whether it should stop.
POLL_SECONDS = 0.05

STARTING, RUNNING, TERMINATING = "SETUP", "RUNNING", "TERMINATING"

# berth serve gives each runner a token and sends it with every request
# (calls, queue work, health checks): the runner's port is on the host's
# loopback, and without this check anything on the host could call the app
# around the gateway's keys. Unset (berth run, a plain python3 -m
# berth.runner): no check.
RUNNER_TOKEN_ENV = "BERTH_RUNNER_TOKEN"
RUNNER_TOKEN_HEADER = "x-berth-runner-token"


def log(message):
    sys.stderr.write("berth.runner: %s\n" % message)
    sys.stderr.flush()


def log_exception(context):
    """The current exception's traceback on stderr, in one write."""
    sys.stderr.write("berth.runner: %s\n%s" % (context, traceback.format_exc()))
    sys.stderr.flush()


class _HttpError(Exception):
    def __init__(self, status, detail, close=False):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.close = close


class _StopDuringSetup(BaseException):
    """Raised by the signal handler while import or setup() runs. A
    BaseException, so that the app's `except Exception` does not swallow it."""


class Route:
    """One @endpoint of the app instance."""

    def __init__(self, path, method_name, info, instance):
        self.path = path
        self.method_name = method_name
        self.func = getattr(instance, method_name)
        self.health_check = info.health_check is not None
        self.stream = is_stream(self.func)
        self.is_async = (inspect.iscoroutinefunction(self.func)
                         or inspect.isasyncgenfunction(self.func))
        params = [p for p in inspect.signature(self.func).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.takes_input = bool(params)
        hints = self._hints()
        self.input_type = hints.get(params[0].name, typing.Any) if params else None
        self.output_type = hints.get("return", typing.Any)

    def _hints(self):
        func = getattr(self.func, "__func__", self.func)
        try:
            return typing.get_type_hints(func)
        except Exception as e:
            log("%s: cannot resolve the annotations of %s (%s): its input is not checked"
                % (self.path, self.method_name, e))
            return {}

    def methods(self):
        return ("POST", "GET") if self.health_check else ("POST",)


class Runner:
    """The app and its state, shared by the request threads."""

    def __init__(self):
        self.state = STARTING
        self.instance = None
        self.app_name = None
        self.routes = {}  # path -> Route
        self._openapi = None
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="berth-asyncio", daemon=True).start()

    def run_async(self, awaitable):
        """Run a coroutine on the app's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), self.loop).result()

    def call(self, func, *args):
        """Call a sync or async function (setup, teardown, health, endpoints)."""
        if inspect.iscoroutinefunction(func):
            return self.run_async(func(*args))
        result = func(*args)
        if inspect.isawaitable(result):
            return self.run_async(result)
        return result

    def load(self, path, class_name):
        module = import_file(path)
        cls = find_app_class(module, path, class_name)
        self.app_name = cls.app_name or app_name_for(cls.__name__)
        self.instance = cls(_allow_init=True)
        try:
            found = collect_endpoints(cls)
        except ValueError as e:
            raise UserError(str(e))
        for route_path, method_name, info in found:
            self.routes[route_path] = Route(route_path, method_name, info, self.instance)
        return cls

    def openapi(self):
        if self._openapi is None:
            routes = [self.routes[p] for p in sorted(self.routes)]
            self._openapi = json.dumps(_openapi.build(self.app_name, routes)).encode()
        return self._openapi


async def _awaited(awaitable):
    return await awaitable


class _SyncStream:
    def __init__(self, gen):
        self.gen = gen

    def next(self):
        return next(self.gen)

    def close(self):
        self.gen.close()


class _AsyncStream:
    """An async generator driven from a request thread, one item at a time."""

    def __init__(self, agen, runner):
        self.agen = agen
        self.runner = runner

    def next(self):
        try:
            return self.runner.run_async(self.agen.__anext__())
        except StopAsyncIteration:
            raise StopIteration

    def close(self):
        self.runner.run_async(self.agen.aclose())


_END = object()


class Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that can stop gracefully: it knows which
    keep-alive connections are idle (waiting for a request) so that a stop
    closes those at once and lets the busy ones finish."""

    daemon_threads = False  # server_close() waits for the requests in flight
    block_on_close = True
    allow_reuse_address = True
    # The gateway opens several connections at once: socketserver's default
    # backlog of 5 made the kernel drop some (a 1 s retry for the client).
    request_queue_size = 128

    def get_request(self):
        # Headers and body go out in separate writes: without TCP_NODELAY,
        # Nagle's algorithm and delayed ACKs add ~40 ms to each answer on a
        # kept-open connection.
        conn, addr = super().get_request()
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return conn, addr

    def __init__(self, address, runner):
        self.runner = runner
        self.stopping = False
        self.lock = threading.Lock()
        self.idle = set()  # handlers waiting for their next request
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def close_idle_connections(self):
        with self.lock:
            self.stopping = True
            for handler in list(self.idle):
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "berth-runner/" + __version__
    timeout = KEEP_ALIVE_SECONDS

    # --- connection bookkeeping (see Server) ---

    def setup(self):
        super().setup()
        with self.server.lock:
            if not self.server.stopping:
                self.server.idle.add(self)
                return
        # Accepted just before a stop: drop it rather than wait for its request.
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _mark_idle(self):
        """Between two requests: a stop may close the connection now."""
        with self.server.lock:
            if not self.server.stopping:
                self.server.idle.add(self)
                return
        self.close_connection = True

    def parse_request(self):
        with self.server.lock:
            self.server.idle.discard(self)
        return super().parse_request()

    def handle_one_request(self):
        super().handle_one_request()
        self._mark_idle()

    def finish(self):
        with self.server.lock:
            self.server.idle.discard(self)
        try:
            super().finish()
        except OSError:
            pass

    def version_string(self):
        return self.server_version

    def log_request(self, code="-", size="-"):
        pass  # one line per request is written by _serve

    def log_error(self, format, *args):
        log("%s: %s" % (self.address_string(), format % args))

    def do_GET(self):
        self._serve("GET")

    def do_HEAD(self):
        self._serve("HEAD")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_OPTIONS(self):
        self._serve("OPTIONS")

    # --- one request ---

    def _serve(self, method):
        start = time.monotonic()
        self._status = None
        self._headers_sent = False
        path = urllib.parse.urlsplit(self.path).path or "/"
        try:
            try:
                self._check_token()
                body = self._read_body()
                self._route(method, path, body)
            except _HttpError as e:
                if e.close:
                    self.close_connection = True
                self._send_json(e.status, {"detail": e.detail})
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
            self._status = self._status or "client went away"
        finally:
            request_id = self.headers.get("x-berth-request-id")
            log("%s %s %s %.1fms%s" % (method, path, self._status, (time.monotonic() - start) * 1e3,
                                       " id=" + request_id if request_id else ""))

    def _check_token(self):
        want = os.environ.get(RUNNER_TOKEN_ENV)
        if not want:
            return
        got = self.headers.get(RUNNER_TOKEN_HEADER) or ""
        if not hmac.compare_digest(got.encode("utf-8", "replace"), want.encode()):
            raise _HttpError(403, "this runner answers only its berth server (%s)"
                             % RUNNER_TOKEN_HEADER, close=True)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise _HttpError(400, "bad Content-Length", close=True)
        if n < 0:
            raise _HttpError(400, "bad Content-Length", close=True)
        if n > MAX_BODY:
            raise _HttpError(413, "the body is larger than %d bytes" % MAX_BODY, close=True)
        return self.rfile.read(n)

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                size = -1
            if size < 0:
                raise _HttpError(400, "bad chunked body", close=True)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise _HttpError(413, "the body is larger than %d bytes" % MAX_BODY, close=True)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _route(self, method, path, body):
        runner = self.server.runner
        if runner.state == STARTING and not (path == "/openapi.json" and runner.routes):
            if path == "/health":
                return self._send_json(503, {"state": STARTING})
            return self._send_json(503, {"detail": "the app is starting: setup() has not finished",
                                         "state": STARTING})
        route = runner.routes.get(path)
        mine = route.methods() if route else ()
        builtin = ("GET",) if path in ("/health", "/openapi.json") else ()
        allowed = mine + tuple(m for m in builtin if m not in mine)
        if not allowed:
            return self._send_json(404, {"detail": "Path %s not found" % path})
        wanted = "GET" if method == "HEAD" else method
        if wanted not in allowed:
            return self._send_json(405, {"detail": "Method Not Allowed"},
                                   [("Allow", ", ".join(allowed))])
        if wanted in mine:
            return self._endpoint(route, wanted, body)
        if path == "/openapi.json":
            return self._send_bytes(200, runner.openapi(), "application/json")
        return self._health()

    def _health(self):
        runner = self.server.runner
        if runner.state != RUNNING:
            return self._send_json(503, {"state": runner.state})
        try:
            result = runner.call(runner.instance.health)
            body = dict(result) if isinstance(result, dict) else {"health": result}
            body["state"] = RUNNING
            body = to_jsonable(body)
        except AppException as e:
            return self._send_json(e.status_code, {"detail": e.message})
        except Exception:
            log_exception("health() failed:")
            return self._send_json(500, {"detail": "Internal Server Error"})
        return self._send_json(200, body)

    def _input(self, route, method, body):
        """The endpoint's argument, from the JSON body."""
        if method == "GET" or not body.strip():
            data = {}
        else:
            try:
                data = json.loads(body.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise _HttpError(422, [{"loc": ["body", e.start], "msg": "JSON decode error",
                                        "type": "json_invalid"}])
            except ValueError as e:
                raise _HttpError(422, [{"loc": ["body", getattr(e, "pos", 0)],
                                        "msg": "JSON decode error", "type": "json_invalid",
                                        "ctx": {"error": getattr(e, "msg", str(e))}}])
        try:
            return validate(route.input_type, data, ("body",))
        except ValidationError as e:
            raise _HttpError(422, [{"loc": list(err["loc"]), "msg": err["msg"],
                                    "type": err["type"]} for err in e.errors()])

    def _endpoint(self, route, method, body):
        runner = self.server.runner
        args = (self._input(route, method, body),) if route.takes_input else ()
        headers = {k.lower(): v for k, v in self.headers.items()}
        context = RequestContext(
            request_id=headers.get("x-berth-request-id") or headers.get("x-fal-request-id"),
            endpoint=route.path, headers=headers)
        token = _current_request.set(context)
        try:
            if route.stream:
                return self._stream(route, args)
            result = runner.call(route.func, *args)
            return self._send_json(200, to_jsonable(result))
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as e:
            return self._send_error_for(e, "%s %s failed:" % (method, route.path))
        finally:
            _current_request.reset(token)

    def _send_error_for(self, exc, context):
        if isinstance(exc, AppException):
            return self._send_json(exc.status_code, {"detail": to_jsonable(exc.message)})
        if isinstance(exc, FieldException):
            return self._send_json(exc.status_code, {"detail": [{
                "loc": ["body", exc.field], "msg": exc.message, "type": exc.type}]})
        log_exception(context)
        return self._send_json(500, {"detail": "Internal Server Error"})

    def _stream(self, route, args):
        """Send each value the generator yields as one SSE event. The status
        is sent with the first value, so an exception before it still gets
        its own status (AppException, 500)."""
        runner = self.server.runner
        if inspect.isasyncgenfunction(route.func):
            stream = _AsyncStream(route.func(*args), runner)
        else:
            stream = _SyncStream(route.func(*args))
        try:
            item = stream.next()
        except StopIteration:
            item = _END
        chunked = self.request_version == "HTTP/1.1"
        self._status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self._headers_sent = True
        try:
            while item is not _END:
                self._write_event(b"data: " + _json_bytes(to_jsonable(item)) + b"\n\n", chunked)
                try:
                    item = stream.next()
                except StopIteration:
                    item = _END
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
            self._status = "200 (client went away)"
            _close_quietly(stream)
            return
        except Exception as e:
            if isinstance(e, AppException):
                detail = {"detail": to_jsonable(e.message), "status_code": e.status_code}
            else:
                log_exception("%s stream failed:" % route.path)
                detail = {"detail": "Internal Server Error", "status_code": 500}
            self._status = "200 (stream failed)"
            try:
                self._write_event(b"event: error\ndata: " + _json_bytes(detail) + b"\n\n", chunked)
            except OSError:
                self.close_connection = True
                return
        if chunked:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                self.close_connection = True

    def _write_event(self, data, chunked):
        if chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status, body, headers=()):
        return self._send_bytes(status, _json_bytes(body), "application/json", headers)

    def _send_bytes(self, status, data, content_type, headers=()):
        if self._headers_sent:
            return None
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection or self.server.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self._headers_sent = True
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()
        return None


def _json_bytes(value):
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _close_quietly(stream):
    try:
        stream.close()
    except Exception:
        log_exception("closing the stream failed:")


def _line_buffered_stdio():
    """Every line the app prints reaches the log at once."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True, write_through=True)
        except (AttributeError, ValueError):
            pass


def _exit(status):
    """Exit now, without waiting for threads the app may have started."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or len(argv) > 2:
        sys.stderr.write(USAGE + "\n")
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else 2)
    _line_buffered_stdio()
    try:
        path, class_name = split_target(argv)
    except UserError as e:
        log("error: %s" % e)
        sys.exit(2)
    host = os.environ.get("BERTH_HOST") or "127.0.0.1"
    try:
        port = int(os.environ.get("PORT") or "8080")
        runner = Runner()
        server = Server((host, port), runner)
    except (ValueError, OSError) as e:
        log("error: cannot listen on %s:%s: %s" % (host, os.environ.get("PORT") or "8080", e))
        sys.exit(1)
    threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), name="berth-accept",
                     daemon=True).start()
    log("listening on %s:%d; loading %s" % (host, server.server_address[1], "::".join(
        [path, class_name]) if class_name else path))

    signals = []  # the signals received; the main thread polls it

    def on_signal(signum, frame):
        signals.append(signum)
        if runner.state == STARTING:
            raise _StopDuringSetup()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    started = time.monotonic()
    try:
        runner.load(path, class_name)
        runner.call(runner.instance.setup)
        runner.state = RUNNING
    except _StopDuringSetup:
        log("%s during setup: stopping (teardown() is not called)" % _signame(signals[-1]))
        server.close_idle_connections()
        _exit(0)
    except UserError as e:
        log("error: %s" % e)
        _exit(1)
    except BaseException:
        log_exception("setup failed:" if runner.instance else "loading the app failed:")
        _exit(1)
    log("ready in %.2fs" % (time.monotonic() - started))

    while not signals:
        time.sleep(0.2)  # a signal interrupts the sleep
    runner.state = TERMINATING
    server.shutdown()          # no more accepts...
    server.socket.close()      # ...and new connections are refused
    server.close_idle_connections()
    log("%s: stopping; new connections are refused, requests in flight finish"
        % _signame(signals[-1]))
    server.server_close()      # waits for the requests in flight
    try:
        runner.call(runner.instance.teardown)
    except BaseException:
        log_exception("teardown failed:")
        _exit(1)
    log("stopped")
    _exit(0)


def _signame(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum


if __name__ == "__main__":
    main()
