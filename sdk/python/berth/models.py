"""A small, pydantic-compatible BaseModel and Field (standard library only).

fal apps describe their inputs and outputs with pydantic models. An image
without pydantic can run the same code with `from berth.models import
BaseModel, Field`: fields come from the class annotations, values are checked
when a model is built, errors have pydantic's shape (a list of
{"loc", "msg", "type"}), and `model_dump()` / `model_json_schema()` give what
pydantic v2 gives for the same class.

Supported field types: str, int, float, bool, list/List/Sequence/set/tuple,
dict/Dict, Optional/Union (also `X | None`), Literal, Enum, Any, nested
BaseModel and dataclass types, real pydantic models, and any other class (the
value must then be an instance of it). Not supported: validators, aliases,
model_config. The same `validate()` is what the runner uses to turn a JSON
body into an endpoint's input.
"""

import collections.abc
import copy
import dataclasses
import enum
import json
import re
import types
import typing

__all__ = ["BaseModel", "Field", "FieldInfo", "ValidationError"]


class _Required:
    """The default of a field that has none (pydantic's PydanticUndefined)."""

    def __repr__(self):
        return "<required>"


REQUIRED = _Required()
_INVALID = object()  # what validate() returns after recording errors
_NONE_TYPE = type(None)
_UNION_TYPE = getattr(types, "UnionType", None)  # `X | Y` (3.10+)

# Pydantic v2's JSON-schema reference form, and the one OpenAPI uses.
DEFS_REF = "#/$defs/{model}"


class FieldInfo:
    """What Field() returns: a default and the field's constraints and docs."""

    def __init__(self, default=REQUIRED, default_factory=None, title=None,
                 description=None, examples=None, ge=None, gt=None, le=None,
                 lt=None, min_length=None, max_length=None, pattern=None,
                 extra=None):
        if default is Ellipsis:
            default = REQUIRED
        if default is not REQUIRED and default_factory is not None:
            raise TypeError("Field() takes a default or a default_factory, not both")
        self.default = default
        self.default_factory = default_factory
        self.title = title
        self.description = description
        self.examples = examples
        self.ge, self.gt, self.le, self.lt = ge, gt, le, lt
        self.min_length, self.max_length = min_length, max_length
        self.pattern = pattern
        self.extra = dict(extra or {})
        self.annotation = None  # set when the class's annotations are resolved

    def is_required(self):
        return self.default is REQUIRED and self.default_factory is None

    def get_default(self):
        if self.default_factory is not None:
            return self.default_factory()
        return copy.deepcopy(self.default)

    def __repr__(self):
        return "FieldInfo(annotation=%r, default=%r, description=%r)" % (
            self.annotation, self.default, self.description)


def Field(default=REQUIRED, *, default_factory=None, title=None, description=None,
          examples=None, ge=None, gt=None, le=None, lt=None, min_length=None,
          max_length=None, pattern=None, json_schema_extra=None, **extra):
    """Describe a model field, as pydantic's Field does.

    `Field(...)` or `Field(description=...)` without a default makes the field
    required. Keywords berth does not know are copied into the JSON schema."""
    extra = dict(extra)
    if isinstance(json_schema_extra, dict):
        extra.update(json_schema_extra)
    return FieldInfo(default, default_factory, title, description, examples, ge,
                     gt, le, lt, min_length, max_length, pattern, extra)


class ValidationError(ValueError):
    """Raised when a model cannot be built from its input.

    `errors()` is a list of {"type", "loc", "msg", "input"} like pydantic's,
    `loc` being the path to the bad value (field names and list indexes)."""

    def __init__(self, title, errors):
        self.title = title
        self._errors = list(errors)
        super().__init__(str(self))

    def errors(self):
        return [dict(e) for e in self._errors]

    def error_count(self):
        return len(self._errors)

    def __str__(self):
        n = len(self._errors)
        lines = ["%d validation error%s for %s" % (n, "" if n == 1 else "s", self.title)]
        for e in self._errors:
            lines.append(".".join(str(p) for p in e["loc"]) or "__root__")
            lines.append("  %s [type=%s, input_value=%r]" % (e["msg"], e["type"], e.get("input")))
        return "\n".join(lines)


