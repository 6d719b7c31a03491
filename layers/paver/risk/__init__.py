"""Risk-scene identification (CN111428971A claims 1–9).

For a business event (a transfer or a code payment): gather its **associated data**
(:mod:`paver.risk.store`, :mod:`paver.risk.dynamo_store`), build **relation groups** per
dimension type and their feature vectors (:mod:`paver.risk.relations`,
:mod:`paver.risk.features`), match them against the **scene knowledge base** learned from
labelled risky samples (:mod:`paver.risk.kb`, :mod:`paver.risk.matcher`), and let the scene
rules decide (:mod:`paver.risk.scenes`, ``rules/risk_scenes.yaml``).

Scenes are labels as users write them (``fan-out``, ``Gather Scatter``, ``分散转入``), kept as
written; :func:`paver.risk.events.scene_key` derives internal keys.

Entry points: :mod:`paver.risk.screening` (batch and per-event screening),
:mod:`paver.risk.evaluate` (held-out evaluation, ``retrospective`` or ``realtime``),
:mod:`paver.risk.replay` (point-in-time replay), :mod:`paver.risk.explain` (explanations in
user units), :mod:`paver.risk.places` (device regions), :mod:`paver.risk.service` (API and stream),
The IBM AMLSim converter and the demo stage are developer tooling (``paver_dev.amlsim``,
``paver_dev.demo.risk``): not shipped to Lambda.
Modules import scikit-learn, scipy and pandas lazily.
"""

from paver.risk.events import DIMENSIONS, TransferEvent

__all__ = ["DIMENSIONS", "TransferEvent"]
