"""Analysts' decisions as training labels for the next knowledge-base version (claim 9).

An analyst decides an alert: **confirm** (risky, with the scene — possibly another one than the
alert named), **dismiss** (a false positive: the event is normal) or **escalate** (undecided).
A rebuild takes the decisions in beside the labels:

- a confirmed event becomes a risky sample of its scene;
- a dismissed event becomes a normal sample — one that looked like a scene, which is what
  teaches the knowledge base where the scene ends;
- an escalated event changes nothing.

Transactions in neither the labels nor the decisions are **unlabelled**: they feed the
associated data (degrees, devices, contacts) but are not samples, not even normal ones — they
may hold what the previous version missed.

``decisions.csv`` has the columns ``txn_id,decision,scene,analyst,note`` (``scene`` may be empty
for ``dismiss`` and ``escalate``). A bad line stops with ``file:line: problem``.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paver.risk.events import InputFileError, Label, check_label, csv_rows

DECISIONS: tuple[str, ...] = ("confirm", "dismiss", "escalate")
FEEDBACK_COLUMNS: tuple[str, ...] = ("txn_id", "decision", "scene", "analyst", "note")


@dataclass(frozen=True)
class Feedback:
    """One analyst decision on one event."""

    txn_id: str
    decision: str
    scene: str | None
    analyst: str
    note: str = ""


def check_feedback(txn_id: str, decision: str, scene: str | None, analyst: str,
                   note: str = "") -> Feedback:
    """A decision as given, checked; raises ``ValueError`` naming the field."""
    txn_id = txn_id.strip()
    if not txn_id:
        raise ValueError("txn_id: empty")
    decision = decision.strip().lower()
    if decision not in DECISIONS:
        raise ValueError(f"decision: one of {', '.join(DECISIONS)}, got {decision!r}")
    scene = (scene or "").strip() or None
    if scene is not None:
        try:
            scene = check_label(scene)
        except ValueError as exc:
            raise ValueError(f"scene: {scene!r} {exc}") from None
    if decision == "confirm" and scene is None:
        raise ValueError("scene: a confirmed alert names its scene")
    analyst = analyst.strip()
    if not analyst:
        raise ValueError("analyst: who decided is required")
    return Feedback(txn_id, decision, scene, analyst, note.strip())


def read_feedback(path: str | Path, txn_ids: set[str] | None = None) -> dict[str, Feedback]:
    """Read ``decisions.csv`` → ``{txn_id: Feedback}`` (a later line for the same event wins:
    the last decision stands). With ``txn_ids``, every id must be a known transaction."""
    p = Path(path)
    _, rows = csv_rows(p, FEEDBACK_COLUMNS)
    out: dict[str, Feedback] = {}
    for line, row in rows:
        try:
            fb = check_feedback(row["txn_id"], row["decision"], row["scene"], row["analyst"],
                                row["note"])
        except ValueError as exc:
            raise InputFileError(f"{p}:{line}: {exc}") from None
        if txn_ids is not None and fb.txn_id not in txn_ids:
            raise InputFileError(f"{p}:{line}: txn_id: {fb.txn_id!r} is not in the transactions")
        out[fb.txn_id] = fb
    return out


def write_feedback(path: Path, feedback: Iterable[Feedback]) -> int:
    """Write decisions as ``decisions.csv``; returns the number of rows."""
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FEEDBACK_COLUMNS)
        for f in feedback:
            w.writerow([f.txn_id, f.decision, f.scene or "", f.analyst, f.note])
            n += 1
    return n


def with_feedback(labels: Mapping[str, Label], feedback: Mapping[str, Feedback],
                  parties: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Label]:
    """The labels a rebuild trains on: ``labels`` with the decisions applied (see the module
    docstring).

    A confirmed event keeps its labelled pattern instance when it has one. Otherwise its
    instance is found the way an analyst sees one: confirmed events of the same scene that
    share an account (``parties``: ``txn_id → (from_account, to_account)``) belong together.
    Instances matter: the build calibrates on held-out instances, and one pattern split into
    many would look easier to recognise than it is.
    """
    out = dict(labels)
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    fresh = [fb for fb in feedback.values() if fb.decision == "confirm"
             and not (labels.get(fb.txn_id) and labels[fb.txn_id].group)]
    for fb in fresh:
        a, b = (parties or {}).get(fb.txn_id, (fb.txn_id, fb.txn_id))
        node = f"{fb.scene}\x00"
        parent[root(node + a)] = root(node + b)
        parent[root("txn\x00" + fb.txn_id)] = root(node + a)
    for txn, fb in feedback.items():
        if fb.decision == "confirm":
            known = labels.get(txn)
            group = (known.group if known and known.group
                     else "feedback:" + root("txn\x00" + txn).split("\x00", 1)[1])
            out[txn] = Label(fb.scene, group)
        elif fb.decision == "dismiss":
            out[txn] = Label(None, None)
    return out


def labelled_rows(txn_ids: Iterable[str], labels: Mapping[str, Label]) -> np.ndarray:
    """Row indices of the events that are samples (labelled risky or normal)."""
    return np.array([i for i, t in enumerate(txn_ids) if t in labels], dtype=np.int64)


def with_decisions(ds: Any, decisions: Mapping[str, Feedback]) -> tuple[Any, np.ndarray]:
    """A dataset (:class:`paver.risk.screening.Dataset`) with the decisions applied to its
    labels, and the rows that are samples (labelled or decided)."""
    t = ds.table
    parties = {x: (a, b) for x, a, b in zip(t.txn_id, t.from_account, t.to_account,
                                            strict=True)}
    ds = dataclasses.replace(ds, labels=with_feedback(ds.labels, decisions, parties))
    return ds, labelled_rows(t.txn_id, ds.labels)
