"""Risk screening end to end: associated data → relation data → scene match → decision.

Two paths compute the same thing:

- **batch** (:func:`screen_table`): all events of a window are in an
  :class:`~paver.risk.store.InMemoryStore`; features are computed vectorised
  (:class:`~paver.risk.features.BatchRelationBuilder`) and matched in one go. Screening a file
  is retrospective over the file's window (every event sees the whole window's associated data).
- **per event** (:class:`Screener.screen_event`): the event is recorded into the store, its
  relation groups are built with a latency budget (:class:`~paver.risk.relations.RelationBuilder`)
  and matched alone. This is the API / stream path (it sees what has been recorded so far).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from paver.risk.events import Label, TransferEvent, TransferTable, read_labels, read_transactions
from paver.risk.features import BatchRelationBuilder
from paver.risk.kb import KnowledgeBase, build_knowledge_base
from paver.risk.matcher import Matcher, feature_dict
from paver.risk.relations import RelationBuilder
from paver.risk.scenes import SceneRules
from paver.risk.store import AssociatedDataStore, InMemoryStore, load_side_files


@dataclass
class Dataset:
    """Events of one window, their labels (if any) and the store holding their associated data."""

    table: TransferTable
    store: InMemoryStore
    labels: dict[str, Label] = field(default_factory=dict)
    side_counts: dict[str, int] = field(default_factory=dict)
    side_dir: Path | None = None

    def scene_of(self) -> list[str | None]:
        return [(lab.scene if (lab := self.labels.get(t)) else None) for t in self.table.txn_id]

    def group_of(self) -> list[str | None]:
        return [(lab.group if (lab := self.labels.get(t)) else None) for t in self.table.txn_id]


def load_dataset(transactions: str | Path, labels: str | Path | None = None,
                 side_dir: str | Path | None = None) -> Dataset:
    """Read the events (and labels), load side files and record everything into a new store.

    ``side_dir`` defaults to the directory of ``transactions`` (``accounts.csv``,
    ``devices.csv``, ``contacts.csv`` are optional there).
    """
    table = read_transactions(transactions)
    labs = read_labels(labels, set(table.txn_id)) if labels else {}
    store = InMemoryStore()
    side = load_side_files(store, side_dir or Path(transactions).parent)
    store.record_table(table)
    return Dataset(table, store, labs, side, Path(side_dir or Path(transactions).parent))


def side_store(ds: Dataset) -> InMemoryStore:
    """The dataset's side data alone (accounts, devices, contacts), without its transfers."""
    store = InMemoryStore()
    if ds.side_dir is not None:
        load_side_files(store, ds.side_dir)
    return store


def dataset_features(ds: Dataset, mode: str = "retrospective") -> tuple[np.ndarray, float]:
    """Feature rows of every event of ``ds`` and the seconds it took.

    ``retrospective``: over the whole window at once (every event sees the window's associated
    data, before and after it). ``realtime``: each event from the past and itself only
    (:func:`paver.risk.replay.realtime_features`) — what the stream handler sees.
    """
    from paver.risk.replay import MODES, realtime_features

    if mode not in MODES:
        raise ValueError(f"--mode: one of {', '.join(MODES)}, got {mode!r}")
    if mode == "realtime":
        return realtime_features(ds.table, side_store(ds))
    t0 = time.perf_counter()
    X = batch_features(ds)[0]
    return X, time.perf_counter() - t0


def build_kb_from_rows(X: np.ndarray, ds: Dataset, rows: np.ndarray, rules: SceneRules,
                       seed: int = 0) -> KnowledgeBase:
    """Build a knowledge base from the given rows of a dataset (risky and normal)."""
    scene = ds.scene_of()
    group = ds.group_of()
    names = sorted({scene[int(r)] for r in rows if scene[int(r)]})
    weights = {s: rules.dimension_weights(s) for s in names}
    return build_knowledge_base(
        X[rows], [scene[int(r)] for r in rows], [group[int(r)] for r in rows],
        [ds.table.txn_id[int(r)] for r in rows], dim_weights=weights, seed=seed,
    )


def screen_table(matcher: Matcher, features: np.ndarray, table: TransferTable,
                 rows: np.ndarray | None = None, explain: bool = True
                 ) -> Iterator[dict[str, Any]]:
    """Decisions for the given rows (default all) from precomputed feature rows."""
    idx = np.arange(len(table)) if rows is None else np.asarray(rows)
    for s in range(0, len(idx), 8192):
        part = idx[s : s + 8192]
        res = matcher.match(features[part])
        for k, r in enumerate(part):
            if explain:
                yield matcher.decision(res, k, features[r], table.txn_id[int(r)],
                                       currency=table.currency[int(r)])
            else:
                yield {"event_id": table.txn_id[int(r)], "risky": bool(res.risky[k]),
                       "scene": matcher.kb.scenes[int(res.best[k])],
                       "match_degree": round(float(res.best_degree[k]), 4)}


class Screener:
    """Per-event screening over a store (in memory or DynamoDB-backed)."""

    def __init__(self, matcher: Matcher, store: AssociatedDataStore,
                 budget_ms: float | None = 50.0, shadow: Matcher | None = None) -> None:
        self.matcher = matcher
        self.shadow = shadow  # a candidate version's verdict, stored beside (never acts)
        self.store = store
        self.builder = RelationBuilder(store, budget_ms=budget_ms)

    def screen_event(self, event: TransferEvent, record: bool = True,
                     with_relations: bool = True) -> dict[str, Any]:
        """Record the event (unless ``record=False``), build its relation data, decide."""
        t0 = time.perf_counter()
        if record:
            self.store.record_transfer(event)
        t1 = time.perf_counter()
        rel = self.builder.build(event, with_elements=with_relations)
        t2 = time.perf_counter()
        res = self.matcher.match(rel.features[None])
        out = self.matcher.decision(res, 0, rel.features, event.txn_id, partial=rel.partial,
                                    currency=event.currency)
        t3 = time.perf_counter()
        if self.shadow is not None:
            sres = self.shadow.match(rel.features[None])
            out["shadow"] = {"kb_version": self.shadow.kb.version,
                             "risky": bool(sres.risky[0]),
                             "scene": self.shadow.kb.scenes[int(sres.best[0])],
                             "match_degree": round(float(sres.best_degree[0]), 4)}
        out["hops_done"] = rel.hops_done
        out["timings_ms"] = {"record": round((t1 - t0) * 1e3, 3),
                             "relations": round((t2 - t1) * 1e3, 3),
                             "match": round((t3 - t2) * 1e3, 3)}
        if with_relations:
            out["relations"] = {d: g.to_dict() for d, g in rel.groups.items()}
            out["features"] = feature_dict(rel.features)
        else:  # the raw relation features, compact (drift of the inputs: paver.risk.drift)
            out["feature_vector"] = np.round(rel.features.astype(np.float64), 4).tolist()
        return out


def batch_features(ds: Dataset) -> tuple[np.ndarray, BatchRelationBuilder]:
    b = BatchRelationBuilder(ds.store)
    return b.features(ds.table), b
