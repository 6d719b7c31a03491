"""Fixtures shared by the functional tests: the partner world and the trained trust model.

Both are deterministic and read-only, so one of each serves a whole worker process (session
scope): generating the world and training the model once instead of once per module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def trust_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small partner world as files (10 partners × 4 merchants: partners, merchants, metrics
    CSVs), to drop into the ingest bucket."""
    from paver_dev.world.partners import generate

    d = tmp_path_factory.mktemp("trust-world")
    generate(np.random.default_rng(31), 10, 4).write(d)
    return d


@pytest.fixture(scope="session")
def trust_model() -> Any:
    """A trust-tiering model trained on a separate history (120 partners, ids ``H…``)."""
    from paver.trust.features import partner_features
    from paver.trust.training import train_trust_model
    from paver_dev.world.partners import generate

    h = generate(np.random.default_rng(32), 120, 8, id_prefix="H")
    return train_trust_model(partner_features(h.merchants, h.metrics, h.partners), h.truth, seed=3)


def ingest_partner_world(cfg: Any, world: Path) -> None:
    """Drop a partner world's files into the ingest bucket and run ingest on each, as the S3
    notifications would."""
    from functions import ingest
    from paver.aws import client
    from paver.storage.s3_events import s3_event

    bucket = cfg.bucket_name("ingest")
    for name in ("partners.csv", "merchants.csv", "metrics.csv"):
        client("s3", cfg).put_object(Bucket=bucket, Key=f"ingest/{name}",
                                     Body=(world / name).read_bytes())
        ingest.handle_s3_event(s3_event(bucket, f"ingest/{name}"))
