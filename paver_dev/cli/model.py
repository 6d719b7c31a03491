"""``paver model``: train and evaluate the trust-tiering model, or a model on your own table.

- ``paver model train --world DIR [--models DIR] [--seed S] [--publish]`` trains the four
  dimension scorers + overall on the world's labelled partners, writes a versioned artifact to
  ``--models`` (default ``out/models``) and, with ``--publish``, to S3 + the ModelRegistry.
- ``paver model evaluate --world DIR [--models DIR]`` prints AUC / Brier per dimension on the
  held-out partners (on every partner when the world is not the one trained on).
- ``paver model train --table FILE.csv --label COLUMN [--positive VALUE]`` and
  ``paver model evaluate --table FILE.csv --label COLUMN [--positive VALUE] --folds K --seed S
  --json`` do the same for any CSV table (stratified K-fold; JSON with ``auc``, ``auc_std``,
  ``n``). Numeric and categorical columns are encoded, missing values imputed.
- ``paver model train --partners --table HISTORY.csv --label OVERALL [--publish
  [--no-activate]]`` trains the trust-tiering model on an operator's own partner history (one
  row per partner: ``partner_id``, Paver's partner feature columns, ``outcome_risk`` …
  ``outcome_value`` and the overall outcome ``OVERALL``; or one table per dimension with
  ``--dimension-table DIM=FILE``), holds 30 % of the partners out, and registers the version
  (``--publish``: S3 + ModelRegistry) so a campaign can choose it (``model_version``).
  ``paver model evaluate --partners --table … --label …`` prints its held-out AUC.

- ``paver model what-if --rules FILE --world DIR [--models DIR] [--regions R,…]
  [--threshold T] [--json]`` scores the world's partners with the active local model and
  prints the partners whose decision a candidate selection rules file would flip (and why),
  against ``rules/partner_selection.yaml``; nothing is stored.

- ``paver model drift --world DIR [--models DIR] [--threshold T] [--json]``: the population
  stability index of every scorer's inputs and score between the active local model's
  training partners and the world's partners (a table, worst first; ``--json``: the object
  ``GET /drift`` answers under ``trust``); exit 0 whether drifted or not.

A bad file, column or label exits 2 with a one-line error and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

group = click.Group("model", help="Train and evaluate the trust-tiering model.")

_DIMS = ("risk", "trust", "quality", "value", "overall")


class ModelCliError(click.ClickException):
    exit_code = 2


def _table_options(f: Any) -> Any:
    f = click.option("--positive", default=None,
                     help="Label value of the positive class (default: 1/true/yes).")(f)
    f = click.option("--label", default=None, help="Label column of --table.")(f)
    f = click.option("--table", "table", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="Your own CSV table instead of a world.")(f)
    f = click.option("--world", "world", type=click.Path(path_type=Path), default=None,
                     help="World directory (partners.csv, merchants.csv, metrics.csv, "
                          "partner_truth.csv).")(f)
    f = click.option("--models", "models", type=click.Path(file_okay=False, path_type=Path),
                     default=Path("out/models"), show_default=True,
                     help="Local artifact directory.")(f)
    f = click.option("--seed", type=int, default=7, show_default=True)(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)
    f = click.option("--partners", "partners", is_flag=True,
                     help="The table is partner history: train the trust-tiering model "
                          "(partner_id, partner features, outcome_<dimension>, --label).")(f)
    f = click.option("--dimension-table", "dimension_tables", multiple=True,
                     metavar="DIM=FILE", help="Partner history of one dimension (repeat; "
                     "joined on partner_id with --table if given). Implies --partners.")(f)
    return f


def _history(table: Path | None, dimension_tables: tuple[str, ...], label: str) -> tuple[
        Any, Any, dict[str, Any], str]:
    """(features, truth, info, source) of the partner-history table(s)."""
    from paver.trust import DIMENSIONS
    from paver.trust.table import partner_history, read_table

    paths: list[Path] = [table] if table is not None else []
    for spec in dimension_tables:
        dim, sep, path = spec.partition("=")
        if not sep or dim not in DIMENSIONS or not path:
            raise ModelCliError(f"--dimension-table {spec!r}: give DIM=FILE with DIM one of "
                                f"{', '.join(DIMENSIONS)}")
        paths.append(Path(path))
    features, truth, info = partner_history([read_table(p) for p in paths], label)
    return features, truth, info, "table:" + ",".join(p.name for p in paths)


def _check_mode(table: Path | None, label: str | None, world: Path | None,
                partners: bool = False) -> None:
    if partners:
        if world is not None:
            raise ModelCliError("--partners trains on your table(s), not on --world")
        if not label:
            raise ModelCliError("--partners needs --label COLUMN (the overall outcome)")
        return
    if table is not None and world is not None:
        raise ModelCliError("give either --table or --world, not both")
    if table is not None and not label:
        raise ModelCliError("--table needs --label COLUMN")
    if table is None and world is None:
        raise ModelCliError("give --world DIR (a generated world) or --table FILE.csv --label COL")
    if table is None and label:
        raise ModelCliError("--label goes with --table")


def _emit(payload: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        click.echo("\n".join(lines))


def _fmt(v: Any) -> str:
    return "   n/a" if v is None else f"{v:6.3f}"


@group.command("train")
@_table_options
@click.option("--publish", is_flag=True,
              help="Also publish to S3 + ModelRegistry (the configured AWS endpoint).")
@click.option("--activate/--no-activate", default=True, show_default=True,
              help="Make the published trust model the active one (else only registered: a "
                   "campaign can still choose it by model_version).")
def train(table: Path | None, label: str | None, positive: str | None, world: Path | None,
          models: Path, seed: int, as_json: bool, partners: bool,
          dimension_tables: tuple[str, ...], publish: bool, activate: bool) -> None:
    """Train and write a versioned artifact."""
    from paver.trust.artifacts import LocalArtifactStore
    from paver.trust.scorer import TableError
    from paver.trust.table import read_table, train_table
    from paver.trust.training import train_trust_model

    partners = partners or bool(dimension_tables)
    _check_mode(table, label, world, partners)
    store = LocalArtifactStore(models)
    info: dict[str, Any] = {}
    try:
        if partners:
            assert label is not None
            features, truth, info, source = _history(table, dimension_tables, label)
        elif table is not None:
            assert label is not None
            tm = train_table(read_table(table), label, positive, seed=seed, source=str(table))
            name = f"table-{table.stem}"
            store.publish(name, tm.to_dict())
            payload = {"model": name, "version": tm.version, "artifact_dir": str(models / name),
                       **tm.metrics, "dropped": tm.schema.dropped}
            _emit(payload, as_json, [
                f"trained {name} version {tm.version} on {tm.metrics['n']} rows "
                f"(positive = {tm.positive!r})",
                f"cross-validated AUC {_fmt(tm.metrics['cv_auc'])}, "
                f"Brier {_fmt(tm.metrics['cv_brier'])}",
                f"artifact: {models / name / (tm.version + '.json')}",
            ])
            return
        else:
            assert world is not None
            features, truth = _world_data(world)
            source = f"world:{world}"
        model = train_trust_model(features, truth, seed=seed)
        model.source = source
        store.publish("trust", model.to_dict())  # the local directory: what evaluate reads
        published = None
        if publish:
            from paver.storage.registry import create_all
            from paver.trust.artifacts import publish_trust_model

            create_all()
            published = publish_trust_model(model, activate=activate)
    except TableError as exc:
        raise ModelCliError(str(exc)) from None
    payload = {"model": "trust", "version": model.version, "metrics": model.metrics,
               "features": model.features, "data_hash": model.data_hash,
               "published": published, "active": activate, "source": source, **info}
    n = len(model.holdout) + model.metrics["overall"]["n_train"]
    lines = [f"trained trust model {model.version} on {n} partners ({len(model.holdout)} held "
             f"out) from {source}", "dimension   AUC(held-out)  Brier  cv-AUC"]
    for d in _DIMS:
        m = model.metrics[d]
        lines.append(f"{d:<10} {_fmt(m.get('auc'))}        {_fmt(m.get('brier'))} "
                     f"{_fmt(m.get('cv_auc'))}")
    lines.append(f"artifact: {models / 'trust' / (model.version + '.json')}")
    if published:
        lines.append(f"published to S3/ModelRegistry as {published}"
                     + ("" if activate else " (registered, not active)"))
    _emit(payload, as_json, lines)


@group.command("evaluate")
@_table_options
@click.option("--folds", type=click.IntRange(2, 50), default=5, show_default=True,
              help="Stratified folds (--table).")
def evaluate(table: Path | None, label: str | None, positive: str | None, world: Path | None,
             models: Path, seed: int, as_json: bool, partners: bool,
             dimension_tables: tuple[str, ...], folds: int) -> None:
    """Print AUC / Brier (held-out partners, or K-fold on --table)."""
    from paver.trust.scorer import TableError
    from paver.trust.table import evaluate_table, read_table

    partners = partners or bool(dimension_tables)
    _check_mode(table, label, world, partners)
    try:
        if partners:
            assert label is not None
            features, truth, _, source = _history(table, dimension_tables, label)
            res = _evaluate_trust(features, truth, models, source)
        elif table is not None:
            assert label is not None
            res = evaluate_table(read_table(table), label, positive, folds=folds, seed=seed)
            _emit(res, as_json, [
                f"{table.name}: {res['n']} rows, {res['positives']} positive "
                f"({res['positive']!r}), {folds}-fold stratified, seed {seed}",
                f"AUC {res['auc']:.4f} ± {res['auc_std']:.4f}   Brier {res['brier']:.4f}",
            ])
            return
        else:
            assert world is not None
            features, truth = _world_data(world)
            res = _evaluate_trust(features, truth, models, f"world {world}")
    except TableError as exc:
        raise ModelCliError(str(exc)) from None
    lines = [f"trust model {res['version']} on {res['partners']} ({res['n']} partners)",
             "dimension     AUC   Brier  positives"]
    for d in _DIMS:
        m = res["metrics"][d]
        lines.append(f"{d:<10} {_fmt(m['auc'])} {_fmt(m['brier'])}  {m['positives']:>4}/{m['n']}")
    _emit(res, as_json, lines)


def _world_data(world: Path) -> tuple[Any, Any]:
    from paver.trust.service import world_training_data

    try:
        return world_training_data(world)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise ModelCliError(f"--world {world}: {exc}") from None


def _evaluate_trust(features: Any, truth: Any, models: Path, source: str) -> dict[str, Any]:
    """The active local trust model on partners with known outcomes: its held-out partners
    when these are the data it was trained on, else every partner."""
    from paver.trust import DIMENSIONS
    from paver.trust.artifacts import LocalArtifactStore, NoModelError
    from paver.trust.model import TrustModel
    from paver.trust.training import data_hash, evaluate_trust_model

    try:
        model = TrustModel.from_dict(LocalArtifactStore(models).load_active("trust"))
    except NoModelError as exc:
        raise ModelCliError(str(exc)) from None
    t = truth.set_index(truth["partner_id"].astype(str))
    common = features.index.intersection(t.index)
    cols = [c for c in model.feature_list if c in features.columns]
    same = data_hash(features.loc[common, cols].sort_index(),
                     t.loc[common, [f"outcome_{d}" for d in (*DIMENSIONS, "overall")]]
                     .sort_index()) == model.data_hash
    if same:
        features = features.loc[features.index.intersection(model.holdout)]
    metrics = evaluate_trust_model(model, features, truth)
    return {"version": model.version, "partners": "held-out partners" if same else
            f"all partners (data the model was not trained on: {source})", "n": len(features),
            "metrics": metrics}


@group.command("what-if")
@click.option("--rules", "rules_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A candidate selection rules file (the shape of partner_selection.yaml).")
@click.option("--world", "world", required=True, type=click.Path(file_okay=False,
                                                                 path_type=Path))
@click.option("--models", "models", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/models"), show_default=True)
@click.option("--regions", default="", help="Campaign regions, comma-separated [all].")
@click.option("--threshold", type=click.FloatRange(0, 100), default=None,
              help="The campaign's threshold [the policy's default].")
@click.option("--json", "as_json", is_flag=True)
def what_if_command(rules_path: Path, world: Path, models: Path, regions: str,
                    threshold: float | None, as_json: bool) -> None:
    """Which partners a candidate rules file would select differently, and why."""
    from paver.ruleengine import RuleFileError, load_rule_file
    from paver.trust.artifacts import LocalArtifactStore, NoModelError
    from paver.trust.model import TrustModel
    from paver.trust.selection import SelectionPolicy
    from paver.trust.service import frames_from_world, score_frames, what_if

    try:
        candidate = load_rule_file(rules_path, SelectionPolicy)
        model = TrustModel.from_dict(LocalArtifactStore(models).load_active("trust"))
        frames = frames_from_world(world)
    except (RuleFileError, NoModelError) as exc:
        raise ModelCliError(str(exc)) from None
    except (OSError, ValueError, KeyError) as exc:
        raise ModelCliError(f"--world {world}: {exc}") from None
    wanted = [r.strip() for r in regions.split(",") if r.strip()]
    res = what_if(score_frames(frames, model).facts(wanted), candidate, threshold=threshold,
                  regions=wanted)
    lines = [f"{res['scored']} partners scored with {model.version}; {len(res['flips'])} "
             f"would change under {rules_path}"]
    for f in res["flips"]:
        b, a = f["before"], f["after"]
        lines.append(f"{f['partner_id']}: {'selected' if b['selected'] else 'not selected'} "
                     f"(tier {b['tier']}) → {'selected' if a['selected'] else 'not selected'} "
                     f"(tier {a['tier']}): {'; '.join(a['reasons'])}")
    _emit({**res, "model_version": model.version}, as_json, lines)


@group.command("drift")
@click.option("--world", "world", required=True, type=click.Path(file_okay=False,
                                                                 path_type=Path),
              help="The recent partners (a world directory, as `paver world` writes).")
@click.option("--models", "models", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/models"), show_default=True)
@click.option("--threshold", type=click.FloatRange(0.1, 10), default=None,
              help="PSI from which a feature counts as drifted [PAVER_DRIFT_PSI, 0.25].")
@click.option("--json", "as_json", is_flag=True)
def drift_command(world: Path, models: Path, threshold: float | None, as_json: bool) -> None:
    """How far the world's partners have drifted from the active model's training partners."""
    from paver import drift
    from paver.config import settings
    from paver.trust.artifacts import LocalArtifactStore, NoModelError
    from paver.trust.model import TrustModel
    from paver.trust.service import frames_from_world, score_frames

    try:
        model = TrustModel.from_dict(LocalArtifactStore(models).load_active("trust"))
        frames = frames_from_world(world)
    except NoModelError as exc:
        raise ModelCliError(str(exc)) from None
    except (OSError, ValueError, KeyError) as exc:
        raise ModelCliError(f"--world {world}: {exc}") from None
    limit = settings().drift_psi_threshold if threshold is None else threshold
    res = {"model_version": model.version,
           **model.drift(score_frames(frames, model).features, limit), "threshold": limit}
    if not res["reference"]:
        lines = [f"model {model.version} has no drift reference (trained before drift was "
                 "recorded): train it again"]
    else:
        lines = [f"{res['recent_count']} partners of {world} against the training partners "
                 f"of {model.version}",
                 *drift.lines({d: res[d] for d in _DIMS}, limit)]
    _emit(res, as_json, lines)
