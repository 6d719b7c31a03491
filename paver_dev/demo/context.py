"""What every demo stage receives, and how it reports progress and results."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from paver.config import Settings

#: Summary keys the demo always writes (0 until the stage that fills them exists).
SUMMARY_KEYS: tuple[str, ...] = (
    "partners_scored",
    "partners_selected",
    "codes_issued",
    "codes_scanned_ok",
    "merchants_bound",
    "codes_active",
    "payments_accrued",
    "payments_not_accrued",
    "benefits_granted",
    "events_screened",
    "risky_events",
)


class Progress(Protocol):
    def update(self, n: int = 1) -> None: ...


@dataclass
class ReportSection:
    """One section of ``report.html``: a title and trusted HTML built by the stage (escape data)."""

    title: str
    html: str


@dataclass
class DemoContext:
    """Shared state of one demo run.

    Attributes
    ----------
    cfg
        Settings bound to the (embedded) AWS.
    world_dir
        Where the synthetic world's files are.
    out_dir
        ``out/demo``: summary, report and any images a stage writes.
    seed
        The world's seed.
    summary
        ``summary.json`` content; stages set the keys of :data:`SUMMARY_KEYS` they own.
    report
        Sections appended to ``report.html`` in stage order.
    state
        Results one stage hands to the next (e.g. ``selected_partners``, ``campaign_id``).
    """

    cfg: Settings
    world_dir: Path
    out_dir: Path
    seed: int
    summary: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(SUMMARY_KEYS, 0))
    report: list[ReportSection] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False

    @contextmanager
    def progress(self, desc: str, total: int | None) -> Iterator[Progress]:
        """A progress bar on stderr for one step of a stage."""
        from tqdm import tqdm

        with tqdm(
            total=total, desc=f"{desc:<28}", unit="it", file=sys.stderr, disable=self.quiet,
            dynamic_ncols=True, leave=True,
        ) as bar:
            yield bar
