"""The App base class, the @endpoint decorator and what goes with them.

An app is a class: its class attributes are its settings (image, machine
type, scaling...), `setup()` runs once when a runner starts, each @endpoint
method is a POST route, `teardown()` runs once when the runner stops. This
mirrors fal.App, so a fal app runs after `import berth as fal`.

`python3 -m berth.spec` reads the settings; `python3 -m berth.runner`
serves the class. Nothing here starts a server.
"""

import contextvars
import dataclasses
import inspect
import re

from berth import __version__

__all__ = ["App", "endpoint", "HealthCheck", "AppException", "FieldException",
           "RequestContext"]

# Settings berth uses. Each may be a class attribute or a class keyword:
#   class MyApp(berth.App, keep_alive=300): ...
SETTINGS = ("image", "machine_type", "num_gpus", "app_name", "app_auth", "keep_alive",
            "min_concurrency", "max_concurrency", "concurrency_buffer", "max_multiplexing",
            "scaling_delay", "request_timeout", "startup_timeout",
            "termination_grace_period_seconds", "secrets", "data_mounts", "health_check",
            "memory", "cpus")

# fal settings that mean nothing to berth: accepted so that fal code runs, and
# named in a note by berth.spec when an app sets them.
IGNORED_FAL_SETTINGS = {
    "requirements": "install packages in the image's Dockerfile instead",
    "local_python_modules": "the app's directory is mounted in the runner; import from it",
    "regions": "berth runs on this host",
    "app_files": "the app's directory is mounted in the runner",
    "app_files_ignore": "the app's directory is mounted in the runner",
    "app_files_context_dir": "the app's directory is mounted in the runner",
    "concurrency_buffer_perc": "use concurrency_buffer",
    "kind": "an App with an image is always a container app",
    "skip_retry_conditions": "not supported yet",
    "metrics_port": "berth collects metrics itself",
}

_APP_NAME_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9]|$)|[A-Z]?[a-z0-9]+|[A-Z]+")


def app_name_for(class_name):
    """The default app name: PascalCase to kebab-case (MyGoodApp ->
    my-good-app, ONNXModel -> onnx-model, my_app -> my-app)."""
    parts = _APP_NAME_PARTS.findall(class_name)
    return "-".join(p.lower() for p in parts) or class_name.lower()


