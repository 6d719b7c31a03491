"""``report.html``: a self-contained page a person can read (no external assets)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from paver_dev.demo.context import SUMMARY_KEYS, ReportSection

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2433}
h1{font-size:1.6rem} h2{border-bottom:2px solid #e3e7ef;padding-bottom:.3rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;max-width:100%} td,th{border:1px solid #d5dbe6;
padding:.25rem .6rem;text-align:left;font-size:.9rem;overflow-wrap:anywhere;vertical-align:top}
img{max-width:100%;height:auto} th{background:#f2f5fa} .kpi{display:inline-block;margin:.3rem;
padding:.6rem 1rem;border-radius:.5rem;background:#f2f5fa} .kpi b{display:block;font-size:1.4rem}
.kpi{max-width:14rem;vertical-align:top}
.kpi small{font-size:.8rem;font-weight:normal} .kpi .def{display:block;color:#4a5468}
"""


#: Each summary figure in words: its label, what it counts, and what it is out of (a summary
#: key, a sum of keys, or None when it stands alone).
KPI: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "partners_scored": ("Partners scored", "candidate partners the trust model scored", None),
    "partners_selected": ("Partners selected", "above the campaign threshold under the "
                          "selection rules", ("partners_scored",)),
    "codes_issued": ("Codes issued", "aggregated codes rendered and stored, one per merchant "
                     "of a selected partner", None),
    "codes_scanned_ok": ("Codes read back", "prints whose text a wallet-like reader returned "
                         "exactly", ("codes_issued",)),
    "merchants_bound": ("Merchants bound", "store photo accepted: code read, place near the "
                        "registered address, credential valid", ("codes_issued",)),
    "codes_active": ("Codes active", "codes a binding moved to active", ("codes_issued",)),
    "payments_accrued": ("Payments accrued", "payments through an active code, counted once "
                         "towards benefits", ("payments_accrued", "payments_not_accrued")),
    "payments_not_accrued": ("Payments not accrued", "payments not through an active code: "
                             "stored, no benefit", ("payments_accrued", "payments_not_accrued")),
    "benefits_granted": ("Benefits granted", "upgrade and milestone benefits granted to "
                         "merchants", None),
    "events_screened": ("Events screened", "held-out transfer events screened for a risk "
                        "scene", None),
    "risky_events": ("Events flagged risky", "held-out events past a scene's threshold "
                     "(retrospective mode)", ("events_screened",)),
}


def _figure(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _tiles(summary: dict[str, Any]) -> str:
    tiles = []
    for k in SUMMARY_KEYS:
        label, meaning, out_of = KPI[k]  # every summary figure has its words
        value = summary.get(k, 0)
        of = "" if out_of is None else f" of {sum(int(summary.get(o, 0)) for o in out_of)}"
        tiles.append(f'<span class="kpi" title="{escape(meaning)}"><b>{escape(_figure(value))}'
                     f'<small>{escape(of)}</small></b>{escape(label)}'
                     f'<small class="def">{escape(meaning)}</small></span>')
    models = summary.get("model_figures") or {}
    trust = (models.get("trust_auc") or {}).get("per_dimension", {}).get("overall")
    if trust is not None:
        tiles.append(f'<span class="kpi"><b>{escape(_figure(trust))}</b>Trust model AUC '
                     f'(overall)<small class="def">{escape(models["trust_auc"]["data"])}'
                     "</small></span>")
    scenes = models.get("risk_scenes") or {}
    for mode in ("realtime", "retrospective"):
        f1 = (scenes.get(mode) or {}).get("macro_f1")
        if f1 is not None:
            tiles.append(f'<span class="kpi"><b>{escape(_figure(f1))}</b>Scene macro-F1, {mode}'
                         f'<small class="def">{escape(scenes["data"])}</small></span>')
    return "".join(tiles)


def write_report(path: Path, sections: list[ReportSection], summary: dict[str, Any]) -> None:
    """Write the demo report: the summary figures in words, then each stage's section."""
    kpis = _tiles(summary)
    body = "".join(
        f"<section><h2>{escape(s.title)}</h2>{s.html}</section>" for s in sections
    )
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Paver demo report</title>"
        f"<style>{_CSS}</style></head><body><h1>Paver demo report</h1>"
        f"<div>{kpis}</div>{body}</body></html>"
    )
    path.write_text(html, encoding="utf-8")
