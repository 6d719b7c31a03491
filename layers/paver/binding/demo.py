"""Demo stage: store photos uploaded over presigned POSTs, binding decided, payments accrued.

Each store photo is a real photo with the merchant's actual print composited into it: the PNG
the API serves for the code (``GET /codes/{id}/image``, :func:`paver.rollout.service.code_image`),
photographed with perspective, scale, uneven light and JPEG compression.
"""

from __future__ import annotations

import random
from collections import Counter
from html import escape
from typing import Any

import requests

from paver.accrual.accrual import process_stream
from paver.accrual.transactions import TransactionIn, record_transaction
from paver.aws import client
from paver.binding import service
from paver.demo.context import DemoContext, ReportSection
from paver.kyb.photo_gen import make_store_photo
from paver.rollout.service import code_image
from paver.storage.models import Benefit, Code, Merchant, Transaction

#: How the demo's photos go wrong, with weights (the rest are good photos at the shop).
SCENARIOS = (("good", 0.6), ("far_away", 0.15), ("no_gps", 0.1), ("other_code", 0.15))
MAX_MERCHANTS = 40
PAYMENTS_PER_MERCHANT = (2, 12)


def _scenario(rng: random.Random) -> str:
    return rng.choices([s for s, _ in SCENARIOS], weights=[w for _, w in SCENARIOS])[0]


def _photo(rng: random.Random, scenario: str, merchant: Merchant, own: bytes,
           other: bytes) -> bytes:
    """A phone photo of a served print (``own`` or ``other`` PNG) for one scenario."""
    lat, lon = float(merchant.lat), float(merchant.lon)
    jitter = (rng.uniform(-4e-4, 4e-4), rng.uniform(-4e-4, 4e-4))  # a few tens of metres
    seed, quality = rng.randrange(999), rng.randrange(70, 90)
    if scenario == "far_away":
        return make_store_photo(lat + 0.05, lon + 0.05, printed=own, seed=seed, quality=quality)
    if scenario == "no_gps":
        return make_store_photo(None, None, printed=own, seed=seed, quality=quality)
    printed = other if scenario == "other_code" else own
    return make_store_photo(lat + jitter[0], lon + jitter[1], printed=printed, seed=seed,
                            quality=quality)


def _upload(ctx: DemoContext, merchant_id: str, photo: bytes) -> str:
    """Ask for a presigned POST and upload over real HTTP, as a phone would."""
    grant = service.request_upload(merchant_id, "image/jpeg", len(photo), ctx.cfg)
    resp = requests.post(grant["url"], data=grant["fields"],
                         files={"file": ("store.jpg", photo, "image/jpeg")}, timeout=30)
    resp.raise_for_status()
    return grant["key"]


def _drain_stream(ctx: DemoContext) -> list[dict[str, Any]]:
    """Read the Transactions stream the way the Lambda event source mapping would."""
    ddb, streams = client("dynamodb", ctx.cfg), client("dynamodbstreams", ctx.cfg)
    arn = ddb.describe_table(TableName=Transaction.Meta.table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it, Limit=1000)
            records.extend(page["Records"])
            it = page.get("NextShardIterator") if page["Records"] else None
    for r in records:
        r["dynamodb"].pop("ApproximateCreationDateTime", None)
    return records


def run_demo_stage(ctx: DemoContext) -> None:
    rng = random.Random(ctx.seed)
    campaign = ctx.state.get("campaign_id")
    codes = list(Code.by_campaign.query(campaign)) if campaign else []
    codes = sorted(codes, key=lambda c: c.code_id)[:MAX_MERCHANTS]
    outcomes: list[tuple[str, str, Any]] = []
    with ctx.progress("binding: store photos", len(codes)) as bar:
        for i, code in enumerate(codes):
            merchant = Merchant.get(code.merchant_id)
            scenario = _scenario(rng) if len(codes) > 1 else "good"
            own = code_image(code, "png", ctx.cfg)[0]
            other = code_image(codes[(i + 1) % len(codes)], "png", ctx.cfg)[0]
            photo = _photo(rng, scenario, merchant, own, other)
            key = _upload(ctx, merchant.merchant_id, photo)
            outcomes.append((merchant.merchant_id, scenario, service.handle_uploaded(
                ctx.cfg.bucket_name("photos"), key, ctx.cfg)))
            bar.update(1)
    bound = [mid for mid, _, out in outcomes if out.outcome == "bound"]
    with ctx.progress("accrual: payments", len(bound)) as bar:
        for mid in bound:
            for n in range(rng.randint(*PAYMENTS_PER_MERCHANT)):
                record_transaction(TransactionIn(
                    idempotency_key=f"demo-{mid}-{n:04d}", merchant_id=mid,
                    amount=f"{rng.uniform(8, 900):.2f}",
                    timestamp=f"2026-11-{1 + n % 9:02d}T{9 + n % 10:02d}:15:00+08:00"))
            bar.update(1)
    records = _drain_stream(ctx)
    accrual = process_stream(records)
    replay = process_stream(records)  # a redelivered batch must count nothing again
    benefits = [b for mid in bound for b in Benefit.query(mid)]
    ctx.summary["merchants_bound"] = len(bound)
    ctx.summary["benefits_granted"] = len(benefits)
    ctx.state["bound_merchants"] = bound
    ctx.report.append(ReportSection("Merchant binding and benefits",
                                    _html(outcomes, accrual.accrued, replay.duplicates, benefits)))


def _html(outcomes: list[tuple[str, str, Any]], accrued: list[str], duplicates: list[str],
          benefits: list[Benefit]) -> str:
    counts = Counter(out.outcome for _, _, out in outcomes)
    rows = []
    for mid, scenario, out in outcomes:
        reasons = "; ".join(f"<b>{escape(r['code'])}</b>: {escape(r['reason'])}"
                            + (" (may retry)" if r["retry"] else "") for r in out.reasons)
        dist = out.evidence.get("distance_m")
        rows.append(
            f"<tr><td>{escape(mid)}</td><td>{escape(scenario)}</td><td>{escape(out.outcome)}</td>"
            f"<td>{'' if dist is None else f'{dist:,.0f} m'}</td><td>L{out.level}</td>"
            f"<td>{reasons or 'all checks passed'}</td></tr>")
    kinds = Counter(b.kind for b in benefits)
    ben = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in kinds.most_common())
    return (
        f"<p>{len(outcomes)} store photos — real photos with the merchant's served print "
        "composited in perspective, scaled, unevenly lit and JPEG-compressed — uploaded through "
        "presigned POSTs: "
        f"{counts.get('bound', 0)} bound, {counts.get('refused', 0)} refused. Each refusal names "
        "the binding rule that fired (<code>rules/binding.yaml</code>).</p>"
        "<table><tr><th>merchant</th><th>photo scenario</th><th>outcome</th>"
        "<th>distance</th><th>level</th><th>why</th></tr>" + "".join(rows) + "</table>"
        f"<p>{len(accrued)} payments accrued from the Transactions stream; the same batch "
        f"replayed: {len(duplicates)} recognised as already counted, none added twice.</p>"
        "<table><tr><th>benefit</th><th>granted</th></tr>" + ben + "</table>"
    )
