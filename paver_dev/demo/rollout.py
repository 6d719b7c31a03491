"""Demo stage: fan the campaign out through SQS, issue and render codes, scan every one back."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from html import escape
from typing import Any

from PIL import Image

from paver.aws import client, queue_url
from paver.rollout import service
from paver.storage.models import Code
from paver_dev.demo.context import DemoContext, ReportSection

GRID_PER_SKIN = 3


def _drain_queue(ctx: DemoContext, expected: int) -> tuple[int, int]:
    """Deliver the rollout queue to the worker logic the way the SQS event source would."""
    sqs = client("sqs", ctx.cfg)
    url = queue_url("rollout", ctx.cfg)
    handled = failed = empty_polls = 0
    with ctx.progress("rollout: issue + render", expected) as bar:
        while handled < expected and empty_polls < 3:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0, VisibilityTimeout=120).get(
                                           "Messages", [])
            if not msgs:
                empty_polls += 1
                continue
            records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in msgs]
            failures = {f["itemIdentifier"] for f in
                        service.process_records(records)["batchItemFailures"]}
            done = [m for m in msgs if m["MessageId"] not in failures]
            if done:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done)])
            handled += len(done)
            failed += len(failures)
            bar.update(len(done))
    return handled, failed


def run_demo_stage(ctx: DemoContext) -> None:
    from paver.render import decode_image

    campaign = ctx.state["campaign_id"]
    fanout = service.start_rollout(campaign, ctx.cfg)
    handled, failed = _drain_queue(ctx, fanout["messages"])
    again = service.start_rollout(campaign, ctx.cfg)  # a re-run must issue nothing twice
    _drain_queue(ctx, again["messages"])
    codes = sorted(Code.by_campaign.query(campaign), key=lambda c: c.code_id)
    s3 = client("s3", ctx.cfg)
    bucket = ctx.cfg.bucket_name("artifacts")
    scanned_ok = 0
    grid: dict[str, list[tuple[Code, bytes]]] = defaultdict(list)
    with ctx.progress("rollout: scan back", len(codes)) as bar:
        for code in codes:
            png = s3.get_object(Bucket=bucket, Key=service.image_key(
                code.partner_id, code.merchant_id, "png"))["Body"].read()
            if code.payload in decode_image(Image.open(io.BytesIO(png))):
                scanned_ok += 1
            if len(grid[code.skin]) < GRID_PER_SKIN:
                grid[code.skin].append((code, png))
            service.set_status(code.code_id, "shipped")
            bar.update(1)
    ctx.summary["codes_issued"] = len(codes)
    ctx.summary["codes_scanned_ok"] = scanned_ok
    progress = service.campaign_progress(campaign)
    certification = _certify(ctx)
    ctx.report.append(ReportSection("Aggregated codes", _html(
        fanout, handled, failed, len(codes), scanned_ok, progress, grid, ctx)
        + _certification_html(certification)))


def _certify(ctx: DemoContext) -> list[Any] | None:
    """``paver qr certify`` for every shipped skin (None when the dev readers are missing)."""
    from paver.skins import load_skins

    try:
        from paver import certify
        reader_map = certify.readers()
    except ImportError:
        return None
    names = [certify.PLAIN, *sorted(load_skins())]
    reports = []
    with ctx.progress("rollout: certify skins", len(names)) as bar:
        for name in names:
            reports.append(certify.certify_skin(name, reader_map))
            bar.update(1)
    ctx.summary["skins_certified"] = sum(r.passed for r in reports if r.skin != certify.PLAIN)
    return reports


def _certification_html(reports: list[Any] | None) -> str:
    """Skin × camera condition matrix; a cell lists the readers that missed (both payloads)."""
    from paver import certify

    if reports is None:
        return ("<h3>Skin certification</h3><p>Not run: the certification readers "
                "(requirements-dev.txt) are not installed.</p>")
    conditions = [c.name for c in certify.CONDITIONS]
    head = "".join(f"<th>{escape(c)}</th>" for c in conditions)
    rows = []
    for report in reports:
        cells = []
        for condition in conditions:
            here = [c for c in report.cells if c.condition == condition]
            missed = sorted({f"{c.reader} ({c.payload})" for c in here if not c.ok})
            sizes = [c.module_px for c in here if c.ok and c.module_px is not None]
            largest = f" (all by {max(sizes):g} px/module)" if sizes else ""
            cells.append(f"<td>{len(here) - len(missed)}/{len(here)}{largest}"
                         + (f" — missed: {escape(', '.join(missed))}" if missed else "")
                         + "</td>")
        verdict = "passed" if report.passed else "<b>FAILED</b>"
        rows.append(f"<tr><td><code>{escape(report.skin)}</code></td>{''.join(cells)}"
                    f"<td>{verdict}</td><td>{report.seconds:.1f} s</td></tr>")
    readers = ", ".join(certify.READERS)
    return (
        "<h3>Skin certification (<code>paver qr certify</code>)</h3>"
        f"<p>Each skin printed with a long Chinese and a long ASCII aggregated payload, seen "
        f"under each camera condition, read by {readers}: a cell counts the readings that "
        "returned the exact payload text (2 payloads × 4 readers) and the module size by which "
        "every reader had read it (a condition is a burst of frames, as a phone scans). "
        "<code>plain</code> is a plain QR symbol, the floor.</p>"
        f"<table><tr><th>skin</th>{head}<th>verdict</th><th>time</th></tr>"
        + "".join(rows) + "</table>")


def _html(fanout: dict[str, int], handled: int, failed: int, issued: int, scanned: int,
          progress: dict[str, Any], grid: dict[str, list[tuple[Code, bytes]]],
          ctx: DemoContext) -> str:
    codes_dir = ctx.out_dir / "codes"
    codes_dir.mkdir(parents=True, exist_ok=True)
    cells = []
    for skin, items in sorted(grid.items()):
        imgs = []
        for code, png in items:
            (codes_dir / f"{code.merchant_id}.png").write_bytes(png)
            b64 = base64.b64encode(png).decode()
            imgs.append(f'<figure style="display:inline-block;margin:.3rem;text-align:center">'
                        f'<img src="data:image/png;base64,{b64}" width="170" alt="code of '
                        f'{escape(code.merchant_id)}"><figcaption>{escape(code.merchant_id)}'
                        f"</figcaption></figure>")
        cells.append(f"<h3>skin <code>{escape(skin)}</code></h3>{''.join(imgs)}")
    status = "".join(f"<td>{escape(k)}: {v}</td>" for k, v in progress["by_status"].items())
    return (
        f"<p>{fanout['partners']} selected partners, {fanout['merchants']} merchants fanned out "
        f"in {fanout['messages']} SQS messages ({handled} handled, {failed} returned for retry). "
        f"{issued} aggregated codes issued — each carries the platform's and the partner's "
        f"merchant account in one EMVCo payload; {scanned} of {issued} stored PNGs read back "
        "as the exact payload text with the project's reader (zxing-cpp's text, as a wallet "
        "reads it). Re-running the rollout issued nothing twice.</p>"
        f"<table><tr>{status}</tr></table>" + "".join(cells)
    )
