"""``paver risk``: build the risk-scene knowledge base, screen events, evaluate, convert AMLSim.

Contract (other tools parse it):

- ``paver risk build --transactions T.csv --labels L.csv [--kb DIR] [--feedback D.csv]
  [--mode retrospective|realtime]`` builds a new knowledge-base version under ``DIR`` (default
  ``out/risk-kb``; earlier versions stay) and prints a JSON summary (``version``, ``scenes``
  with sample counts, ``meta``). Transactions in neither ``L.csv`` nor the analysts' decisions
  ``D.csv`` (``txn_id,decision,scene,analyst,note``; :mod:`paver.risk.feedback`) are
  unlabelled: associated data, not samples.
- ``paver risk backtest --transactions T.csv --labels L.csv --kb DIR --versions A,B [--json]``
  screens the labelled events with each version: ``{"mode", "events", "versions": {v:
  {"macro_f1", "accuracy", "detection", "per_scene", "alerts"}}, "diff": {"from", "to",
  "gained", "lost", "scene_changed"}}`` (:mod:`paver.risk.backtest`).
- ``paver risk tune --kb DIR --kb-version V --transactions T.csv --labels L.csv
  --target-precision P [--json]`` writes a new version with per-scene thresholds tuned on half
  of the labelled events and prints the other half's figures before and after.
- ``paver risk screen --transactions T.csv [--kb DIR]`` prints one JSON decision per line
  (``event_id``, ``risky``, ``scene``, ``match_degree``, ``threshold``, ``action``,
  ``kb_version``, ``explanation`` …), in file order.
- ``paver risk evaluate --transactions T.csv --labels L.csv --train-fraction F --seed S
  [--mode retrospective|realtime] --json`` prints ``mode``, ``accuracy``, ``macro_f1``,
  ``per_scene`` and ``detection`` (see :mod:`paver.risk.evaluate`; normal events flagged as a
  scene count against it); the table output ends with the timing.
- ``paver risk world --seed S --accounts N [--scene-set paver|amlworld] --out DIR`` writes a
  synthetic window with injected scenes (``amlworld``: the eight AMLworld typologies, labelled
  ``fan-out``, ``fan-in`` … as written there).
- ``paver risk convert-amlsim --nodes N.csv --transactions T.csv --out DIR`` (options may repeat
  to merge several samples) writes ``transactions.csv``/``labels.csv``/``accounts.csv``.
- ``paver risk sample-amlsim --nodes N.csv --transactions T.csv --instances K
  [--normal-accounts M] [--seed S] [--gzip] --out DIR`` writes a smaller sample in AMLSim's own
  formats (K pattern instances whole, every transfer of their accounts and of M normal accounts;
  :func:`paver_dev.amlsim.subsample`) and prints what it kept as JSON.

``accounts.csv``, ``devices.csv`` and ``contacts.csv`` beside the transactions file are loaded
when present (``--side-dir`` to look elsewhere). A bad input file exits with code 2 and a message
naming the file and line (no traceback).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

group = click.Group(
    "risk", help="Risk-scene identification: knowledge base, screening, evaluation."
)

DEFAULT_KB = Path("out/risk-kb")


class InputError(click.ClickException):
    """A user-facing input problem (exit code 2)."""

    exit_code = 2


def _fail_on_input(fn: Any) -> Any:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from paver.risk.events import InputFileError
        from paver.risk.kb import KBError
        from paver.ruleengine import RuleFileError

        try:
            return fn(*args, **kwargs)
        except (InputFileError, KBError, RuleFileError) as exc:
            raise InputError(str(exc)) from None

    return wrapper


_transactions = click.option(
    "--transactions", "transactions", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="transactions.csv",
)
_side = click.option(
    "--side-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="Directory of accounts.csv / devices.csv / contacts.csv [default: beside T.csv].",
)
_kb = click.option(
    "--kb", "kb_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_KB,
    show_default=True, help="Knowledge-base directory (versions are kept).",
)
_rules = click.option(
    "--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None, help="Scene rules file [default: rules/risk_scenes.yaml].",
)


_mode = click.option(
    "--mode", type=click.Choice(["retrospective", "realtime"]), default="retrospective",
    show_default=True,
    help="retrospective: features over the whole window; realtime: each event from the past "
         "and itself only (events replayed in time order).")
_labels = click.option("--labels", required=True,
                       type=click.Path(exists=True, dir_okay=False, path_type=Path),
                       help="labels.csv")


def _load_rules(path: Path | None) -> Any:
    from paver.risk.scenes import SceneRules

    return SceneRules.load(path)


@group.command("build")
@_transactions
@_labels
@_side
@_kb
@_rules
@click.option("--seed", type=int, default=0, show_default=True, help="Clustering seed.")
@click.option("--feedback", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Analysts' decisions.csv (txn_id,decision,scene,analyst,note): "
                                 "confirmed alerts become risky samples, dismissed ones normal.")
@_mode
@_fail_on_input
def build_command(transactions: Path, labels: Path, side_dir: Path | None, kb_dir: Path,
                  rules_path: Path | None, seed: int, feedback: Path | None, mode: str) -> None:
    """Build a knowledge-base version from labelled transactions (and analysts' decisions).

    Transactions in neither file are unlabelled: they feed the associated data, not samples.
    """
    from paver.risk.feedback import read_feedback, with_decisions
    from paver.risk.kb import LocalKBRepository
    from paver.risk.screening import build_kb_from_rows, dataset_features, load_dataset

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rules = _load_rules(rules_path)
    ds = load_dataset(transactions, labels, side_dir)
    decisions = read_feedback(feedback, set(ds.table.txn_id)) if feedback else {}
    ds, rows = with_decisions(ds, decisions)
    X, _ = dataset_features(ds, mode)
    kb = build_kb_from_rows(X, ds, rows, rules, seed=seed)
    kb.meta = {**kb.meta, "mode": mode, "feedback_decisions": len(decisions),
               "unlabelled_rows": len(ds.table) - len(rows)}
    LocalKBRepository(kb_dir).save(kb)
    click.echo(json.dumps({"version": kb.version, "kb": str(kb_dir),
                           "scenes": kb.scene_summary(), "meta": kb.meta}, indent=2,
                          ensure_ascii=False))


@group.command("screen")
@_transactions
@_side
@_kb
@click.option("--kb-version", default=None, help="A stored version [default: the latest].")
@_rules
@click.option("--only-risky", is_flag=True, help="Print risky decisions only.")
@click.option("--text", "as_text", is_flag=True,
              help="Print each decision's explanation as text (the API's texts) instead of JSON.")
@_fail_on_input
def screen_command(transactions: Path, side_dir: Path | None, kb_dir: Path,
                   kb_version: str | None, rules_path: Path | None, only_risky: bool,
                   as_text: bool) -> None:
    """Screen every transaction of T.csv; one JSON decision per line on stdout."""
    from paver.risk.explain import decision_lines
    from paver.risk.kb import LocalKBRepository
    from paver.risk.matcher import Matcher
    from paver.risk.screening import batch_features, load_dataset, screen_table

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ds = load_dataset(transactions, None, side_dir)
    kb = LocalKBRepository(kb_dir).load(kb_version)
    matcher = Matcher(kb, _load_rules(rules_path))
    X, _ = batch_features(ds)
    out = sys.stdout
    for d in screen_table(matcher, X, ds.table):
        if only_risky and not d["risky"]:
            continue
        if as_text:
            out.write("\n".join(decision_lines(d)) + "\n")
        else:
            out.write(json.dumps(d, ensure_ascii=False) + "\n")


@group.command("evaluate")
@_transactions
@_labels
@_side
@click.option("--train-fraction", type=float, default=0.5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_mode
@_rules
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@_fail_on_input
def evaluate_command(transactions: Path, labels: Path, side_dir: Path | None,
                     train_fraction: float, seed: int, mode: str, rules_path: Path | None,
                     as_json: bool) -> None:
    """Split by pattern instance, build on the training side, screen and score the rest."""
    from paver.risk.evaluate import evaluate_dataset
    from paver.risk.screening import load_dataset

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not 0.0 < train_fraction < 1.0:
        raise InputError("--train-fraction: must be strictly between 0 and 1")
    rules = _load_rules(rules_path)
    ds = load_dataset(transactions, labels, side_dir)
    if not any(lab.scene for lab in ds.labels.values()):
        raise InputError(f"{labels}: no risky rows (every scene is empty)")
    res = evaluate_dataset(ds, rules, train_fraction, seed, mode=mode)
    if as_json:
        click.echo(json.dumps(res, indent=2, ensure_ascii=False))
        return
    click.echo(f"mode {res['mode']}, {res['data']['rows']} transactions, split by pattern "
               f"instance (train fraction {train_fraction}, seed {seed})")
    click.echo(f"scene identification (flagged normals count against their scene): accuracy "
               f"{res['accuracy']:.4f}  macro-F1 {res['macro_f1']:.4f}")
    click.echo(f"{'scene':<32}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for s, m in res["per_scene"].items():
        click.echo(f"{s:<32}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}"
                   f"{m['support']:>10}")
    d = res["detection"]
    click.echo(f"detection: precision {d['precision']:.4f}  recall {d['recall']:.4f}  "
               f"F1 {d['f1']:.4f}  (tp {d['tp']}, fp {d['fp']}, fn {d['fn']}, tn {d['tn']})")
    sec = res["seconds"]
    click.echo(f"timing: features {sec['features']:.2f} s, knowledge base {sec['build']:.2f} s, "
               f"screening {sec['screen']:.2f} s, total {sec['total']:.2f} s wall clock, "
               f"{sec['cpu_total']:.2f} s CPU (one process)")


@group.command("world")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--accounts", type=click.IntRange(50, 2_000_000), default=3000, show_default=True,
              help="Ordinary accounts.")
@click.option("--instances", type=click.IntRange(1, 100_000), default=None,
              help="Instances per scene [default: accounts // 250, at least 3].")
@click.option("--scene-set", type=click.Choice(["paver", "amlworld"]), default="paver",
              show_default=True, help="amlworld: the eight AMLworld laundering typologies.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def world_command(seed: int, accounts: int, instances: int | None, scene_set: str,
                  out_dir: Path) -> None:
    """Write a synthetic transfer window with injected, labelled risk scenes."""
    import numpy as np

    from paver_dev.world import transfers

    w = transfers.generate(np.random.default_rng(seed), accounts,
                           instances_per_scene=instances, scene_set=scene_set)
    counts = w.write(out_dir)
    click.echo(json.dumps({"out": str(out_dir), "seed": seed, "scene_set": scene_set,
                           "files": counts, "scenes": w.scenes}, indent=2, ensure_ascii=False))


@group.command("convert-amlsim")
@click.option("--nodes", "nodes", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="AMLSim nodes.csv (repeat with --transactions to merge samples).")
@click.option("--transactions", "txs", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="AMLSim transactions.csv.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--scene", default=None, help="Scene name for every group (overrides metadata).")
@_fail_on_input
def convert_amlsim_command(nodes: tuple[Path, ...], txs: tuple[Path, ...], out_dir: Path,
                           scene: str | None) -> None:
    """Convert IBM AMLSim sample graph(s) into transactions.csv / labels.csv."""
    from paver_dev.amlsim import convert

    if len(nodes) != len(txs):
        raise InputError("give one --transactions per --nodes (they pair in order)")
    report = convert(list(zip(nodes, txs, strict=True)), out_dir, scene=scene)
    click.echo(json.dumps(report, indent=2))


@group.command("sample-amlsim")
@click.option("--nodes", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="AMLSim nodes.csv.")
@click.option("--transactions", "txs", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="AMLSim transactions.csv.")
@click.option("--instances", type=click.IntRange(1, None), required=True,
              help="Pattern instances to keep whole (chosen at random).")
@click.option("--normal-accounts", type=click.IntRange(0, None), default=300, show_default=True,
              help="Accounts that are not fraud accounts to keep (chosen at random).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--gzip", "gzip", is_flag=True, help="Write nodes.csv.gz and transactions.csv.gz.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@_fail_on_input
def sample_amlsim_command(nodes: Path, txs: Path, instances: int, normal_accounts: int,
                          seed: int, gzip: bool, out_dir: Path) -> None:
    """A smaller AMLSim sample (same formats): some pattern instances whole, every transfer of
    their accounts and of some normal accounts."""
    from paver_dev.amlsim import subsample

    click.echo(json.dumps(subsample(nodes, txs, out_dir, instances, normal_accounts, seed,
                                    gzip=gzip), indent=2))


@group.command("scenes")
@_kb
@click.option("--kb-version", default=None)
@_fail_on_input
def scenes_command(kb_dir: Path, kb_version: str | None) -> None:
    """List the scenes of a knowledge-base version (and every stored version)."""
    from paver.risk.kb import LocalKBRepository

    repo = LocalKBRepository(kb_dir)
    kb = repo.load(kb_version)
    click.echo(json.dumps({"version": kb.version, "versions": repo.versions(),
                           "scenes": kb.scene_summary()}, indent=2))


def _print_scores(title: str, res: dict[str, Any]) -> None:
    d = res["detection"]
    click.echo(f"{title}: macro-F1 {res['macro_f1']:.4f}; detection precision "
               f"{d['precision']:.4f}, recall {d['recall']:.4f}, F1 {d['f1']:.4f} "
               f"(tp {d['tp']}, fp {d['fp']}, fn {d['fn']})")
    click.echo(f"  {'scene':<32}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for s, m in res["per_scene"].items():
        click.echo(f"  {s:<32}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}"
                   f"{m['support']:>10}")


def _labelled(transactions: Path, labels: Path, side_dir: Path | None) -> Any:
    from paver.risk.feedback import labelled_rows
    from paver.risk.screening import load_dataset

    ds = load_dataset(transactions, labels, side_dir)
    rows = labelled_rows(ds.table.txn_id, ds.labels)
    if not len(rows):
        raise InputError(f"{labels}: no row names a transaction of {transactions}")
    return ds, rows


@group.command("backtest")
@_transactions
@_labels
@_side
@_kb
@click.option("--versions", required=True,
              help="Comma-separated stored versions to compare (the diff is first → last).")
@_mode
@_rules
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@_fail_on_input
def backtest_command(transactions: Path, labels: Path, side_dir: Path | None, kb_dir: Path,
                     versions: str, mode: str, rules_path: Path | None, as_json: bool) -> None:
    """Screen the labelled history with each version; figures and what would change."""
    from paver.risk.backtest import backtest
    from paver.risk.kb import LocalKBRepository
    from paver.risk.screening import dataset_features

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    names = [v.strip() for v in versions.split(",") if v.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise InputError("--versions: two or more different versions, comma-separated")
    repo = LocalKBRepository(kb_dir)
    kbs = {v: repo.load(v) for v in names}
    rules = _load_rules(rules_path)
    ds, rows = _labelled(transactions, labels, side_dir)
    X, _ = dataset_features(ds, mode)
    res = backtest(ds, X, kbs, rules, rows, mode)
    if as_json:
        click.echo(json.dumps(res, indent=2, ensure_ascii=False))
        return
    click.echo(f"mode {mode}, {res['events']} labelled events screened by each version "
               "(flagged normals count against their scene)")
    for v, r in res["versions"].items():
        _print_scores(f"{v} ({r['alerts']} alerts)", r)
    d = res["diff"]
    click.echo(f"{d['from']} → {d['to']}: {len(d['gained'])} alerts gained, {len(d['lost'])} "
               f"lost, {len(d['scene_changed'])} with another scene")


@group.command("tune")
@_kb
@click.option("--kb-version", required=True, help="The stored version to tune.")
@_transactions
@_labels
@_side
@click.option("--target-precision", type=click.FloatRange(0.0, 1.0, min_open=True),
              required=True, help="Precision each scene's alerts should reach.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the tuning / held-out split (by pattern instance).")
@_mode
@_rules
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@_fail_on_input
def tune_command(kb_dir: Path, kb_version: str, transactions: Path, labels: Path,
                 side_dir: Path | None, target_precision: float, seed: int, mode: str,
                 rules_path: Path | None, as_json: bool) -> None:
    """Tune per-scene thresholds to a target precision; write them as a new version."""
    from paver.risk.backtest import tune
    from paver.risk.kb import LocalKBRepository
    from paver.risk.screening import dataset_features

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    repo = LocalKBRepository(kb_dir)
    kb = repo.load(kb_version)
    rules = _load_rules(rules_path)
    ds, rows = _labelled(transactions, labels, side_dir)
    X, _ = dataset_features(ds, mode)
    tuned, res = tune(ds, X, kb, rules, rows, target_precision, seed=seed, mode=mode)
    repo.save(tuned)
    if as_json:
        click.echo(json.dumps(res, indent=2, ensure_ascii=False))
        return
    click.echo(f"{res['version']} (tuned from {res['tuned_from']}, mode {mode}) on "
               f"{res['tuning_events']} events; target precision {target_precision}")
    for s, t in res["thresholds"].items():
        pin = " (pinned by the rules: not used)" if t["pinned"] else ""
        click.echo(f"  {s:<32} {t['before']:.2f} → {t['after']:.2f}{pin}")
    _print_scores(f"held-out ({res['held_out']['events']} events), before",
                  res["held_out_before"])
    _print_scores("held-out, tuned", res["held_out"])
