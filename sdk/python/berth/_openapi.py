"""The OpenAPI 3.0 document of an App (GET /openapi.json).

One POST operation per endpoint (and a GET for the health-check endpoint),
with the request and response schemas taken from the annotations: dataclass
fields, berth.models and pydantic models (descriptions and examples
included). Schemas are written the way pydantic writes them and then
adjusted to OpenAPI 3.0: `X | None` becomes `nullable`, `examples` becomes
`example`, `const` becomes a one-value `enum`.
"""

import collections.abc
import typing

from berth import __version__
from berth.models import type_schema

OPENAPI_VERSION = "3.0.3"
REF_TEMPLATE = "#/components/schemas/{model}"

# FastAPI's names and shapes for the 422 answer, so that clients know them.
_VALIDATION_SCHEMAS = {
    "ValidationError": {
        "title": "ValidationError",
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"title": "Location", "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"},
        },
    },
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {
            "detail": {"title": "Detail", "type": "array",
                       "items": {"$ref": REF_TEMPLATE.format(model="ValidationError")}},
        },
    },
}

_ITERATOR_ORIGINS = (collections.abc.Iterator, collections.abc.Iterable,
                     collections.abc.Generator, collections.abc.AsyncIterator,
                     collections.abc.AsyncIterable, collections.abc.AsyncGenerator)


def _item_type(return_type):
    """What a generator endpoint yields, from Iterator[X], Generator[X, ...]..."""
    if typing.get_origin(return_type) in _ITERATOR_ORIGINS:
        args = typing.get_args(return_type)
        if args:
            return args[0]
    return typing.Any


def _operation(route, defs):
    func = route.func
    doc = (getattr(func, "__doc__", None) or "").strip()
    op = {
        "operationId": route.method_name,
        "summary": doc.splitlines()[0] if doc else route.method_name.replace("_", " ").title(),
    }
    if doc and "\n" in doc:
        op["description"] = doc
    if route.takes_input:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {
                "schema": _schema(route.input_type, defs)}},
        }
    if route.stream:
        schema = _schema(_item_type(route.output_type), defs)
        content = {"text/event-stream": {"schema": schema}}
        description = "Server-Sent Events: one `data: <JSON>` event per value"
    else:
        content = {"application/json": {
            "schema": _schema(route.output_type, defs)}}
        description = "Successful Response"
    op["responses"] = {"200": {"description": description, "content": content}}
    if route.takes_input:
        op["responses"]["422"] = {
            "description": "Validation Error",
            "content": {"application/json": {
                "schema": {"$ref": REF_TEMPLATE.format(model="HTTPValidationError")}}},
        }
    return op


def to_openapi30(schema):
    """A pydantic-style JSON schema, rewritten for OpenAPI 3.0."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: to_openapi30(s) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_openapi30(value)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            out[key] = [to_openapi30(s) for s in value]
        else:  # default, enum, examples...: values, not schemas
            out[key] = value
    if out.get("type") == "null" and len(out) == 1:
        return {"nullable": True}
    members = out.get("anyOf")
    if isinstance(members, list) and {"nullable": True} in members:
        rest = [m for m in members if m != {"nullable": True}]
        del out["anyOf"]
        if len(rest) == 1 and "$ref" in rest[0]:
            out["allOf"] = rest
        elif len(rest) == 1:
            out = dict(rest[0], **out)
        elif rest:
            out["anyOf"] = rest
        out["nullable"] = True
    if isinstance(out.get("examples"), list):
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]  # a $ref takes no sibling keys in 3.0
    return out


def _schema(tp, defs):
    return to_openapi30(type_schema(tp, defs, REF_TEMPLATE))


def build(title, routes):
    """The OpenAPI document for the routes (runner.Route objects)."""
    defs = {}
    paths = {}
    for route in routes:
        op = _operation(route, defs)
        item = {"post": op}
        if route.health_check:
            get = {k: v for k, v in op.items() if k != "requestBody"}
            get["operationId"] = op["operationId"] + "_get"
            item["get"] = get
        paths[route.path] = item
    if any(r.takes_input for r in routes):
        defs.update(_VALIDATION_SCHEMAS)
    doc = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {"schemas": {k: to_openapi30(defs[k]) for k in sorted(defs)}},
    }
    return doc
