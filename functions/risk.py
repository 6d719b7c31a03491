"""Risk-scene routes: screen an event, list and rebuild the scene knowledge base; stream screening.

- ``POST /risk/screen``: body = one event (``txn_id``, ``timestamp``, ``from_account``,
  ``to_account``, ``amount`` …) → the decision with its explanation (stored in ``Decisions``).
- ``GET /risk/scenes[?version=V]``: scenes of a knowledge-base version (default latest).
- ``POST /risk/scenes/build``: body ``{"transactions_key", "labels_key", "seed", "feedback"}``
  (keys in the ingest bucket; ``feedback``: take the analysts' stored case decisions in) → a
  new version; earlier versions stay readable.
- ``POST /risk/backtest``: body ``{"transactions_key", "labels_key", "versions": [A, B, …],
  "from", "to"}`` → ``paver risk backtest``'s JSON for stored versions over the labelled events
  of the window (``versions``, ``diff``, ``mode``, ``events``, ``window``).
- ``GET /risk/versions``; ``PUT /risk/shadow`` ``{"version", "note"}``; ``GET
  /risk/shadow/report?from=&to=``; ``POST /risk/versions/promote`` ``{"version", "note"}``;
  ``POST /risk/versions/rollback`` ``{"note"}``: which version decides, which runs in shadow
  (stored beside, never acts), and the audited changes (:mod:`paver.risk.versions`).
- Transactions stream: screens code payments, reports partial batch failures
  (``ReportBatchItemFailures`` is added to the event source mapping by the deployment template).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from chalice import Blueprint, Response
from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from functions._auth import require_operator
from functions._http import Body, json_response, parse_body, path_id
from paver.config import settings
from paver.errors import InvalidInput, NotFound
from paver.fields import Float, Int, PlainText
from paver.lazy import lazy_module
from paver.risk.events import format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from paver.risk import alerts, service, versions
else:  # at its first call: every route shares one cold start (paver.lazy)
    alerts = lazy_module("paver.risk.alerts")
    service = lazy_module("paver.risk.service")
    versions = lazy_module("paver.risk.versions")

bp = Blueprint(__name__)
_STREAM = settings().transactions_stream
_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"


class EventIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    txn_id: str = Field(pattern=_ID)
    timestamp: str = Field(min_length=10, max_length=40, json_schema_extra={"format": "date-time"})
    from_account: str = Field(pattern=_ID)
    to_account: str = Field(pattern=_ID)
    amount: Float = Field(ge=0, le=1e12)
    currency: str = Field(default="", pattern=r"^[A-Za-z0-9]{0,8}$")
    channel: str = Field(default="transfer", pattern=r"^[a-z_]{1,20}$")
    from_device: str | None = Field(default=None, pattern=_ID)
    to_device: str | None = Field(default=None, pattern=_ID)
    from_ip: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f.:]{1,64}$")
    to_ip: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f.:]{1,64}$")
    include_relations: bool = True

    @field_validator("timestamp")
    @classmethod
    def _iso_time(cls, v: str) -> str:
        try:
            format_timestamp(parse_timestamp(v))  # readable and within years 1-9999
        except (ValueError, OverflowError, OSError) as exc:
            raise ValueError(f"not an ISO-8601 time ({exc})") from None
        return v


class BuildIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    transactions_key: PlainText = Field(min_length=1, max_length=512)
    labels_key: PlainText = Field(min_length=1, max_length=512)
    seed: Int = Field(default=0, ge=0, lt=2**32)
    # take the analysts' stored case decisions in (confirmed: risky samples; dismissed: normal)
    feedback: bool = False
    # false: store a candidate (shadow run, backtest, promotion later) without using it
    activate: bool = True


class ShadowIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: str | None = Field(default=None, pattern=_ID)  # null: stop the shadow run
    note: str = Field(default="", max_length=1000)


class PromoteIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: str = Field(pattern=_ID)
    note: str = Field(default="", max_length=1000)


class RollbackIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(default="", max_length=1000)


class BacktestIn(Body):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    transactions_key: PlainText = Field(min_length=1, max_length=512)
    labels_key: PlainText = Field(min_length=1, max_length=512)
    versions: list[Annotated[str, Field(pattern=_ID)]] = Field(
        min_length=2, max_length=5, json_schema_extra={"uniqueItems": True})
    since: AwareDatetime | None = Field(default=None, alias="from")
    until: AwareDatetime | None = Field(default=None, alias="to")


@bp.route("/risk/screen", methods=["POST"])
def screen() -> dict:
    require_operator()
    body = parse_body(bp, EventIn)
    event = body.model_dump(exclude={"include_relations"})
    return service.screen_event(event, with_relations=body.include_relations)


@bp.route("/risk/scenes", methods=["GET"])
def scenes() -> dict:
    require_operator()
    params = bp.current_request.query_params or {}
    version = params.get("version")
    if version is not None:
        path_id(version, "version")
    out = service.list_scenes(version)
    if version is not None and not out["scenes"]:
        raise NotFound(f"version: no knowledge-base version {version!r}")
    return out


@bp.route("/risk/scenes/build", methods=["POST"])
def build_scenes() -> Response:
    require_operator()
    body = parse_body(bp, BuildIn)
    result = service.build_kb(body.transactions_key, body.labels_key, seed=body.seed,
                              feedback=body.feedback, activate=body.activate)
    return json_response(result, status=201)


@bp.route("/risk/backtest", methods=["POST"])
def backtest() -> dict:
    """Screen the labelled events of a dataset (in a time window) with each stored version:
    the figures of each, and the alerts gained, lost or renamed from the first to the last."""
    require_operator()
    body = parse_body(bp, BacktestIn)
    if len(set(body.versions)) != len(body.versions):
        raise InvalidInput("versions: each version once")
    return service.backtest_versions(body.transactions_key, body.labels_key, body.versions,
                                     since=body.since, until=body.until)


@bp.on_dynamodb_record(stream_arn=_STREAM, batch_size=100, starting_position="TRIM_HORIZON",
                       name="risk_screen")
def screen_stream(event) -> dict:
    """Screen each new code payment; report the first failed record for retry."""
    return service.screen_stream_records(r.to_dict() for r in event)


@bp.route("/risk/versions", methods=["GET"])
def risk_versions() -> dict:
    """The active version, the one in shadow, every stored one, and the audit trail."""
    require_operator()
    return versions.status()


@bp.route("/risk/shadow", methods=["PUT"])
def put_shadow() -> dict:
    """Run a stored version in shadow on the Transactions stream (null: stop); audited."""
    operator = require_operator()
    body = parse_body(bp, ShadowIn)
    out = versions.set_shadow(body.version, by=operator.id, note=body.note)
    service.reset_cache()
    return out


@bp.route("/risk/shadow/report", methods=["GET"])
def shadow_report() -> dict:
    """Active against shadow verdicts over ``from``…``to`` (ISO-8601)."""
    require_operator()
    params = bp.current_request.query_params or {}
    return versions.shadow_report(since=alerts.parse_time(params.get("from"), "from"),
                                  until=alerts.parse_time(params.get("to"), "to"))


@bp.route("/risk/versions/promote", methods=["POST"])
def promote() -> dict:
    """Make a stored version the active one (one audited operator action)."""
    operator = require_operator()
    body = parse_body(bp, PromoteIn)
    out = versions.promote(body.version, by=operator.id, note=body.note)
    service.reset_cache()
    return out


@bp.route("/risk/versions/rollback", methods=["POST"])
def rollback() -> dict:
    """Return to the version active before the last promotion or rollback (audited)."""
    operator = require_operator()
    body = parse_body(bp, RollbackIn)
    out = versions.rollback(by=operator.id, note=body.note)
    service.reset_cache()
    return out

