"""Paver domain core: trust-tiered rollout of aggregated payment codes, risk-scene identification.

Shipped to every Lambda function (``vendor/paver``): what a handler in ``functions/`` calls and
nothing a developer alone runs. Arrows point down only: ``app.py`` → ``functions/`` → ``paver``
→ storage (PynamoDB, boto3); ``paver`` imports neither ``app`` nor ``functions`` nor the tooling
package ``paver_dev`` (CLI, demo, synthetic worlds, local AWS, serve, packaging, photo
generator, AMLSim converter), which may import anything here (``tests/unit/test_layers.py``).
Pandas, scipy and scikit-learn load on first use, never on import (:mod:`paver.lazy`).

Storage models are bound to a stage once per process by the entry point
(:func:`paver.storage.registry.bind_all`); core functions assume bound models. Partial batch
responses follow one policy (:mod:`paver.batch`); stream records and S3 events have one reader
each (:mod:`paver.storage.streams`, :mod:`paver.storage.s3_events`).
"""

__version__ = "0.1.0"
