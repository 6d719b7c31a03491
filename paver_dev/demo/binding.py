"""Demo stage: store photos uploaded over presigned POSTs, binding decided, payments accrued.

Each store photo is a real photo with the merchant's actual print composited into it: the PNG
the API serves for the code (``GET /codes/{id}/image``, :func:`paver.rollout.service.code_image`),
photographed with perspective, scale, uneven light and JPEG compression.
The photo is uploaded the way the merchant page does it: a presigned POST asked for with the
phone's position, the photo taken minutes before. Bound merchants' codes become ``active``;
wallets then pay through the codes (scan references, code ids), and some payments do not come
through an active code (a card payment, a scan of a code whose merchant was refused): those are
stored and accrue nothing.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from typing import Any

import piexif
import requests

from paver.accrual.accrual import AccrualOutcome, process_stream
from paver.accrual.milestones import benefit_text
from paver.accrual.milestones import load_policy as load_milestones
from paver.accrual.transactions import TransactionIn, record_transaction
from paver.aws import client
from paver.binding import service
from paver.rollout.service import campaign_progress, code_image, scan_ref_for
from paver.storage.models import Benefit, Code, Merchant, Transaction
from paver_dev.demo.context import DemoContext, ReportSection
from paver_dev.photo_gen import make_store_photo

#: How the demo's photos go wrong, with weights (the rest are good photos at the shop).
SCENARIOS = (("good", 0.6), ("far_away", 0.15), ("no_gps", 0.1), ("other_code", 0.15))
#: How the upload itself goes wrong (applied to good photos): the phone reports a position
#: 5 km away (EXIF GPS written by a spoofing app), or another shop's photo is sent again.
UPLOAD_SCENARIOS = (("phone_elsewhere", 0.08), ("reused_photo", 0.08))
MAX_MERCHANTS = 40
PAYMENTS_PER_MERCHANT = (2, 12)
CST = timezone(timedelta(hours=8))


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


def _upload(ctx: DemoContext, merchant_id: str, photo: bytes,
            device: service.DevicePosition | None = None) -> str:
    """Ask for a presigned POST and upload over real HTTP, as a phone would."""
    grant = service.request_upload(merchant_id, "image/jpeg", len(photo), ctx.cfg, device=device)
    resp = requests.post(grant["url"], data=grant["fields"],
                         files={"file": ("store.jpg", photo, "image/jpeg")}, timeout=30)
    resp.raise_for_status()
    return grant["key"]


def _taken_minutes_ago(photo: bytes, rng: random.Random) -> bytes:
    """The phone took the photo a few minutes before the upload (EXIF local time, China)."""
    exif = piexif.load(photo)
    stamp = (datetime.now(CST) - timedelta(minutes=rng.randint(2, 40))).strftime(
        "%Y:%m:%d %H:%M:%S").encode()
    exif["0th"][piexif.ImageIFD.DateTime] = stamp
    exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = stamp
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), photo, out)
    return out.getvalue()


def _device(rng: random.Random, merchant: Merchant, upload: str) -> service.DevicePosition:
    """The phone's browser geolocation: at the shop (a 20–150 m fix), or 5 km north."""
    lat, lon = float(merchant.lat), float(merchant.lon)
    if upload == "phone_elsewhere":
        return service.DevicePosition(lat + 5.0 / 111.2, lon, 30.0)
    return service.DevicePosition(lat + rng.uniform(-3e-4, 3e-4), lon + rng.uniform(-3e-4, 3e-4),
                                  rng.uniform(20, 150))


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
    sent: list[bytes] = []  # good photos already uploaded (one may be sent again for another)
    with ctx.progress("binding: store photos", len(codes)) as bar:
        for i, code in enumerate(codes):
            merchant = Merchant.get(code.merchant_id)
            scenario = _scenario(rng) if len(codes) > 1 else "good"
            own = code_image(code, "png", ctx.cfg)[0]
            other = code_image(codes[(i + 1) % len(codes)], "png", ctx.cfg)[0]
            photo = _taken_minutes_ago(_photo(rng, scenario, merchant, own, other), rng)
            if scenario == "good" and len(codes) > 1:
                upload = rng.choices([u for u, _ in UPLOAD_SCENARIOS] + ["ok"], weights=[
                    *(w for _, w in UPLOAD_SCENARIOS), 1 - sum(w for _, w in UPLOAD_SCENARIOS)])[0]
                if upload == "reused_photo" and sent:
                    photo, scenario = rng.choice(sent), upload
                elif upload == "phone_elsewhere":
                    scenario = upload
                else:
                    sent.append(photo)
            key = _upload(ctx, merchant.merchant_id, photo, _device(rng, merchant, scenario))
            outcomes.append((merchant.merchant_id, scenario, service.handle_uploaded(
                ctx.cfg.bucket_name("photos"), key, ctx.cfg)))
            bar.update(1)
    bound = [mid for mid, _, out in outcomes if out.outcome == "bound"]
    refused = [mid for mid, _, out in outcomes if out.outcome == "refused"]
    by_merchant = {c.merchant_id: c for c in codes}
    with ctx.progress("accrual: payments", len(bound) + len(refused)) as bar:
        for mid in bound:
            scan = scan_ref_for(by_merchant[mid].payload)
            for n in range(rng.randint(*PAYMENTS_PER_MERCHANT)):
                # most wallets report the scan; some partners report the code id
                how = {"scan_ref": scan} if rng.random() < 0.8 else {"code_id": by_merchant[
                    mid].code_id}
                _pay(rng, mid, f"demo-{mid}-{n:04d}", **how)
            _pay(rng, mid, f"demo-{mid}-card", channel="card")  # not through the code
            bar.update(1)
        for mid in refused:  # the code hangs at a shop that is not bound: it is not active
            _pay(rng, mid, f"demo-{mid}-early", scan_ref=scan_ref_for(by_merchant[mid].payload))
            bar.update(1)
    records = _drain_stream(ctx)
    accrual = process_stream(records)
    replay = process_stream(records)  # a redelivered batch must count nothing again
    benefits = [b for mid in bound for b in Benefit.query(mid)]
    progress = campaign_progress(campaign) if campaign else {"by_status": {}}
    ctx.summary["merchants_bound"] = len(bound)
    ctx.summary["benefits_granted"] = len(benefits)
    ctx.summary["codes_active"] = progress["by_status"].get("active", 0)
    ctx.summary["payments_accrued"] = len(accrual.accrued)
    ctx.summary["payments_not_accrued"] = len(accrual.not_accrued)
    ctx.state["bound_merchants"] = bound
    ctx.report.append(ReportSection("Merchant binding and benefits",
                                    _html(outcomes, accrual, replay.duplicates, benefits,
                                          progress)))


