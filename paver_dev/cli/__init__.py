"""The ``paver`` command line."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paver import __version__

if TYPE_CHECKING:
    from paver_dev.world import WorldOptions

#: Sub-groups that live in their own modules (each exposes ``group``).
_SUBGROUPS = ("qr", "kyb", "risk", "model")


class _Cli(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._subgroups()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is None and name in self._subgroups():
            cmd = importlib.import_module(f"paver_dev.cli.{name}").group
        return cmd

    @staticmethod
    def _subgroups() -> list[str]:
        here = Path(__file__).parent
        return [n for n in _SUBGROUPS if (here / f"{n}.py").exists()]


@click.group(cls=_Cli)
@click.version_option(__version__, prog_name="paver")
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level on stderr.")
def cli(verbose: bool) -> None:
    """Paver: trust-tiered rollout of aggregated payment codes and risk-scene identification."""
    from paver.logs import configure

    # Personal data is masked in every line (paver.logs); humans get plain lines here.
    configure(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
              json_lines=False)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _world_options(f: Any) -> Any:
    """The world generator's options, shared by ``world`` and ``demo``."""
    for opt in reversed([
        click.option("--seed", type=int, default=7, show_default=True),
        click.option("--partners", type=int, default=24, show_default=True),
        click.option("--merchants-per-partner", type=int, default=20, show_default=True),
        click.option("--accounts", type=int, default=3000, show_default=True),
    ]):
        f = opt(f)
    return f


def _world_opts(seed: int, partners: int, merchants_per_partner: int,
                accounts: int) -> WorldOptions:
    from paver_dev.world import WorldOptionError, WorldOptions

    opts = WorldOptions(seed=seed, partners=partners,
                        merchants_per_partner=merchants_per_partner, accounts=accounts)
    try:
        return opts.validate()
    except WorldOptionError as exc:
        raise click.BadParameter(str(exc)) from exc


@cli.command()
@_world_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
def world(seed: int, partners: int, merchants_per_partner: int, accounts: int,
          out_dir: Path) -> None:
    """Generate a deterministic synthetic world into OUT."""
    from paver_dev.world import generate_world

    counts = generate_world(_world_opts(seed, partners, merchants_per_partner, accounts), out_dir)
    click.echo(json.dumps({"out": str(out_dir), "counts": counts}, indent=2))


@cli.command()
@_world_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/demo"), show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(seed: int, partners: int, merchants_per_partner: int, accounts: int, out_dir: Path,
         quiet: bool) -> None:
    """Run the whole job on the embedded local AWS; write summary.json and report.html."""
    from paver_dev.demo.runner import run_demo

    opts = _world_opts(seed, partners, merchants_per_partner, accounts)
    summary = run_demo(opts, out_dir, quiet=quiet)
    click.echo(json.dumps(summary, indent=2))
    click.echo(f"report: {out_dir / 'report.html'}", err=True)


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--stage", default="local", show_default=True, help="Chalice config stage.")
@click.option("--demo", is_flag=True, help="Start with the demo world loaded (world options).")
@click.option("--no-events", is_flag=True,
              help="HTTP only: do not deliver queue, stream and S3 events to the handlers.")
@_world_options
def serve(port: int, stage: str, demo: bool, no_events: bool, seed: int, partners: int,
          merchants_per_partner: int, accounts: int) -> None:
    """Run the system on 127.0.0.1:PORT: API, console (/console/), merchant page (/m/) and the
    event sources (rollout queue, Transactions stream, S3 notifications); Ctrl-C stops."""
    from paver_dev.serve import serve_forever

    opts = _world_opts(seed, partners, merchants_per_partner, accounts) if demo else None
    serve_forever(port=port, stage=stage, demo=opts, events=not no_events)


@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build"), show_default=True)
@click.option("--stage", default="dev", show_default=True)
def package(out_dir: Path, stage: str) -> None:
    """Package the app with ``chalice package`` into OUT (SAM template + deployment zip)."""
    from paver_dev.packaging import PackagingError, package_app

    try:
        result = package_app(out_dir, stage=stage)
    except PackagingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, indent=2))


@cli.command()
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write to FILE instead of stdout.")
def openapi(out_file: Path | None) -> None:
    """Print (or write) the API's OpenAPI 3.1 description, e.g. for schemathesis."""
    from paver_dev.project import ProjectNotFound, project_root

    try:
        root = str(project_root())
    except ProjectNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if root not in sys.path:
        sys.path.insert(0, root)
    from app import app
    from functions._openapi import generate

    text = json.dumps(generate(app), indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        click.echo(text, nl=False)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    click.echo(f"openapi: wrote {out_file}", err=True)


@cli.command()
@click.option("--role", type=click.Choice(["operator", "partner", "merchant"]), required=True)
@click.option("--id", "principal_id", required=True, help="Operator, partner or merchant id.")
@click.option("--ttl", type=click.IntRange(1, 7 * 24 * 3600), default=3600, show_default=True,
              help="Seconds until the token expires.")
def token(role: str, principal_id: str, ttl: int) -> None:
    """Print a signed bearer token for the local API (PAVER_TOKEN_SECRET signs it)."""
    from paver.auth import AuthError, issue_token

    try:
        click.echo(issue_token(role, principal_id, ttl))
    except (AuthError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="paver")


if __name__ == "__main__":
    main()
