"""`python3 -m berth.spec FILE.py::Class`: an App's settings as JSON.

berth (the C side) runs this with the host's python3 to learn what an SDK
app needs: it imports the file (top-level code runs, setup() does not) and
prints one JSON object in the structure of berth.yaml, holding only what the
class sets; berth fills in the defaults. FILE.py alone works when the file
defines exactly one App class.

A mistake (a missing file, no or several App classes, a module the host
lacks, a bad setting) is one line on stderr saying what to do, and exit
status 2.
"""

import contextlib
import json
import numbers
import os
import re
import sys
import traceback

from berth.app import (IGNORED_FAL_SETTINGS, App, HealthCheck, app_name_for,
                       collect_endpoints, is_stream)
from berth.container import ContainerImage
from berth._loader import UserError, find_app_class, import_file, split_target

USAGE = "usage: python3 -m berth.spec FILE.py[::Class]"
EXIT_USER_ERROR = 2

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_AUTH_MODES = ("private", "public", "shared")

# Attribute -> (where it goes in the JSON, what it must be).
_SIMPLE_SETTINGS = (
    ("num_gpus", ("gpus",), "count"),
    ("keep_alive", ("scaling", "keep_alive"), "seconds"),
    ("min_concurrency", ("scaling", "min_runners"), "count"),
    ("max_concurrency", ("scaling", "max_runners"), "positive count"),
    ("concurrency_buffer", ("scaling", "concurrency_buffer"), "count"),
    ("max_multiplexing", ("scaling", "max_multiplexing"), "positive count"),
    ("scaling_delay", ("scaling", "scaling_delay"), "seconds"),
    ("request_timeout", ("request_timeout",), "seconds"),
    ("startup_timeout", ("startup_timeout",), "seconds"),
    ("termination_grace_period_seconds", ("termination_grace_period",), "seconds"),
    ("memory", ("resources", "memory"), "size"),
    ("cpus", ("resources", "cpus"), "cpus"),
)


def _set_by_class(cls, attr):
    """Whether the app (not berth.App) sets `attr` to something other than None."""
    for klass in cls.__mro__:
        if klass is App:
            return False
        if attr in vars(klass):
            return getattr(cls, attr) is not None
    return False


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check(cls, attr, value, kind):
    """`value` if it is what `kind` says, else a UserError naming the setting."""
    where = "%s.%s" % (cls.__name__, attr)
    if kind == "seconds":
        if (not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0
                or value != value):
            raise UserError("%s must be a number of seconds >= 0, not %r" % (where, value))
    elif kind == "count":
        if not _is_count(value) or value < 0:
            raise UserError("%s must be an integer >= 0, not %r" % (where, value))
    elif kind == "positive count":
        if not _is_count(value) or value < 1:
            raise UserError("%s must be an integer >= 1, not %r" % (where, value))
    elif kind == "size":  # berth checks the string's form and the range
        if not (_is_count(value) or isinstance(value, str)):
            raise UserError("%s must be bytes (an integer) or a size like '4Gi', not %r"
                            % (where, value))
    elif kind == "cpus":
        if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0):
            raise UserError("%s must be a number of CPUs > 0 such as 0.5 or 2, not %r"
                            % (where, value))
    return value


def _string_list(cls, attr, value, what):
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and v for v in value):
        raise UserError("%s.%s must be a list of %s, not %r" % (cls.__name__, attr, what, value))
    return list(value)


def _machine_type(cls, value):
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise UserError("%s.machine_type must be a machine type (\"GPU\") or a list of them tried "
                    "in order ([\"GPU-H100\", \"GPU\"]), not %r" % (cls.__name__, value))


def _image(cls, value):
    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], ContainerImage):
        raise UserError("%s.image is a tuple: remove the comma after "
                        "ContainerImage.from_...(...)" % cls.__name__)
    if not isinstance(value, ContainerImage):
        raise UserError("%s.image must be a ContainerImage (ContainerImage.from_dockerfile_str, "
                        "from_dockerfile or from_ref), not %r" % (cls.__name__, value))
    return value.to_spec()


def _health(cls, where, check, path):
    if not isinstance(check, HealthCheck):
        raise UserError("%s must be a berth.HealthCheck(...), not %r" % (where, check))
    out = {"path": path, "method": "GET"}
    for key, attr, kind in (("start_period", "start_period_seconds", "seconds"),
                            ("timeout", "timeout_seconds", "seconds"),
                            ("failure_threshold", "failure_threshold", "positive count"),
                            ("interval", "interval_seconds", "seconds")):
        out[key] = _check(cls, "%s.%s" % (where.split(".", 1)[-1], attr),
                          getattr(check, attr), kind)
    return out


