"""YAML files validated with Pydantic, with each problem traced back to its line.

Rule files (:mod:`paver.ruleengine`) and skin files (:mod:`paver.skins`) are both YAML that a
person edits: a problem is reported as ``file:line: field.path: message`` so the person can go
straight to it. This module is the one owner of that mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from paver.lazy import lazy_module

if TYPE_CHECKING:
    import yaml
    from pydantic import ValidationError
else:  # when a file is first read, not at import app
    yaml = lazy_module("yaml")


def line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Line (1-based) of every key and item of a composed YAML document, by its path."""
    out = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = (*path, k.value)
            # the key's own line, not the line its value (a nested mapping) starts on
            out.update({p: ln for p, ln in line_index(v, key).items() if p != key})
            out[key] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out.update(line_index(v, (*path, i)))
    return out


def load_with_lines(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The data of a YAML document and :func:`line_index` of it (raises ``yaml.YAMLError``)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.safe_load(text)
    return data, (line_index(node) if node is not None else {})


def yaml_error_line(exc: Exception) -> int | None:
    """The 1-based line a ``yaml.YAMLError`` points at, if it says."""
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark else None


def located_errors(exc: ValidationError, lines: dict[tuple[Any, ...], int]
                   ) -> Iterator[tuple[int, str, str]]:
    """``(line, dotted field, message)`` of each error of a Pydantic validation.

    The line is the deepest part of the error's location the file has (a missing field is
    reported at its parent's line); model and union tags in the location are left out.
    """
    for err in exc.errors():
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and x[:1].isupper()))
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
        yield line, ".".join(str(x) for x in loc), err["msg"]