# --- types -------------------------------------------------------------------

def _origin(tp):
    return typing.get_origin(tp)


def _args(tp):
    return typing.get_args(tp)


def _is_union(tp):
    origin = _origin(tp)
    return origin is typing.Union or (_UNION_TYPE is not None and origin is _UNION_TYPE)


def is_model_class(tp):
    """A berth.models.BaseModel subclass."""
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def is_pydantic_model_class(tp):
    """A real pydantic model class (v1, v2, or pydantic.v1), without importing
    pydantic: such a class exists only when the app imported pydantic."""
    if not isinstance(tp, type):
        return False
    for base in tp.__mro__:
        if base.__name__ == "BaseModel" and base.__module__.startswith("pydantic"):
            return True
    return False


def _type_name(tp):
    return getattr(tp, "__name__", None) or repr(tp)


def _resolve_hints(cls):
    """The class's annotations with string forms (from __future__ import
    annotations) evaluated; a clear error when one names something unknown."""
    try:
        return typing.get_type_hints(cls)
    except Exception as e:
        raise TypeError("cannot resolve the type annotations of %s: %s" % (cls.__name__, e))


def _is_classvar(annotation):
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is typing.ClassVar or _origin(annotation) is typing.ClassVar


# --- validation ----------------------------------------------------------------

_TRUE_WORDS = {"true", "1", "yes", "on", "t", "y"}
_FALSE_WORDS = {"false", "0", "no", "off", "f", "n"}


def _error(errors, loc, type_, msg, value):
    errors.append({"type": type_, "loc": tuple(loc), "msg": msg, "input": value})
    return _INVALID


def validate(tp, value, loc=()):
    """Check `value` (decoded JSON or Python objects) against the type `tp`
    and return the converted value (models built, numbers coerced the way
    pydantic's lax mode does). Raises ValidationError listing every problem,
    each `loc` starting with `loc`."""
    errs = []
    out = _validate(tp, value, tuple(loc), errs)
    if errs:
        raise ValidationError(_type_name(tp), errs)
    return out


def _validate(tp, value, loc, errors):
    if tp is typing.Any or tp is object:
        return value
    if tp is None or tp is _NONE_TYPE:
        if value is None:
            return None
        return _error(errors, loc, "none_required", "Input should be None", value)
    if _is_union(tp):
        return _validate_union(tp, value, loc, errors)
    origin = _origin(tp)
    if origin is typing.Literal:
        return _validate_literal(tp, value, loc, errors)
    if origin is not None:
        return _validate_generic(origin, _args(tp), value, loc, errors)
    if tp is bool:
        return _validate_bool(value, loc, errors)
    if tp is int:
        return _validate_int(value, loc, errors)
    if tp is float:
        return _validate_float(value, loc, errors)
    if tp is str:
        if isinstance(value, str):
            return value
        return _error(errors, loc, "string_type", "Input should be a valid string", value)
    if tp in (list, tuple, set, frozenset, dict):
        return _validate_generic(tp, (), value, loc, errors)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _validate_enum(tp, value, loc, errors)
    if is_model_class(tp):
        return tp._validate_into(value, loc, errors)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _validate_dataclass(tp, value, loc, errors)
    if is_pydantic_model_class(tp):
        return _validate_pydantic(tp, value, loc, errors)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        return _error(errors, loc, "is_instance_of",
                      "Input should be an instance of %s" % tp.__name__, value)
    return value  # a typing construct berth does not check (TypeVar, Callable, ...)