def _pay(rng: random.Random, merchant_id: str, key: str, **how: str) -> None:
    record_transaction(TransactionIn(
        idempotency_key=key, merchant_id=merchant_id, amount=f"{rng.uniform(8, 900):.2f}",
        timestamp=datetime.now(UTC), **how))


def _html(outcomes: list[tuple[str, str, Any]], accrual: AccrualOutcome,
          duplicates: list[str], benefits: list[Benefit], progress: dict[str, Any]) -> str:
    counts = Counter(out.outcome for _, _, out in outcomes)
    rows = []
    for mid, scenario, out in outcomes:
        reasons = "; ".join(f"<b>{escape(r['code'])}</b>: {escape(r['reason'])}"
                            + (" (may retry)" if r["retry"] else "") for r in out.reasons)
        dist = out.evidence.get("distance_m")
        if out.outcome != "bound":
            level = f"L{out.level}"
        elif out.upgraded:
            level = f"L{out.previous_level} → L{out.level} (upgrade benefit)"
        else:
            level = f"L{out.level} (top level: bound, no upgrade benefit)"
        rows.append(
            f"<tr><td>{escape(mid)}</td><td>{escape(scenario)}</td><td>{escape(out.outcome)}</td>"
            f"<td>{'' if dist is None else f'{dist:,.0f} m'}</td>"
            f"<td>{escape(out.code_status or 'shipped')}</td><td>{escape(level)}</td>"
            f"<td>{reasons or 'all checks passed'}</td></tr>")
    kinds = Counter(b.kind for b in benefits)
    when = {str(m.effect["benefit"]): m.reason for m in load_milestones()[0].milestones}
    ben = "".join(
        f"<tr><td>{escape(benefit_text(k).title)}</td><td>{escape(benefit_text(k).means)}</td>"
        f"<td>{escape(when.get(k, 'a store photo bound the code and the level went up'))}</td>"
        f"<td>{v}</td></tr>" for k, v in kinds.most_common())
    status = "".join(f"<td>{escape(k)}: {v}</td>" for k, v in progress["by_status"].items())
    why = Counter((n["code"], n["reason"].split(" (")[0]) for n in accrual.not_accrued)
    not_acc = "".join(f"<tr><td>{escape(c)}</td><td>{escape(r)}</td><td>{v}</td></tr>"
                      for (c, r), v in why.most_common())
    return (
        f"<p>{len(outcomes)} store photos — real photos with the merchant's served print "
        "composited in perspective, scaled, unevenly lit and JPEG-compressed — uploaded "
        "through presigned POSTs, each with the "
        f"phone's position: {counts.get('bound', 0)} bound, {counts.get('refused', 0)} refused. "
        "Each refusal names the binding rule that fired (<code>rules/binding.yaml</code>): EXIF "
        "position and visible code, the phone's position at upload, capture time, a photo "
        "already sent for another merchant, editing software. A bound merchant's photo moves "
        "its code <code>shipped → installed → active</code> (the photo is kept as evidence in "
        "the code's history); the upgrade benefit follows only a real level change.</p>"
        "<table><tr><th>merchant</th><th>photo scenario</th><th>outcome</th>"
        "<th>distance</th><th>code</th><th>level</th><th>why</th></tr>" + "".join(rows) +
        "</table><p>Codes of the campaign by status after binding:</p>"
        f"<table><tr>{status}</tr></table>"
        f"<p>Payments: {len(accrual.accrued)} came through an active aggregated code (wallet "
        "scan reference or code id) and accrued from the Transactions stream; "
        f"{len(accrual.not_accrued)} were stored but accrued nothing:</p>"
        "<table><tr><th>not accrued</th><th>why</th><th>payments</th></tr>" + not_acc +
        f"</table><p>The same batch replayed: {len(duplicates)} recognised as already counted, "
        "none added twice.</p>"
        "<table><tr><th>benefit</th><th>what it is</th><th>granted for</th>"
        "<th>merchants</th></tr>" + ben + "</table>"
    )
