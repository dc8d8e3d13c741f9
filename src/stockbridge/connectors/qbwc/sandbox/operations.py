"""The model of the qbXML / qbposXML operations the hub can send (``operations.json``:
element order, required elements, repeats, value types, lengths and enums, with the
sources they come from), and the check both simulated companies run on every request
document before answering it: what QuickBooks cannot parse it refuses whole.

The check reads a document the way the operation files describe it, not the way the
hub's client writes it: an element out of order or unknown, a required one missing, a
value of the wrong type, too long or not among the enum values is a ``ParseFailure``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

__all__ = ["ModelError", "model", "validate_document"]

Spec = dict[str, Any]

_TYPES = {
    "int": re.compile(r"^-?\d+$"),
    "quantity": re.compile(r"^-?\d+(\.\d+)?$"),
    "amount": re.compile(r"^-?\d+(\.\d{1,2})?$"),
    "price": re.compile(r"^-?\d+(\.\d{1,5})?$"),
    "percent": re.compile(r"^-?\d+(\.\d+)?$"),
    "bool": re.compile(r"^(true|false)$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "datetime": re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)?)?$"),
    "id": re.compile(r"^[-0-9A-Za-z{}]{1,36}$"),
    "guid": re.compile(r"^(0|\{?[0-9A-Fa-f-]{36}\}?)$"),
}


class ModelError(ValueError):
    """A request the operation model refuses (the simulators raise it as ParseFailure)."""


@cache
def model() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("operations.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _names(spec: Spec) -> list[str]:
    return [str(c["name"]) for c in spec["choice"]] if "choice" in spec else [str(spec["name"])]


def _check_value(element: etree._Element, spec: Spec, where: str) -> None:
    text = element.text or ""
    if "length" in spec and len(text) > int(spec["length"]):
        raise ModelError(f"{where}: longer than {spec['length']} characters")
    if "enum" in spec and text not in spec["enum"]:
        raise ModelError(f"{where}: {text!r} is not one of {', '.join(spec['enum'])}")
    kind = spec.get("type")
    if kind is not None and not _TYPES[str(kind)].match(text):
        raise ModelError(f"{where}: {text!r} is not a {kind}")


def _check_attributes(element: etree._Element, spec: Spec, where: str) -> None:
    allowed: dict[str, list[str] | None] = spec.get("attributes", {})
    for name, value in element.attrib.items():
        if name not in allowed:
            raise ModelError(f"{where}: unknown attribute {name!r}")
        values = allowed[name]
        if values is not None and value not in values:
            raise ModelError(f"{where}: attribute {name}={value!r} is not one of its values")


def _check(element: etree._Element, spec: Spec, where: str) -> None:
    _check_attributes(element, spec, where)
    children_specs: list[Spec] | None = spec.get("children")
    if children_specs is None:
        if len(element):
            raise ModelError(f"{where}: holds elements, it must be a value")
        _check_value(element, spec, where)
        return
    children = [c for c in element if isinstance(c.tag, str)]
    position = 0
    passed: set[str] = set()
    for child_spec in children_specs:
        names = _names(child_spec)
        if position < len(children) and str(children[position].tag) in passed:
            raise ModelError(f"{where}: {children[position].tag!s} is out of order")
        passed.update(names)
        chosen = next((c for c in child_spec.get("choice", [child_spec])), child_spec)
        count = 0
        limit = int(child_spec.get("max", 1))
        while position < len(children) and str(children[position].tag) in names:
            child = children[position]
            tag = str(child.tag)
            chosen = next(
                (c for c in child_spec.get("choice", [child_spec]) if c["name"] == tag), chosen
            )
            _check(child, chosen, f"{where}/{tag}")
            count += 1
            position += 1
            if limit and count > limit:
                raise ModelError(f"{where}: {tag} may appear at most {limit} time(s)")
        if count < int(child_spec.get("min", 0)):
            raise ModelError(f"{where}: the required element {' or '.join(names)} is missing")
    if position < len(children):
        tag = str(children[position].tag)
        raise ModelError(f"{where}: {tag} is unknown here or out of order")


def validate_document(flavour: str, root: etree._Element) -> list[etree._Element]:
    """Check a parsed request document (``flavour`` "qbxml" or "qbposxml") against the
    model; returns its requests. Raises ModelError."""
    operations = model()[flavour]
    envelope = operations["envelope"]
    msgs_tag = envelope["msgs"]
    if root.tag != envelope["root"] or len(root) != 1 or root[0].tag != msgs_tag:
        raise ModelError(f"the document must be {envelope['root']}/{msgs_tag}")
    msgs = root[0]
    if msgs.get("onError") not in envelope["on_error"]:
        raise ModelError(f"{msgs_tag} needs onError {' or '.join(envelope['on_error'])}")
    requests = [c for c in msgs if isinstance(c.tag, str)]
    for rq in requests:
        spec = operations["requests"].get(str(rq.tag))
        if spec is None:
            raise ModelError(f"unknown request {rq.tag!r}")
        _check(rq, spec, str(rq.tag))
    return requests