def _validate_union(tp, value, loc, errors):
    members = _args(tp)
    if value is None and _NONE_TYPE in members:
        return None
    branch_errors = []
    for member in members:
        if member is _NONE_TYPE:
            continue
        errs = []
        out = _validate(member, value, loc, errs)
        if not errs:
            return out
        branch_errors.append((member, errs))
    if len(branch_errors) == 1:  # Optional[X]: report X's errors as they are
        errors.extend(branch_errors[0][1])
    else:
        for member, errs in branch_errors:
            for e in errs:
                e = dict(e)
                e["loc"] = loc + (_type_name(member),) + e["loc"][len(loc):]
                errors.append(e)
    return _INVALID


def _validate_literal(tp, value, loc, errors):
    choices = _args(tp)
    for choice in choices:
        if value == choice and type(value) is type(choice):
            return choice
    words = [repr(c) for c in choices]
    expected = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return _error(errors, loc, "literal_error", "Input should be %s" % expected, value)


def _validate_enum(tp, value, loc, errors):
    if isinstance(value, tp):
        return value
    try:
        return tp(value)
    except ValueError:
        words = [repr(m.value) for m in tp]
        expected = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
        return _error(errors, loc, "enum", "Input should be %s" % expected, value)


def _validate_bool(value, loc, errors):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        return _error(errors, loc, "bool_parsing",
                      "Input should be a valid boolean, unable to interpret input", value)
    return _error(errors, loc, "bool_type", "Input should be a valid boolean", value)


