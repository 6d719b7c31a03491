"""A print-ready PDF sheet of one partner's codes in a campaign (A4, 300 dpi, crop marks).

Each code's stored PNG (already verified by a real decoder when it was rendered) is placed in
a grid cell with its merchant id underneath; crop marks sit outside every cell's corners so
the printed sheet can be cut without the marks showing on the code.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from paver.aws import client
from paver.config import Settings, settings
from paver.errors import NotFound
from paver.rollout.service import image_key
from paver.storage.models import Code

DPI = 300
PAGE_PX = (2480, 3508)  # A4 at 300 dpi
MARGIN_PX = 150  # ≈ 12.7 mm
COLS, ROWS = 2, 3
GAP_PX = 120  # between cells: room for the crop marks
MARK_PX = 60  # crop mark length (≈ 5 mm)
MARK_OFFSET_PX = 20  # gap between a cell corner and its marks


class SheetEmpty(NotFound):
    """The partner has no codes in the campaign."""


def partner_codes(campaign_id: str, partner_id: str) -> list[Code]:
    return sorted(Code.by_campaign.query(campaign_id,
                                         filter_condition=Code.partner_id == partner_id),
                  key=lambda c: c.code_id)


def cell_boxes() -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of every cell on a page, row by row."""
    w = (PAGE_PX[0] - 2 * MARGIN_PX - (COLS - 1) * GAP_PX) // COLS
    h = (PAGE_PX[1] - 2 * MARGIN_PX - (ROWS - 1) * GAP_PX) // ROWS
    return [(MARGIN_PX + c * (w + GAP_PX), MARGIN_PX + r * (h + GAP_PX),
             MARGIN_PX + c * (w + GAP_PX) + w, MARGIN_PX + r * (h + GAP_PX) + h)
            for r in range(ROWS) for c in range(COLS)]


def _crop_marks(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    o, m = MARK_OFFSET_PX, MARK_PX
    for x, y, dx, dy in ((left, top, -1, -1), (right, top, 1, -1), (left, bottom, -1, 1),
                         (right, bottom, 1, 1)):
        draw.line([(x + dx * o, y), (x + dx * (o + m), y)], fill="black", width=3)
        draw.line([(x, y + dy * o), (x, y + dy * (o + m))], fill="black", width=3)


def layout_pages(items: Sequence[tuple[str, bytes]], title: str) -> list[Image.Image]:
    """Pages (RGB, A4 at 300 dpi) with one code per cell: ``items`` = (caption, PNG bytes)."""
    boxes = cell_boxes()
    font = ImageFont.load_default(size=40)
    pages: list[Image.Image] = []
    for start in range(0, len(items), len(boxes)):
        img = Image.new("RGB", PAGE_PX, "white")
        draw = ImageDraw.Draw(img)
        draw.text((MARGIN_PX, MARGIN_PX // 3), f"{title} — page {len(pages) + 1}",
                  fill="black", font=font)
        for (caption, png), box in zip(items[start:start + len(boxes)], boxes, strict=False):
            left, top, right, bottom = box
            code = Image.open(io.BytesIO(png)).convert("RGB")
            room = (right - left, bottom - top - 70)
            code.thumbnail(room, Image.Resampling.LANCZOS)
            x = left + (right - left - code.width) // 2
            img.paste(code, (x, top))
            draw.text((left + 10, top + code.height + 15), caption, fill="black", font=font)
            _crop_marks(draw, box)
        pages.append(img)
    return pages


def partner_sheet(campaign_id: str, partner_id: str, cfg: Settings | None = None) -> bytes:
    """The PDF bytes of the partner's codes in the campaign."""
    cfg = cfg or settings()
    codes = partner_codes(campaign_id, partner_id)
    if not codes:
        raise SheetEmpty(f"partner {partner_id!r} has no codes in campaign {campaign_id!r}")
    s3 = client("s3", cfg)
    items = []
    for c in codes:
        png = s3.get_object(Bucket=cfg.bucket_name("artifacts"),
                            Key=image_key(c.partner_id, c.merchant_id, "png"))["Body"].read()
        items.append((f"{c.merchant_id} · {c.skin}", png))
    pages = layout_pages(items, f"{partner_id} · {campaign_id}")
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=DPI)
    return out.getvalue()
