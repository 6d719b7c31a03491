"""Convert IBM AMLSim sample graphs into Paver's ``transactions.csv`` / ``labels.csv``.

Input (the ``sample/`` graphs of IBM/AMLSim, Apache-2.0): ``nodes.csv``
(``nodeid,isFraud,init_balance,fraudStep``), ``transactions.csv``
(``sourceNodeId,targetNodeId,value,time``) and optionally ``metadata.txt`` beside them
(``patterns: 200 fan-in``).

How labels are derived (the samples flag fraud *accounts*, not transactions):

- **Alert transactions**: both endpoints are fraud accounts *and* the amount lies below the
  smallest amount of any transaction that touches no fraud account (the generator draws alert
  amounts from their own, lower range; transactions between two fraud accounts at ordinary
  amounts are their background activity and stay normal). The floor is measured per sample and
  reported.
- **Groups**: connected components (undirected) of the alert-transaction graph — one or more
  overlapping pattern instances.
- **Scene**: the pattern type named in ``metadata.txt`` (``fan-in`` → ``fan_in``, ``cycles`` →
  ``cycle``) when it names exactly one; otherwise per group from its structure (a directed cycle
  → ``cycle``; one account receiving from most others → ``fan_in``; one sending to most others →
  ``fan_out``; else ``aml_pattern``). ``scene=`` overrides.

Output: ``time`` is a step (day) from :data:`START`; rows of one step are spread over that day
in file order. Accounts are ``<prefix><nodeid>``, transactions ``<prefix>t<row>``, groups
``<prefix>g<n>``; channel ``transfer``, currency ``USD``; no devices, IPs or contacts exist in
AMLSim, so those dimensions stay empty. ``accounts.csv`` keeps ``init_balance``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from paver.risk.events import InputFileError, format_timestamp

START = datetime(2017, 1, 1, tzinfo=UTC).timestamp()
_PATTERNS = {"fan-in": "fan_in", "fanin": "fan_in", "fan_in": "fan_in", "fan-out": "fan_out",
             "fanout": "fan_out", "fan_out": "fan_out", "cycle": "cycle", "cycles": "cycle",
             "scatter-gather": "scatter_gather", "gather-scatter": "gather_scatter",
             "bipartite": "bipartite", "stack": "stack", "random": "aml_random"}
NOTICE = "Derived from IBM AMLSim sample data (https://github.com/IBM/AMLSim), Apache-2.0."


def _read(path: Path, cols: tuple[str, ...]) -> Any:
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read: {exc}") from None
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputFileError(f"{path}:1: missing column(s): {', '.join(missing)}")
    for c in cols:
        bad = ~pd.to_numeric(df[c], errors="coerce").notna()
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise InputFileError(f"{path}:{line}: {c}: not a number ({df[c].iloc[line - 2]!r})")
        df[c] = pd.to_numeric(df[c])
    return df


def metadata_scene(path: Path) -> str | None:
    """The single pattern type named in ``metadata.txt`` (``None`` if absent or mixed)."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    m = re.search(r"patterns?\s*:\s*(.+)", text, re.IGNORECASE)
    if not m:
        return None
    kinds = re.findall(r"\d+\s+([A-Za-z_-]+)", m.group(1))
    names = {_PATTERNS.get(k.lower(), re.sub(r"[^a-z0-9]+", "_", k.lower()).strip("_"))
             for k in kinds}
    return names.pop() if len(names) == 1 else None


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    return connected_components(m, directed=False)[1]