def _validate_int(value, loc, errors):
    if isinstance(value, bool):
        return _error(errors, loc, "int_type", "Input should be a valid integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return _error(errors, loc, "int_from_float",
                      "Input should be a valid integer, got a number with a fractional part", value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return _error(errors, loc, "int_parsing",
                          "Input should be a valid integer, unable to parse string as an integer",
                          value)
    return _error(errors, loc, "int_type", "Input should be a valid integer", value)


def _validate_float(value, loc, errors):
    if isinstance(value, bool):
        return _error(errors, loc, "float_type", "Input should be a valid number", value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return _error(errors, loc, "float_parsing",
                          "Input should be a valid number, unable to parse string as a number",
                          value)
    return _error(errors, loc, "float_type", "Input should be a valid number", value)


# What typing.get_origin() gives for List[X], Sequence[X], Dict[K, V], ...
_SEQUENCE_ORIGINS = (list, tuple, set, frozenset, collections.abc.Sequence,
                     collections.abc.MutableSequence, collections.abc.Iterable,
                     collections.abc.Collection, collections.abc.Set,
                     collections.abc.MutableSet)
_MAPPING_ORIGINS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _validate_generic(origin, args, value, loc, errors):
    if origin in _MAPPING_ORIGINS:
        if not isinstance(value, dict):
            return _error(errors, loc, "dict_type", "Input should be a valid dictionary", value)
        if not args:
            return dict(value)
        key_type, value_type = args
        out = {}
        bad = False
        for k, v in value.items():
            key = _validate(key_type, k, loc + (k,), errors)
            item = _validate(value_type, v, loc + (k,), errors)
            if key is _INVALID or item is _INVALID:
                bad = True
            else:
                out[key] = item
        return _INVALID if bad else out
    if origin in _SEQUENCE_ORIGINS:
        kind = {tuple: "tuple", set: "set", frozenset: "set", collections.abc.Set: "set",
                collections.abc.MutableSet: "set"}.get(origin, "list")
        if not isinstance(value, (list, tuple, set, frozenset)):
            return _error(errors, loc, kind + "_type", "Input should be a valid %s" % kind, value)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                return _error(errors, loc, "tuple_type",
                              "Tuple should have %d items, not %d" % (len(args), len(value)), value)
            item_types = args
        else:
            item_types = [args[0] if args else typing.Any] * len(value)
        out = []
        bad = False
        for i, (item_type, item) in enumerate(zip(item_types, value)):
            v = _validate(item_type, item, loc + (i,), errors)
            bad = bad or v is _INVALID
            out.append(v)
        if bad:
            return _INVALID
        if origin is tuple:
            return tuple(out)
        if kind == "set":
            return set(out)
        return out
    if origin is type:
        return value
    # Another generic (a user's Generic[T] class...): check the bare class.
    return _validate(origin, value, loc, errors) if isinstance(origin, type) else value


def _validate_dataclass(tp, value, loc, errors):
    if isinstance(value, tp):
        return value
    if not isinstance(value, dict):
        return _error(errors, loc, "dataclass_type",
                      "Input should be a dictionary or an instance of %s" % tp.__name__, value)
    hints = _resolve_hints(tp)
    kwargs = {}
    bad = False
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        if f.name in value:
            v = _validate(hints.get(f.name, typing.Any), value[f.name], loc + (f.name,), errors)
            bad = bad or v is _INVALID
            kwargs[f.name] = v
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            bad = True
            _error(errors, loc + (f.name,), "missing", "Field required", value)
    if bad:
        return _INVALID
    try:
        return tp(**kwargs)
    except (ValueError, TypeError, AssertionError) as e:  # raised by __post_init__
        return _error(errors, loc, "value_error", "Value error, %s" % e, value)


def _validate_pydantic(tp, value, loc, errors):
    try:
        if hasattr(tp, "model_validate"):
            return tp.model_validate(value)
        return tp.parse_obj(value)  # pydantic v1
    except Exception as e:
        if not (type(e).__name__ == "ValidationError" and hasattr(e, "errors")):
            raise
        for err in e.errors():
            errors.append({"type": err.get("type", "value_error"),
                           "loc": loc + tuple(err.get("loc", ())),
                           "msg": err.get("msg", ""), "input": err.get("input")})
        return _INVALID


def _check_constraints(info, value, loc, errors):
    """Field(ge=, gt=, le=, lt=, min_length=, max_length=, pattern=)."""
    if value is None:
        return value
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if is_number:
        checks = ((info.ge, lambda b: value >= b, "greater_than_equal", "greater than or equal to"),
                  (info.gt, lambda b: value > b, "greater_than", "greater than"),
                  (info.le, lambda b: value <= b, "less_than_equal", "less than or equal to"),
                  (info.lt, lambda b: value < b, "less_than", "less than"))
        for bound, holds, type_, words in checks:
            if bound is not None and not holds(bound):
                return _error(errors, loc, type_, "Input should be %s %s" % (words, bound), value)
    if isinstance(value, (str, list, tuple, set, dict)):
        n = len(value)
        if isinstance(value, str):
            what, type_, unit = "String", "string_too_%s", "character"
        else:
            what, type_, unit = ("Dictionary" if isinstance(value, dict) else "List"), "too_%s", "item"
        if info.min_length is not None and n < info.min_length:
            return _error(errors, loc, type_ % "short", "%s should have at least %d %s%s" % (
                what, info.min_length, unit, "" if info.min_length == 1 else "s"), value)
        if info.max_length is not None and n > info.max_length:
            return _error(errors, loc, type_ % "long", "%s should have at most %d %s%s" % (
                what, info.max_length, unit, "" if info.max_length == 1 else "s"), value)
    if info.pattern is not None and isinstance(value, str):
        if not re.search(info.pattern, value):
            return _error(errors, loc, "string_pattern_mismatch",
                          "String should match pattern '%s'" % info.pattern, value)
    return value


# --- JSON schema -----------------------------------------------------------------

def _title(name):
    return name.replace("_", " ").strip().title() or name


def _jsonable(value):
    try:
        return to_jsonable(value)
    except TypeError:
        return repr(value)


def type_schema(tp, defs, ref_template=DEFS_REF):
    """The JSON schema of a type. Models, dataclasses and enums go into
    `defs` (name -> schema) and are referred to with `ref_template`."""
    if tp is typing.Any or tp is object:
        return {}
    if tp is None or tp is _NONE_TYPE:
        return {"type": "null"}
    if _is_union(tp):
        return {"anyOf": [type_schema(a, defs, ref_template) for a in _args(tp)]}
    origin = _origin(tp)
    if origin is typing.Literal:
        values = list(_args(tp))
        out = {"enum": values}
        kinds = {_JSON_TYPES.get(type(v)) for v in values}
        if len(kinds) == 1 and None not in kinds:
            out["type"] = kinds.pop()
        return out
    if origin is not None:
        args = _args(tp)
        if origin in _MAPPING_ORIGINS:
            out = {"type": "object"}
            if args:
                out["additionalProperties"] = type_schema(args[1], defs, ref_template)
            return out
        if origin in _SEQUENCE_ORIGINS:
            out = {"type": "array"}
            if args:
                out["items"] = type_schema(args[0], defs, ref_template)
            if origin in (set, frozenset):
                out["uniqueItems"] = True
            return out
        return type_schema(origin, defs, ref_template) if isinstance(origin, type) else {}
    if tp in _JSON_TYPES:
        return {"type": _JSON_TYPES[tp]}
    if tp in (list, tuple, set, frozenset):
        return {"type": "array", "items": {}}
    if tp is dict:
        return {"type": "object"}
    if not isinstance(tp, type):
        return {}
    name = tp.__name__
    ref = {"$ref": ref_template.format(model=name)}
    if name in defs:
        return ref
    if issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        out = {"enum": values, "title": name}
        kinds = {_JSON_TYPES.get(type(v)) for v in values}
        if len(kinds) == 1 and None not in kinds:
            out["type"] = kinds.pop()
        defs[name] = out
        return ref
    if is_model_class(tp):
        defs[name] = {}  # a placeholder, so that a recursive model ends
        defs[name] = tp._object_schema(defs, ref_template)
        return ref
    if dataclasses.is_dataclass(tp):
        defs[name] = {}
        defs[name] = _dataclass_schema(tp, defs, ref_template)
        return ref
    if is_pydantic_model_class(tp):
        return _pydantic_schema(tp, defs, ref_template)
    return {}


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def field_schema(name, tp, info, defs, ref_template=DEFS_REF):
    """A model field's schema: its type's, plus title, default, docs and
    constraints, the way pydantic v2 writes them."""
    out = dict(type_schema(tp, defs, ref_template))
    if "$ref" not in out:
        out["title"] = info.title or _title(name)
    if info.default is not REQUIRED:
        out["default"] = _jsonable(info.default)
    if info.description is not None:
        out["description"] = info.description
    if info.examples is not None:
        out["examples"] = list(info.examples)
    for key, bound in (("minimum", info.ge), ("exclusiveMinimum", info.gt),
                       ("maximum", info.le), ("exclusiveMaximum", info.lt)):
        if bound is not None:
            out[key] = bound
    is_array = out.get("type") == "array"
    if info.min_length is not None:
        out["minItems" if is_array else "minLength"] = info.min_length
    if info.max_length is not None:
        out["maxItems" if is_array else "maxLength"] = info.max_length
    if info.pattern is not None:
        out["pattern"] = info.pattern
    out.update(info.extra)
    return out


def _dataclass_schema(tp, defs, ref_template):
    hints = _resolve_hints(tp)
    props, required = {}, []
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        info = FieldInfo()
        if f.default is not dataclasses.MISSING:
            info.default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            info.default_factory = f.default_factory
        else:
            required.append(f.name)
        description = f.metadata.get("description") if f.metadata else None
        info.description = description
        props[f.name] = field_schema(f.name, hints.get(f.name, typing.Any), info, defs,
                                     ref_template)
    out = {"properties": props, "title": tp.__name__, "type": "object"}
    if required:
        out["required"] = required
    return out


def _pydantic_schema(tp, defs, ref_template):
    name = tp.__name__
    if hasattr(tp, "model_json_schema"):
        schema = tp.model_json_schema(ref_template=ref_template)
        inner = schema.pop("$defs", {})
    else:  # pydantic v1
        schema = tp.schema(ref_template=ref_template)
        inner = schema.pop("definitions", {})
    for key, value in inner.items():
        defs.setdefault(key, value)
    defs[name] = schema
    return {"$ref": ref_template.format(model=name)}


# --- JSON output -----------------------------------------------------------------

def to_jsonable(value):
    """`value` as plain JSON data: models dumped, dataclasses turned into
    dicts, enums into their values, tuples and sets into lists. TypeError for
    anything else that json cannot write."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {_json_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if is_pydantic_model_class(type(value)):
        if hasattr(value, "model_dump"):
            return value.model_dump(mode="json")
        return to_jsonable(value.dict())  # pydantic v1
    if hasattr(value, "isoformat"):  # datetime, date, time
        return value.isoformat()
    raise TypeError("%s is not JSON serializable" % type(value).__name__)


def _json_key(key):
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, (str, int, float, bool)) or key is None:
        return key
    raise TypeError("a dict key of type %s is not JSON serializable" % type(key).__name__)


def _dump(value, mode):
    if isinstance(value, BaseModel):
        return value.model_dump(mode=mode)
    if mode == "json":
        return to_jsonable(value)
    if isinstance(value, dict):
        return {k: _dump(v, mode) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v, mode) for v in value]
    if isinstance(value, tuple):
        return tuple(_dump(v, mode) for v in value)
    return value


# --- BaseModel -------------------------------------------------------------------

class BaseModel:
    """A model whose fields are its annotated class attributes.

        class Input(BaseModel):
            prompt: str = Field(description="What to draw")
            steps: int = Field(30, ge=1, le=100)

        Input(prompt="a cat").steps              # 30
        Input.model_validate({"steps": "x"})     # ValidationError: prompt, steps
    """

    # name -> FieldInfo, in declaration order (base classes' fields first)
    model_fields = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = {}
        for name, info in getattr(cls, "model_fields", {}).items():
            fields[name] = copy.copy(info)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.startswith("_") or _is_classvar(annotation):
                continue
            value = cls.__dict__.get(name, REQUIRED)
            if isinstance(value, FieldInfo):
                info = copy.copy(value)
            else:
                info = FieldInfo(default=value)
            fields[name] = info
        cls.model_fields = fields

    @classmethod
    def _field_types(cls):
        """name -> resolved type, computed once per class (annotations can
        name classes defined after this one)."""
        resolved = cls.__dict__.get("_berth_field_types")
        if resolved is None:
            hints = _resolve_hints(cls)
            resolved = {name: hints.get(name, typing.Any) for name in cls.model_fields}
            for name, info in cls.model_fields.items():
                info.annotation = resolved[name]
            cls._berth_field_types = resolved
        return resolved

    def __init__(self, **data):
        errors = []
        values = type(self)._validate_fields(data, (), errors)
        if errors:
            raise ValidationError(type(self).__name__, errors)
        self.__dict__.update(values)

    @classmethod
    def _validate_fields(cls, data, loc, errors):
        field_types = cls._field_types()
        values = {}
        for name, info in cls.model_fields.items():
            if name in data:
                v = _validate(field_types[name], data[name], loc + (name,), errors)
                if v is not _INVALID:
                    v = _check_constraints(info, v, loc + (name,), errors)
                values[name] = v
            elif info.is_required():
                _error(errors, loc + (name,), "missing", "Field required", data)
            else:
                values[name] = info.get_default()
        return values

    @classmethod
    def _validate_into(cls, value, loc, errors):
        if isinstance(value, cls):
            return value
        if isinstance(value, BaseModel):  # another model with the same fields
            value = value.model_dump()
        if not isinstance(value, dict):
            return _error(errors, loc, "model_type",
                          "Input should be a valid dictionary or instance of %s" % cls.__name__,
                          value)
        n = len(errors)
        values = cls._validate_fields(value, loc, errors)
        if len(errors) > n:
            return _INVALID
        obj = cls.__new__(cls)
        obj.__dict__.update(values)
        return obj

    @classmethod
    def model_validate(cls, obj):
        """Build from a dict (or return an instance as is)."""
        errors = []
        out = cls._validate_into(obj, (), errors)
        if errors:
            raise ValidationError(cls.__name__, errors)
        return out

    @classmethod
    def model_validate_json(cls, text):
        return cls.model_validate(json.loads(text))

    def model_dump(self, *, mode="python", include=None, exclude=None, exclude_none=False):
        """The fields as a dict; nested models become dicts too. mode="json"
        gives only JSON types."""
        out = {}
        for name in type(self).model_fields:
            if include is not None and name not in include:
                continue
            if exclude is not None and name in exclude:
                continue
            value = self.__dict__.get(name)
            if exclude_none and value is None:
                continue
            out[name] = _dump(value, mode)
        return out

    def model_dump_json(self, *, indent=None, **kwargs):
        return json.dumps(self.model_dump(mode="json", **kwargs), indent=indent)

    def model_copy(self, *, update=None, deep=False):
        obj = type(self).__new__(type(self))
        obj.__dict__.update(copy.deepcopy(self.__dict__) if deep else self.__dict__)
        obj.__dict__.update(update or {})
        return obj

    @classmethod
    def _object_schema(cls, defs, ref_template):
        field_types = cls._field_types()
        props, required = {}, []
        for name, info in cls.model_fields.items():
            props[name] = field_schema(name, field_types[name], info, defs, ref_template)
            if info.is_required():
                required.append(name)
        out = {"properties": props, "title": cls.__name__, "type": "object"}
        if required:
            out["required"] = required
        if cls.__doc__ and cls.__doc__ is not BaseModel.__doc__:
            out["description"] = " ".join(cls.__doc__.split())
        return out

    @classmethod
    def model_json_schema(cls, ref_template=DEFS_REF):
        """The JSON schema pydantic v2 gives: nested models under "$defs"."""
        defs = {cls.__name__: {}}
        out = cls._object_schema(defs, ref_template)
        del defs[cls.__name__]
        if defs:
            out["$defs"] = defs
        return out

    # pydantic v1 spellings, so code written for either runs.
    def dict(self, **kwargs):
        return self.model_dump(**kwargs)

    def json(self, **kwargs):
        return self.model_dump_json(**kwargs)

    @classmethod
    def parse_obj(cls, obj):
        return cls.model_validate(obj)

    @classmethod
    def schema(cls, ref_template=DEFS_REF):
        return cls.model_json_schema(ref_template=ref_template)

    def copy(self, **kwargs):
        return self.model_copy(**kwargs)

    def __iter__(self):
        for name in type(self).model_fields:
            yield name, self.__dict__.get(name)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def __repr__(self):
        fields = ", ".join("%s=%r" % (k, v) for k, v in self)
        return "%s(%s)" % (type(self).__name__, fields)

    # Hooks that let a real pydantic model have a field of a berth model type
    # (toolkit.Image in a pydantic Output, say). Only pydantic calls them.
    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):  # pydantic v2
        from pydantic_core import core_schema

        def check(value):
            try:
                return cls.model_validate(value)
            except ValidationError as e:
                raise ValueError(str(e))

        return core_schema.no_info_plain_validator_function(
            check,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.model_dump(mode="json") if isinstance(v, BaseModel) else v),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema, handler):  # pydantic v2
        return cls.model_json_schema()

    @classmethod
    def __get_validators__(cls):  # pydantic v1
        yield cls.model_validate

    @classmethod
    def __modify_schema__(cls, field_schema):  # pydantic v1
        field_schema.update(cls.model_json_schema())
