"""Trust-tiered partner selection: ingest, partner features, scorers, selection rules, storage.

Modules
-------
ingest
    CSV/JSONL rows → validated Partners, Merchants, MerchantMetrics (per-row error reports).
features
    Merchant rows → partner-level features in four dimensions (vectorised).
model
    Calibrated linear scorers per dimension and overall, plus bring-your-own-table models.
artifacts
    Versioned model artifacts: a local directory or S3 + the ModelRegistry table.
selection
    ``rules/partner_selection.yaml``: tiers and selection policy through the rule engine.
store
    DynamoDB reads and writes of partners, merchants, metrics, campaigns and selections.
service
    What the handlers call: campaigns, selection, partner scores, rescoring.
demo
    The demo stage.
"""

DIMENSIONS: tuple[str, ...] = ("risk", "trust", "quality", "value")
#: Most rows one ingest batch (a file, or one list of a request body) may hold.
MAX_BATCH_ROWS = 1_000