def structural_scene(src: list[int], dst: list[int]) -> str:
    """Name a pattern instance from its alert transactions alone."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = sorted(set(src) | set(dst))
    ix = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    m = coo_matrix((np.ones(len(src)), ([ix[s] for s in src], [ix[d] for d in dst])),
                   shape=(n, n)).tocsr()
    n_scc, _ = connected_components(m, directed=True, connection="strong")
    if n_scc < n:
        return "cycle"
    pairs = set(zip(src, dst, strict=True))
    indeg: dict[int, int] = {}
    outdeg: dict[int, int] = {}
    for s, d in pairs:
        indeg[d] = indeg.get(d, 0) + 1
        outdeg[s] = outdeg.get(s, 0) + 1
    if max(indeg.values()) >= max(2, 0.5 * (n - 1)):
        return "fan_in"
    if max(outdeg.values()) >= max(2, 0.5 * (n - 1)):
        return "fan_out"
    return "aml_pattern"


def alert_mask(src: np.ndarray, dst: np.ndarray, val: np.ndarray,
               fraud_ids: set[int]) -> tuple[np.ndarray, float]:
    """Which transactions are alert transactions, and the normal amount floor (module
    docstring: both endpoints fraud accounts, amount below every clean transaction's)."""
    f_src = np.isin(src, list(fraud_ids))
    f_dst = np.isin(dst, list(fraud_ids))
    clean = ~f_src & ~f_dst
    floor = float(val[clean].min()) if clean.any() else float("inf")
    return f_src & f_dst & (val < floor), floor


def convert(samples: Sequence[tuple[str | Path, str | Path]], out_dir: str | Path,
            scene: str | None = None, prefixes: Sequence[str] | None = None) -> dict[str, Any]:
    """Convert one or more (nodes.csv, transactions.csv) samples into one Paver dataset.

    Parameters
    ----------
    samples
        Pairs of paths; ``metadata.txt`` is looked up beside ``nodes.csv``.
    out_dir
        Receives ``transactions.csv``, ``labels.csv``, ``accounts.csv`` and ``amlsim.json``.
    scene
        Scene name for every group (overrides metadata and structure).
    prefixes
        Id prefix per sample (default: none for one sample, ``s1_``, ``s2_`` … for several).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if prefixes is None:
        prefixes = [""] if len(samples) == 1 else [f"s{i + 1}_" for i in range(len(samples))]
    report: dict[str, Any] = {"notice": NOTICE, "samples": []}
    n_tx = n_risky = 0
    with (out / "transactions.csv").open("w", newline="", encoding="utf-8") as ft, \
         (out / "labels.csv").open("w", newline="", encoding="utf-8") as fl, \
         (out / "accounts.csv").open("w", newline="", encoding="utf-8") as fa:
        wt, wl, wa = csv.writer(ft), csv.writer(fl), csv.writer(fa)
        wt.writerow(["txn_id", "timestamp", "from_account", "to_account", "amount", "currency",
                     "channel"])
        wl.writerow(["txn_id", "scene", "group"])
        wa.writerow(["account_id", "init_balance"])
        for (nodes_p, tx_p), prefix in zip(samples, prefixes, strict=True):
            nodes_p, tx_p = Path(nodes_p), Path(tx_p)
            nodes = _read(nodes_p, ("nodeid", "isFraud"))
            tx = _read(tx_p, ("sourceNodeId", "targetNodeId", "value", "time"))
            ids = nodes["nodeid"].to_numpy(dtype=np.int64)
            fraud_ids = set(ids[nodes["isFraud"].to_numpy() == 1].tolist())
            src = tx["sourceNodeId"].to_numpy(dtype=np.int64)
            dst = tx["targetNodeId"].to_numpy(dtype=np.int64)
            val = tx["value"].to_numpy(dtype=np.float64)
            step = tx["time"].to_numpy(dtype=np.float64)
            unknown = sorted((set(src.tolist()) | set(dst.tolist())) - set(ids.tolist()))
            if unknown:
                row = int(np.flatnonzero(np.isin(src, unknown) | np.isin(dst, unknown))[0])
                raise InputFileError(f"{tx_p}:{row + 2}: account {unknown[0]} is not in {nodes_p}")
            alert, floor = alert_mask(src, dst, val, fraud_ids)
            meta_scene = metadata_scene(nodes_p.parent / "metadata.txt")
            # groups: components of the alert graph
            rows = np.flatnonzero(alert)
            group_of = np.full(len(tx), -1)
            scene_of: dict[int, str] = {}
            if len(rows):
                uniq, inv = np.unique(np.concatenate([src[rows], dst[rows]]), return_inverse=True)
                comp = _components(len(uniq), inv[: len(rows)], inv[len(rows):])
                group_of[rows] = comp[inv[: len(rows)]]
                for g in np.unique(comp):
                    sel = rows[group_of[rows] == g]
                    scene_of[int(g)] = (scene or meta_scene
                                        or structural_scene(src[sel].tolist(), dst[sel].tolist()))
            # timestamps: spread each step's rows over the day, in file order
            order = np.lexsort((np.arange(len(tx)), step))
            ts = np.empty(len(tx))
            s_sorted = step[order]
            starts = np.r_[0, np.flatnonzero(s_sorted[1:] != s_sorted[:-1]) + 1]
            counts = np.diff(np.r_[starts, len(order)])
            rank = np.arange(len(order)) - np.repeat(starts, counts)
            per = np.repeat(86400.0 / counts, counts)
            ts[order] = START + s_sorted * 86400.0 + np.floor(rank * per)
            for i in order:
                tid = f"{prefix}t{i}"
                wt.writerow([tid, format_timestamp(float(ts[i])), f"{prefix}{src[i]}",
                             f"{prefix}{dst[i]}", f"{val[i]:.2f}", "USD", "transfer"])
                g = int(group_of[i])
                if g >= 0:
                    wl.writerow([tid, scene_of[g], f"{prefix}g{g}"])
                else:
                    wl.writerow([tid, "", ""])
            bal = nodes["init_balance"].to_numpy() if "init_balance" in nodes else None
            for k, v in enumerate(ids):
                wa.writerow([f"{prefix}{v}", f"{bal[k]:.2f}" if bal is not None else ""])
            n_tx += len(tx)
            n_risky += int(alert.sum())
            report["samples"].append({
                "nodes": str(nodes_p), "transactions": str(tx_p), "prefix": prefix,
                "accounts": len(ids), "fraud_accounts": len(fraud_ids),
                "transactions_rows": len(tx), "alert_transactions": int(alert.sum()),
                "normal_amount_floor": floor, "groups": len(scene_of),
                "metadata_scene": meta_scene,
                "scenes": {s: sum(1 for v in scene_of.values() if v == s)
                           for s in sorted(set(scene_of.values()))},
            })
    report["transactions"] = n_tx
    report["risky_transactions"] = n_risky
    (out / "amlsim.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def subsample(nodes_path: str | Path, transactions_path: str | Path, out_dir: str | Path,
              instances: int, normal_accounts: int, seed: int = 0,
              gzip: bool = False) -> dict[str, Any]:
    """A smaller AMLSim sample in the same file formats: some pattern instances whole, with
    the activity around them.

    The kept accounts are the accounts of ``instances`` randomly chosen pattern instances
    (connected components of the alert transactions, as :func:`convert` groups them) and
    ``normal_accounts`` randomly chosen accounts that are not fraud accounts. Every
    transaction that touches a kept account is kept (so a kept account's own activity —
    degrees, bursts, amounts — is what it was in the full sample); the counterparties it
    brings in are written to ``nodes.csv`` as they were. ``metadata.txt`` is copied
    unchanged (it names the pattern type; its counts are the full sample's). ``gzip`` writes
    ``nodes.csv.gz`` and ``transactions.csv.gz`` (byte for byte reproducible: no time stamp),
    which :func:`convert` reads as they are.

    Returns what was kept: ``{"instances", "instances_available", "accounts",
    "kept_accounts", "transactions", "alert_transactions", "seed", …}``.
    """
    nodes_p, tx_p, out = Path(nodes_path), Path(transactions_path), Path(out_dir)
    nodes = _read(nodes_p, ("nodeid", "isFraud"))
    tx = _read(tx_p, ("sourceNodeId", "targetNodeId", "value", "time"))
    fraud = nodes["isFraud"].to_numpy() == 1
    ids = nodes["nodeid"].to_numpy(dtype=np.int64)
    src = tx["sourceNodeId"].to_numpy(dtype=np.int64)
    dst = tx["targetNodeId"].to_numpy(dtype=np.int64)
    alert, _ = alert_mask(src, dst, tx["value"].to_numpy(dtype=np.float64),
                          set(ids[fraud].tolist()))
    rows = np.flatnonzero(alert)
    uniq, inv = np.unique(np.concatenate([src[rows], dst[rows]]), return_inverse=True)
    comp = _components(len(uniq), inv[: len(rows)], inv[len(rows):])
    rng = np.random.default_rng(seed)
    n_comp = int(comp.max()) + 1 if len(comp) else 0
    if not 0 < instances <= n_comp:
        raise InputFileError(f"{nodes_p}: {n_comp} pattern instances, asked for {instances}")
    chosen = rng.choice(n_comp, instances, replace=False)
    normal_pool = ids[~fraud]
    if normal_accounts > len(normal_pool):
        raise InputFileError(f"{nodes_p}: {len(normal_pool)} normal accounts, asked for "
                             f"{normal_accounts}")
    kept = np.union1d(uniq[np.isin(comp, chosen)],
                      rng.choice(normal_pool, normal_accounts, replace=False))
    keep_tx = np.isin(src, kept) | np.isin(dst, kept)
    seen = np.union1d(src[keep_tx], dst[keep_tx])
    out.mkdir(parents=True, exist_ok=True)
    ext, comp = (".csv.gz", {"method": "gzip", "mtime": 0}) if gzip else (".csv", None)
    nodes[np.isin(ids, seen)].to_csv(out / f"nodes{ext}", index=False, compression=comp)
    tx[keep_tx].to_csv(out / f"transactions{ext}", index=False, float_format="%.2f",
                       compression=comp)
    meta = nodes_p.parent / "metadata.txt"
    if meta.is_file():
        (out / "metadata.txt").write_bytes(meta.read_bytes())
    return {"nodes": str(nodes_p), "transactions": str(tx_p), "seed": seed,
            "instances": instances, "instances_available": n_comp,
            "normal_accounts": normal_accounts, "kept_accounts": len(kept),
            "accounts": len(seen), "transactions_rows": int(keep_tx.sum()),
            "alert_transactions": int((alert & keep_tx).sum())}
