"""Persona validation errors in a trainer's words, not the schema library's.

pydantic says "Tuple should have at least 2 items after validation, not 1" or "Input should be
a valid tuple"; a trainer editing YAML needs "needs at least 2 lines; found 1" and "should be a
list: one line per '- ' item". `plain_message` turns one pydantic error (a dict of
``ValidationError.errors()``) into such a sentence; the field path is printed before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _unit(loc: tuple) -> str:
    """What the items of the list at `loc` are called."""
    head = str(loc[0]) if loc else ""
    if head == "lines":
        return "lines"
    return {"facts": "facts", "requires": "moves"}.get(str(loc[-1]) if loc else "", "items")


def _found(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a section of fields"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {_found(value)}"
    if isinstance(value, bool):
        return f"{str(value).lower()} (yes/no)"
    if isinstance(value, int | float):
        return f"the number {value:g}"
    return _found(value)


def plain_message(error: Mapping[str, Any]) -> str:
    """One validation error (``{"type", "loc", "msg", "input", "ctx"}``) as a plain sentence."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    loc = tuple(error.get("loc") or ())
    got = error.get("input")
    unit = _unit(loc)
    if kind == "too_short":
        n = ctx.get("actual_length", len(got) if hasattr(got, "__len__") else "?")
        return f"needs at least {ctx.get('min_length')} {unit}; found {n}"
    if kind == "too_long":
        n = ctx.get("actual_length", len(got) if hasattr(got, "__len__") else "?")
        return f"takes at most {ctx.get('max_length')} {unit}; found {n}"
    if kind in ("tuple_type", "list_type", "set_type", "iterable_type"):
        return f"should be a list (one '- ' entry per {unit[:-1] if unit.endswith('s') else unit}); found {_type_name(got)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"should be a section of 'key: value' lines; found {_type_name(got)}"
    if kind in ("string_type", "string_sub_type"):
        return f"should be text; found {_type_name(got)}"
    if kind == "string_too_short":
        return "is empty: write something" if not got else f"needs at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters; found {len(got or '')}"
    if kind == "string_pattern_mismatch":
        return f"has characters that are not allowed here (allowed: the pattern {ctx.get('pattern')}); found {_found(got)}"
    bounds = {"less_than_equal": ("at most", "le"), "less_than": ("below", "lt"),
              "greater_than_equal": ("at least", "ge"), "greater_than": ("above", "gt")}
    if kind in bounds:
        words, key = bounds[kind]
        limit = ctx.get(key)
        return f"must be {words} {limit:g}; found {_found(got)}" if isinstance(limit, int | float) else \
            f"must be {words} {limit}; found {_found(got)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"should be a whole number; found {_type_name(got)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"should be a number; found {_type_name(got)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"should be true or false; found {_type_name(got)}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected')}; found {_found(got)}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error") or error.get("msg", "")).removeprefix("Value error, ")
    msg = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{msg[:1].lower()}{msg[1:]}; found {_found(got)}"
