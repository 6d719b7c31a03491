"""``report.html``: a self-contained page a person can read (no external assets)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from paver.demo.context import SUMMARY_KEYS, ReportSection

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433}
h1{font-size:1.6rem} h2{border-bottom:2px solid #e3e7ef;padding-bottom:.3rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0} td,th{border:1px solid #d5dbe6;padding:.25rem .6rem;
text-align:left;font-size:.9rem} th{background:#f2f5fa} .kpi{display:inline-block;margin:.3rem;
padding:.6rem 1rem;border-radius:.5rem;background:#f2f5fa} .kpi b{display:block;font-size:1.4rem}
"""


def write_report(path: Path, sections: list[ReportSection], summary: dict[str, Any]) -> None:
    """Write the demo report: the summary figures, then each stage's section."""
    kpis = "".join(
        f'<span class="kpi"><b>{escape(str(summary.get(k, 0)))}</b>{escape(k)}</span>'
        for k in SUMMARY_KEYS
    )
    body = "".join(
        f"<section><h2>{escape(s.title)}</h2>{s.html}</section>" for s in sections
    )
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Paver demo report</title>"
        f"<style>{_CSS}</style></head><body><h1>Paver demo report</h1>"
        f"<div>{kpis}</div>{body}</body></html>"
    )
    path.write_text(html, encoding="utf-8")