class AppException(Exception):
    """Raise it in an endpoint to answer `status_code` with {"detail": message}."""

    def __init__(self, message, status_code=400):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class FieldException(Exception):
    """Raise it to reject one input field: 422 with a pydantic-style detail
    ({"loc": ["body", field], "msg": message, "type": type})."""

    def __init__(self, field, message, status_code=422, type="value_error"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status_code = status_code
        self.type = type


class HealthCheck:
    """How berth probes a runner: give it to @endpoint(path, health_check=...)
    (the endpoint is then also answered for GET) or set it as the App's
    `health_check` attribute to tune the probes of the built-in GET /health.

    start_period_seconds: failures before it has passed do not count
    timeout_seconds:      one probe's limit
    failure_threshold:    consecutive failures before the runner is replaced
    interval_seconds:     time between probes
    call_regularly:       accepted for fal compatibility (berth always probes)
    """

    def __init__(self, start_period_seconds=30, timeout_seconds=5, failure_threshold=3,
                 interval_seconds=15, call_regularly=True):
        self.start_period_seconds = start_period_seconds
        self.timeout_seconds = timeout_seconds
        self.failure_threshold = failure_threshold
        self.interval_seconds = interval_seconds
        self.call_regularly = call_regularly

    def __repr__(self):
        return ("HealthCheck(start_period_seconds=%r, timeout_seconds=%r, failure_threshold=%r, "
                "interval_seconds=%r)" % (self.start_period_seconds, self.timeout_seconds,
                                          self.failure_threshold, self.interval_seconds))


@dataclasses.dataclass
class EndpointInfo:
    """What @endpoint records on a method."""
    path: str
    health_check: object = None


def endpoint(path, *, health_check=None, is_websocket=False):
    """Serve the decorated method as `POST path`: the JSON body is its first
    argument (typed by its annotation), its return value the JSON answer.
    A generator method streams its values as Server-Sent Events."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError("endpoint path must start with '/', not %r" % (path,))
    if is_websocket:
        raise ValueError("endpoint %s: websocket endpoints are not supported by berth yet" % path)
    if health_check is not None and not isinstance(health_check, HealthCheck):
        raise ValueError("endpoint %s: health_check must be a berth.HealthCheck(...)" % path)

    def mark(func):
        if not callable(func):
            raise TypeError("@endpoint(%r) decorates a method" % path)
        func._berth_endpoint = EndpointInfo(path, health_check)
        return func

    return mark


def collect_endpoints(cls):
    """The class's endpoints as a list of (path, method name, EndpointInfo),
    sorted by path. ValueError for two endpoints on one path or two health
    checks."""
    found = {}
    for name in dir(cls):
        func = inspect.getattr_static(cls, name, None)
        if isinstance(func, (staticmethod, classmethod)):
            func = func.__func__
        info = getattr(func, "_berth_endpoint", None)
        if not isinstance(info, EndpointInfo):
            continue
        if info.path in found:
            raise ValueError("%s: methods '%s' and '%s' are both endpoints for %s"
                             % (cls.__name__, found[info.path][1], name, info.path))
        found[info.path] = (info.path, name, info)
    routes = [found[p] for p in sorted(found)]
    checks = [r for r in routes if r[2].health_check is not None]
    if len(checks) > 1:
        raise ValueError("%s: several health check endpoints (%s): an app has one"
                         % (cls.__name__, ", ".join(r[0] for r in checks)))
    return routes


def is_stream(func):
    """A generator (sync or async) endpoint: its values are sent as SSE."""
    return inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)


@dataclasses.dataclass
class RequestContext:
    """The request being served (App.current_request)."""
    request_id: object = None      # the x-berth-request-id header (or x-fal-request-id)
    endpoint: object = None        # the endpoint's path
    headers: dict = dataclasses.field(default_factory=dict)  # lower-case names
    lifecycle_preference: object = None  # fal's, always None in berth


_current_request = contextvars.ContextVar("berth_current_request", default=None)


class App:
    """Subclass it to make an app; see docs/sdk.md.

        class Hello(berth.App):
            image = ContainerImage.from_dockerfile_str("FROM python:3.11-slim")
            keep_alive = 300

            def setup(self):
                self.greeting = "hello"

            @berth.endpoint("/")
            def hello(self, body: dict) -> dict:
                return {"message": self.greeting + " " + body.get("name", "you")}
    """

    image = None               # ContainerImage
    machine_type = "S"         # str, or a list tried in order
    num_gpus = None
    app_name = None            # default: the class name in kebab-case
    app_auth = None            # "private" | "public" | "shared"
    keep_alive = None          # seconds idle before a runner stops
    min_concurrency = None     # runners kept warm
    max_concurrency = None     # most runners
    concurrency_buffer = None  # extra warm runners above the load
    max_multiplexing = None    # requests in flight per runner
    scaling_delay = None       # seconds a request waits before a runner is added
    request_timeout = None     # seconds
    startup_timeout = None     # seconds for import + setup()
    termination_grace_period_seconds = None  # SIGTERM to SIGKILL
    secrets = None             # names of secrets the app sees as env vars
    data_mounts = None         # e.g. ["/data"]
    health_check = None        # HealthCheck for the built-in GET /health
    memory = None              # each runner's memory limit: bytes or "4Gi" (berth's own)
    cpus = None                # each runner's CPU limit, e.g. 0.5 or 2 (berth's own)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__()
        name = kwargs.pop("name", None)
        if name is not None:
            cls.app_name = name
        for key, value in kwargs.items():
            if key not in SETTINGS and key not in IGNORED_FAL_SETTINGS:
                raise TypeError("%s: unknown App setting '%s' (settings: %s)"
                                % (cls.__name__, key, ", ".join(SETTINGS)))
            setattr(cls, key, value)
        if cls.__init__ is not App.__init__:
            raise ValueError("%s: App classes should not override __init__; use setup() instead"
                             % cls.__name__)

    def __init__(self, *, _allow_init=False):
        if not _allow_init:
            raise NotImplementedError(
                "an App is not instantiated directly: run it with "
                "`berth run path/to/app.py::%s`" % type(self).__name__)

    def setup(self):
        """Runs once, before the first request (load models here)."""

    def teardown(self):
        """Runs once, when the runner stops."""

    def health(self):
        """What GET /health answers once setup() is done."""
        return {"version": __version__}

    @property
    def current_request(self):
        """The RequestContext of the request being served (request_id,
        endpoint, headers); all None outside a request."""
        return _current_request.get() or RequestContext()
