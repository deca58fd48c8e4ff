"""Find an App class in a file: shared by berth.spec and berth.runner.

The file is imported as a module of its own (named after the file), with its
directory first on sys.path so that it can import its neighbours. Its
top-level code runs; setup() does not.
"""

import importlib.util
import os
import sys

from berth.app import App


class UserError(Exception):
    """A mistake in the app or in how it was named: one line for the user."""


def split_target(args):
    """("app.py::MyApp",) or ("app.py", "MyApp") or ("app.py",) -> (path, class or None)."""
    if len(args) == 1 and "::" in args[0]:
        path, _, class_name = args[0].rpartition("::")
        return path, class_name or None
    if len(args) == 1:
        return args[0], None
    if len(args) == 2:
        return args[0], args[1]
    raise UserError("name the app as FILE.py::Class (or FILE.py when it holds one App class)")


def import_file(path):
    """Import the .py file at `path` and return the module. UserError when the
    file is missing; the file's own exceptions propagate."""
    if not os.path.isfile(path):
        raise UserError("'%s' not found: give the path of the app's .py file" % path)
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else "berth_app_" + (
        "".join(c if c.isalnum() else "_" for c in stem))
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError("'%s' cannot be imported: is it a Python file?" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def find_app_class(module, path, class_name):
    """The App subclass named `class_name` in the module, or its only one."""
    if class_name is not None:
        cls = getattr(module, class_name, None)
        if cls is None:
            raise UserError("%s has no class '%s'%s" % (path, class_name, _listing(module)))
        if not (isinstance(cls, type) and issubclass(cls, App)) or cls is App:
            raise UserError("%s::%s is not a berth.App subclass: derive it from berth.App "
                            "(import berth as fal works for fal apps)" % (path, class_name))
        return cls
    found = _app_classes(module)
    if not found:
        raise UserError("%s defines no berth.App subclass: write `class MyApp(berth.App)` "
                        "or name the class as %s::Class" % (path, path))
    if len(found) > 1:
        raise UserError("%s defines several App classes (%s): name one as %s::%s"
                        % (path, ", ".join(c.__name__ for c in found), path, found[0].__name__))
    return found[0]


def _app_classes(module):
    """App subclasses defined in the module itself (not imported into it)."""
    out = []
    for value in vars(module).values():
        if (isinstance(value, type) and issubclass(value, App) and value is not App
                and value.__module__ == module.__name__):
            out.append(value)
    return out


def _listing(module):
    names = [c.__name__ for c in _app_classes(module)]
    return " (App classes there: %s)" % ", ".join(names) if names else ""
