"""A partner's model drivers in words, next to the rule reasons.

The trust model's explanation (:meth:`paver.trust.model.TrustModel.explain`) holds, per
dimension and overall, the inputs that moved the score most. People read a few sentences,
not a table of contributions: which dimension moved the overall score most, and which of the
partner's own figures moved that dimension. The console and the demo report show these same
lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def driver_lines(explanation: Mapping[str, Sequence[Mapping[str, Any]]] | None,
                 overall: int = 2, per_dimension: int = 2) -> list[str]:
    """The ``overall`` strongest dimension drivers, then the ``per_dimension`` strongest inputs
    of the dimension that moved the overall score most (each already a sentence)."""
    if not explanation:
        return []
    top = [d for d in explanation.get("overall") or () if d.get("text")][:overall]
    lines = [str(d["text"]) for d in top]
    if top:
        dimension = str(top[0].get("feature", ""))
        lines += [f"{dimension}: {d['text']}"
                  for d in (explanation.get(dimension) or ())[:per_dimension] if d.get("text")]
    return lines
