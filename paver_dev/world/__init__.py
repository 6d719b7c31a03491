"""The synthetic world: partners and their merchants, and a population of accounts with transfers.

``generate_world`` writes, into one directory:

- from :mod:`paver_dev.world.partners`: ``partners.csv``, ``merchants.csv``, ``metrics.csv``,
  ``partner_truth.csv`` (the hidden ground truth from which training labels come);
- from :mod:`paver_dev.world.transfers`: ``transactions.csv``, ``labels.csv``, ``accounts.csv``,
  ``devices.csv``, ``contacts.csv`` (normal traffic with injected risk scenes);
- ``world.json``: the options and the counts.

The same seed always gives the same files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from paver.errors import InvalidInput

LIMITS = {
    "partners": (2, 5_000),
    "merchants_per_partner": (1, 2_000),
    "accounts": (200, 1_000_000),
}


class WorldOptionError(InvalidInput):
    """An option of the world generator is out of range (the message names it)."""


@dataclass(frozen=True)
class WorldOptions:
    seed: int = 7
    partners: int = 24
    merchants_per_partner: int = 20
    accounts: int = 3_000

    def validate(self) -> WorldOptions:
        if not 0 <= self.seed < 2**32:
            raise WorldOptionError(f"--seed: must be between 0 and {2**32 - 1}, got {self.seed}")
        for name, (lo, hi) in LIMITS.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                flag = "--" + name.replace("_", "-")
                raise WorldOptionError(f"{flag}: must be between {lo} and {hi}, got {value}")
        return self


def generate_world(opts: WorldOptions, out: Path) -> dict[str, int]:
    """Generate the world for ``opts`` into ``out`` and return the row counts per file."""
    from paver_dev.world import partners, transfers

    opts.validate()
    out.mkdir(parents=True, exist_ok=True)
    # Independent streams per part: adding accounts never changes the partners.
    root = np.random.SeedSequence(opts.seed)
    part_seq, txn_seq = root.spawn(2)
    pw = partners.generate(np.random.default_rng(part_seq), opts.partners,
                           opts.merchants_per_partner)
    counts = dict(pw.write(out) or {})
    tw = transfers.generate(np.random.default_rng(txn_seq), opts.accounts)
    counts.update(tw.write(out) or {})
    (out / "world.json").write_text(
        json.dumps({"options": asdict(opts), "counts": counts}, indent=2), encoding="utf-8"
    )
    return counts