def app_spec(cls, path):
    """The berth.yaml-shaped dict for the App class `cls` defined in `path`."""
    try:
        routes = collect_endpoints(cls)
    except ValueError as e:
        raise UserError(str(e))
    if not routes:
        raise UserError("%s has no endpoints: mark a method with @berth.endpoint(\"/\")"
                        % cls.__name__)

    name = cls.app_name if cls.app_name is not None else app_name_for(cls.__name__)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UserError("%s: app name %r must be 1 to 63 of a-z, 0-9 and '-', starting with a "
                        "letter or digit: set app_name" % (cls.__name__, name))
    spec = {
        "name": name,
        "sdk": {
            "file": path,
            "class": cls.__name__,
            "endpoints": [r[0] for r in routes],
            "stream_endpoints": [r[0] for r in routes if is_stream(getattr(cls, r[1]))],
        },
    }
    if _set_by_class(cls, "image"):
        spec["image"] = _image(cls, cls.image)
    if _set_by_class(cls, "machine_type"):
        spec["machine_type"] = _machine_type(cls, cls.machine_type)
    for attr, keys, kind in _SIMPLE_SETTINGS:
        if _set_by_class(cls, attr):
            value = _check(cls, attr, getattr(cls, attr), kind)
            section = spec
            for key in keys[:-1]:
                section = section.setdefault(key, {})
            section[keys[-1]] = value
    if _set_by_class(cls, "secrets"):
        spec["secrets"] = _string_list(cls, "secrets", cls.secrets, "secret names")
    if _set_by_class(cls, "data_mounts"):
        mounts = _string_list(cls, "data_mounts", cls.data_mounts, "paths")
        for m in mounts:
            if not m.startswith("/"):
                raise UserError("%s.data_mounts: '%s' must be an absolute path like /data"
                                % (cls.__name__, m))
        spec["data_mounts"] = mounts
    if _set_by_class(cls, "app_auth"):
        if cls.app_auth not in _AUTH_MODES:
            raise UserError("%s.app_auth must be one of %s, not %r"
                            % (cls.__name__, ", ".join(_AUTH_MODES), cls.app_auth))
        spec["auth"] = cls.app_auth

    checked = [r for r in routes if r[2].health_check is not None]
    if checked:
        path_, method_name, info = checked[0]
        health = _health(cls, "%s.%s" % (cls.__name__, method_name), info.health_check, path_)
        spec["run"] = {"health": health}
    elif _set_by_class(cls, "health_check"):
        spec["run"] = {"health": _health(cls, "%s.health_check" % cls.__name__,
                                         cls.health_check, "/health")}
    return spec


def ignored_settings(cls):
    """Notes on the fal settings the class sets that berth does not use."""
    return ["%s.%s is ignored by berth: %s" % (cls.__name__, attr, why)
            for attr, why in sorted(IGNORED_FAL_SETTINGS.items())
            if _set_by_class(cls, attr) and getattr(cls, attr)]


def _where(exc, app_dir):
    """'file.py:LINE' of the innermost frame in the app's directory."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if os.path.realpath(f.filename).startswith(app_dir + os.sep)]
    frame = (mine or frames or [None])[-1]
    if frame is None:
        return ""
    name = os.path.relpath(frame.filename)
    if name.startswith(".."):
        name = frame.filename
    return "%s:%d: " % (name, frame.lineno)


def describe_import_error(exc, path):
    """One line about an exception raised while importing the app file."""
    app_dir = os.path.dirname(os.path.realpath(path))
    if isinstance(exc, SyntaxError):
        return "%s:%s: syntax error: %s" % (exc.filename or path, exc.lineno, exc.msg)
    where = _where(exc, app_dir)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if top == "fal":
            return ("%sno module 'fal': berth runs fal apps with `import berth as fal` "
                    "(and berth.container, berth.toolkit, berth.models)" % where)
        return ("%sthe host's python3 has no module '%s': import it inside setup() or an "
                "endpoint (they run in the image), or install it on the host" % (where, top))
    if isinstance(exc, SystemExit):
        return "%sthe app file called sys.exit(%r) while being imported" % (where, exc.code)
    return "%simporting the app failed: %s: %s" % (where, type(exc).__name__, exc)


def fail(message):
    sys.stderr.write("berth.spec: error: %s\n" % message)
    sys.stderr.flush()
    sys.exit(EXIT_USER_ERROR)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or len(argv) > 2:
        sys.stderr.write(USAGE + "\n")
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else EXIT_USER_ERROR)
    try:
        path, class_name = split_target(argv)
        # The app's own prints must not mix with the JSON on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            try:
                module = import_file(path)
            except UserError:
                raise
            except (Exception, SystemExit) as e:
                if os.environ.get("BERTH_DEBUG"):
                    traceback.print_exc()
                raise UserError(describe_import_error(e, path))
            cls = find_app_class(module, path, class_name)
            spec = app_spec(cls, os.path.realpath(path))
            for note in ignored_settings(cls):
                sys.stderr.write("berth.spec: note: %s\n" % note)
    except UserError as e:
        fail(str(e))
    sys.stdout.write(json.dumps(spec, indent=2) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
