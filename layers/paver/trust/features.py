"""Merchant rows → partner-level features, grouped by the four trust dimensions.

Everything is vectorised over integer codes (``numpy.bincount`` / fancy indexing): a million
merchants with twelve months each take a few seconds, not minutes.

The window is the twelve months ending at the latest month present in the metrics (or
``as_of``). "Recent" means the last three months of the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from paver.kyb.uscc import normalize_uscc_many, valid_uscc_mask
from paver.lazy import lazy_module
from paver.trust import DIMENSIONS

if TYPE_CHECKING:
    import pandas as pd
else:  # pandas only when frames are built: not on every cold start (paver.lazy)
    pd = lazy_module("pandas")

WINDOW_MONTHS = 12
RECENT_MONTHS = 3
_GEO_KM = 50.0
_KYB_FIELDS: tuple[str, ...] = ("uscc", "legal_rep", "contact_phone", "address")


@dataclass(frozen=True)
class FeatureSpec:
    """One partner feature: its dimension and how a risk operator reads it.

    ``text`` is a format string for the value (``{v}``); ``better`` is ``"higher"`` or
    ``"lower"`` in the operator's intuition (the model learns its own sign).
    """

    name: str
    dimension: str
    text: str
    better: str
    log: bool = False  # the scorer uses log1p of it (rates, volumes, counts)


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("refund_rate", "risk", "refunds on {v:.2f}% of transactions", "lower", log=True),
    FeatureSpec("complaint_rate", "risk", "{v:.2f} complaints per 1,000 transactions", "lower",
                log=True),
    FeatureSpec("chargeback_rate", "risk", "{v:.2f} chargebacks per 1,000 transactions", "lower",
                log=True),
    FeatureSpec("fraud_rate", "risk", "{v:.2f} fraud reports per 10,000 transactions", "lower",
                log=True),
    FeatureSpec("risk_hit_rate", "risk", "{v:.1f} risk-scene hits per 100 active merchant-months",
                "lower", log=True),
    FeatureSpec("incident_trend", "risk",
                "recent incident rate is {v:+.2f} (log2) against the earlier months", "lower"),
    FeatureSpec("fraud_merchant_share", "risk", "{v:.1%} of merchants have a fraud report",
                "lower"),
    FeatureSpec("uscc_valid_share", "trust", "{v:.1%} of the USCCs given are valid", "higher"),
    FeatureSpec("location_verified_share", "trust", "{v:.1%} of store locations verified on site",
                "higher"),
    FeatureSpec("geo_consistent_share", "trust",
                "{v:.1%} of coordinates lie within 50 km of the registered city", "higher"),
    FeatureSpec("kyb_completeness", "trust", "KYB records are {v:.1%} complete", "higher"),
    FeatureSpec("merchant_tenure_months", "trust", "median merchant tenure {v:.0f} months",
                "higher"),
    FeatureSpec("active_share", "quality", "{v:.1%} of merchants transacted last month", "higher"),
    FeatureSpec("retention", "quality", "{v:.1%} of early-active merchants are still active",
                "higher"),
    FeatureSpec("txn_per_merchant", "quality", "{v:.1f} transactions per merchant per month",
                "higher", log=True),
    FeatureSpec("dormant_share", "quality", "{v:.1%} of merchants dormant for 3 months", "lower"),
    FeatureSpec("duplicate_share", "quality", "{v:.1%} of registrations are duplicates", "lower"),
    FeatureSpec("active_days", "quality", "{v:.1f} active days per active merchant-month",
                "higher"),
    FeatureSpec("volume", "value", "CNY {v:,.0f} processed in 12 months", "higher", log=True),
    FeatureSpec("txn_volume", "value", "{v:,.0f} transactions in 12 months", "higher", log=True),
    FeatureSpec("growth", "value", "recent volume growth {v:+.2f} (log2, last 3 vs prior 3 months)",
                "higher"),
    FeatureSpec("volume_per_merchant", "value",
                "CNY {v:,.0f} per active merchant-month", "higher", log=True),
    FeatureSpec("merchant_count", "value", "{v:,.0f} merchants", "higher", log=True),
    FeatureSpec("avg_ticket", "value", "average ticket CNY {v:,.0f}", "higher", log=True),
)
SPECS: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}
DIMENSION_FEATURES: dict[str, tuple[str, ...]] = {
    d: tuple(f.name for f in FEATURES if f.dimension == d) for d in DIMENSIONS
}
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


def describe(name: str, value: float) -> str:
    """The feature's value in words (``"3.10 complaints per 1,000 transactions"``)."""
    spec = SPECS.get(name)
    if value is None or not np.isfinite(value):
        return f"{name.replace('_', ' ')}: no data"
    if spec is None:
        return f"{name.replace('_', ' ')} = {value:.3g}"
    return spec.text.format(v=value)


# ---------------------------------------------------------------------------------------------


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index`` (-1 if absent); categoricals map their categories."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat_pos = index.get_indexer(values.cat.categories.astype(str))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, cat_pos[codes], -1)
    return index.get_indexer(values.astype(str))


def _month_numbers(values: pd.Series) -> np.ndarray:
    """``YYYY-MM`` → year*12 + month-1 (NaN-safe: invalid months become -1)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = _month_numbers(pd.Series(values.cat.categories.astype(str)))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, cats[np.maximum(codes, 0)], -1)
    s = values.astype(str)
    year = pd.to_numeric(s.str.slice(0, 4), errors="coerce")
    month = pd.to_numeric(s.str.slice(5, 7), errors="coerce")
    out = (year * 12 + month - 1).to_numpy(dtype=float)
    return np.where(np.isfinite(out), out, -1).astype(np.int64)


def _haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                  lon2: np.ndarray) -> np.ndarray:
    from paver.kyb.geo import great_circle_m

    return great_circle_m(lat1, lon1, lat2, lon2) / 1000.0


def _city_distance_km(merchants: pd.DataFrame, lat: np.ndarray,
                      lon: np.ndarray) -> np.ndarray:
    """Distance of each merchant's coordinates to its registered city's centre (shipped
    gazetteer; the nearest one when a romanised name is shared); NaN for unknown cities."""
    from paver.gazetteer import centres, fold

    table = centres()
    n = len(merchants)
    keys = np.full(n, "", dtype=object)
    for col in ("city", "city_zh"):  # the Chinese name, when known, wins: it is unambiguous
        if col in merchants:
            folded = merchants[col].fillna("").astype(str).map(fold).to_numpy(dtype=object)
            known = np.fromiter((k in table for k in folded), dtype=bool, count=n)
            keys = np.where(known, folded, keys)
    best = np.full(n, np.nan)
    for key in pd.unique(keys):
        if not key:
            continue
        rows = keys == key
        for clat, clon in table[key]:
            d = _haversine_km(lat[rows], lon[rows], np.full(rows.sum(), clat),
                              np.full(rows.sum(), clon))
            best[rows] = np.fmin(best[rows], d)
        best[rows] = np.where(np.isfinite(best[rows]), best[rows], np.inf)  # known city, no coords
    return best


def _present(merchants: pd.DataFrame, col: str) -> np.ndarray:
    if col not in merchants:
        return np.zeros(len(merchants), dtype=bool)
    s = merchants[col]
    return (s.notna() & (s.astype(str).str.strip() != "")).to_numpy()


def _ratio(num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, scale * num / np.where(den > 0, den, 1), np.nan)


def partner_features(merchants: pd.DataFrame, metrics: pd.DataFrame,
                     partners: pd.DataFrame | None = None, *, as_of: str | None = None,
                     partner_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Partner-level features (one row per partner, columns :data:`FEATURE_NAMES`).

    Parameters
    ----------
    merchants
        Registration rows (``merchant_id``, ``partner_id``, ``uscc``, ``lat``, ``lon``,
        ``city``, ``location_verified``, KYB fields, ``registered_at``, ``name_zh``) and,
        optionally, Paver's own risk-scene decisions on the merchant's code payments
        (``risk_alerts``, ``risk_confirmed``; :mod:`paver.trust.risk_feed`): alerts count as
        risk-scene hits and confirmed cases as fraud reports, in the window's latest months.
    metrics
        Monthly rows (``merchant_id``, ``month``, ``txn_count``, ``amount``, ``active_days``,
        ``refunds``, ``complaints``, ``chargebacks``, ``fraud_reports``, ``risk_hits``).
        Rows of unknown merchants are ignored.
    partners
        Optional; its ``partner_id`` order (and partners without merchants) is kept.
    as_of
        Last month of the window (``YYYY-MM``); default: the latest month in ``metrics``.
    partner_ids
        Optional explicit partner order (overrides ``partners``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``partner_id``; NaN where a feature has no data (e.g. no transactions).
    """
    if partner_ids is not None:
        pindex = pd.Index([str(p) for p in partner_ids], name="partner_id")
    elif partners is not None:
        pindex = pd.Index(partners["partner_id"].astype(str), name="partner_id")
    else:
        pindex = pd.Index(pd.unique(merchants["partner_id"].astype(str)), name="partner_id")
    n_p = len(pindex)
    m_ids = pd.Index(merchants["merchant_id"].astype(str))
    m_part = _codes(merchants["partner_id"], pindex)
    keep_m = m_part >= 0
    n_m = len(m_ids)
    mp = np.where(keep_m, m_part, n_p)  # merchants of other partners go to a spill bin
    count_m = np.bincount(mp, minlength=n_p + 1)[:n_p].astype(float)

    def per_partner(values: np.ndarray, codes: np.ndarray = mp) -> np.ndarray:
        return np.bincount(codes, weights=values.astype(float), minlength=n_p + 1)[:n_p]

    def share(mask: np.ndarray) -> np.ndarray:
        return _ratio(per_partner(mask), count_m)

    out = pd.DataFrame(index=pindex)

    # ---- trust: credentials, locations, KYB, tenure -------------------------------------------
    uscc_ok = valid_uscc_mask(merchants["uscc"]) if "uscc" in merchants else np.zeros(n_m, bool)
    out["uscc_valid_share"] = _ratio(per_partner(uscc_ok), per_partner(_present(merchants, "uscc")))
    verified = merchants.get("location_verified", pd.Series(False, index=merchants.index))
    verified = verified.astype(str).str.lower().isin(("true", "1", "yes")).to_numpy()
    out["location_verified_share"] = share(verified)
    lat = pd.to_numeric(merchants.get("lat"), errors="coerce")
    lon = pd.to_numeric(merchants.get("lon"), errors="coerce")
    lat = np.asarray(lat if lat is not None else np.full(n_m, np.nan), dtype=float)
    lon = np.asarray(lon if lon is not None else np.full(n_m, np.nan), dtype=float)
    dist = _city_distance_km(merchants, lat, lon)
    geo_known = ~np.isnan(dist)
    geo_ok = geo_known & (dist <= _GEO_KM)
    out["geo_consistent_share"] = _ratio(per_partner(geo_ok), per_partner(geo_known))
    kyb = np.mean([_present(merchants, c) for c in _KYB_FIELDS], axis=0) if n_m else \
        np.zeros(0)
    out["kyb_completeness"] = _ratio(per_partner(kyb), count_m)

    month_nums = _month_numbers(metrics["month"]) if len(metrics) else np.zeros(0, np.int64)
    if as_of is not None:
        end = _month_numbers(pd.Series([as_of]))[0]
    else:
        end = int(month_nums.max()) if len(month_nums) else -1
    reg_col = merchants.get("registered_at")  # optional: a table may not have it
    if reg_col is not None and end >= 0:
        reg = pd.to_datetime(reg_col, errors="coerce")
        reg_m = (reg.dt.year * 12 + reg.dt.month - 1).to_numpy(dtype=float)
        tenure = end - reg_m
        out["merchant_tenure_months"] = _group_median(tenure, mp, n_p)
    else:
        out["merchant_tenure_months"] = np.nan

    # ---- behaviour matrices: merchant × month ---------------------------------------------------
    mrow = _codes(metrics["merchant_id"], m_ids) if len(metrics) else np.zeros(0, np.int64)
    w = end - month_nums  # 0 = latest month
    ok = (mrow >= 0) & (w >= 0) & (w < WINDOW_MONTHS)
    mrow, w = mrow[ok], w[ok]
    col = WINDOW_MONTHS - 1 - w  # 0 = oldest month of the window
    prow = mp[mrow]

    def col_sum(name: str) -> np.ndarray:
        if name not in metrics:
            return np.zeros(len(mrow))
        return pd.to_numeric(metrics[name], errors="coerce").fillna(0).to_numpy(float)[ok]

    txn = col_sum("txn_count")
    amt = col_sum("amount")
    days = col_sum("active_days")
    refunds, complaints = col_sum("refunds"), col_sum("complaints")
    chargebacks, fraud = col_sum("chargebacks"), col_sum("fraud_reports")
    hits = col_sum("risk_hits")
    # Paver's own screening (the risk half): counted with the most recent behaviour
    fed_alerts = _merchant_counts(merchants, "risk_alerts")
    fed_cases = _merchant_counts(merchants, "risk_confirmed")

    txn_mat = np.zeros((n_m, WINDOW_MONTHS))
    _add2d(txn_mat, mrow, col, txn)
    amt_by_month = np.zeros((n_p + 1, WINDOW_MONTHS))
    _add2d(amt_by_month, prow, col, amt)

    recent = col >= WINDOW_MONTHS - RECENT_MONTHS
    t_all = per_partner(txn, prow)
    t_recent = per_partner(txn * recent, prow)
    t_prior = t_all - t_recent

    # ---- risk -----------------------------------------------------------------------------------
    out["refund_rate"] = _ratio(per_partner(refunds, prow), t_all, 100.0)
    out["complaint_rate"] = _ratio(per_partner(complaints, prow), t_all, 1_000.0)
    out["chargeback_rate"] = _ratio(per_partner(chargebacks, prow), t_all, 1_000.0)
    out["fraud_rate"] = _ratio(per_partner(fraud, prow) + per_partner(fed_cases), t_all,
                               10_000.0)
    active_row = txn > 0
    out["risk_hit_rate"] = _ratio(per_partner(hits, prow) + per_partner(fed_alerts),
                                  per_partner(active_row, prow), 100.0)
    incidents = complaints + chargebacks + fraud
    i_recent = per_partner(incidents * recent, prow) + per_partner(fed_cases)
    i_prior = per_partner(incidents * ~recent, prow)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.log2(((i_recent + 1) / (t_recent + 100)) / ((i_prior + 1) / (t_prior + 100)))
    out["incident_trend"] = np.where((t_recent > 0) & (t_prior > 0), trend, np.nan)
    fraud_m = (np.bincount(mrow, weights=fraud, minlength=n_m) > 0) | (fed_cases > 0)
    out["fraud_merchant_share"] = share(fraud_m)

    # ---- quality --------------------------------------------------------------------------------
    has_rows = np.bincount(mrow, minlength=n_m) > 0
    any_rows = per_partner(has_rows) > 0
    last = txn_mat[:, -1] > 0
    out["active_share"] = np.where(any_rows, share(last), np.nan)
    early = (txn_mat[:, :RECENT_MONTHS] > 0).any(axis=1)
    late = (txn_mat[:, -RECENT_MONTHS:] > 0).any(axis=1)
    out["retention"] = _ratio(per_partner(early & late), per_partner(early))
    months_live = np.bincount(mrow, minlength=n_m).astype(float)
    out["txn_per_merchant"] = _ratio(t_all, per_partner(months_live))
    out["dormant_share"] = np.where(any_rows, share(~late), np.nan)
    out["duplicate_share"] = share(_duplicates(merchants, mp))
    out["active_days"] = _ratio(per_partner(days, prow), per_partner(active_row, prow))

    # ---- value ----------------------------------------------------------------------------------
    a_all = amt_by_month[:n_p].sum(axis=1)
    out["volume"] = np.where(any_rows, a_all, np.nan)
    out["txn_volume"] = np.where(any_rows, t_all, np.nan)
    a_recent = amt_by_month[:n_p, -RECENT_MONTHS:].sum(axis=1)
    a_before = amt_by_month[:n_p, -2 * RECENT_MONTHS:-RECENT_MONTHS].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["growth"] = np.where(a_before > 0, np.log2((a_recent + 1) / (a_before + 1)), np.nan)
    out["volume_per_merchant"] = _ratio(a_all, per_partner(active_row, prow))
    out["merchant_count"] = count_m
    out["avg_ticket"] = _ratio(a_all, t_all)
    return out[list(FEATURE_NAMES)]


def _merchant_counts(merchants: pd.DataFrame, col: str) -> np.ndarray:
    """A non-negative per-merchant counter column (zeros when absent)."""
    if col not in merchants:
        return np.zeros(len(merchants))
    return pd.to_numeric(merchants[col], errors="coerce").fillna(0).clip(lower=0).to_numpy(float)


def _add2d(mat: np.ndarray, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
    """``mat[rows, cols] += values`` with repeats, via one flat bincount (fast for big inputs)."""
    flat = rows * mat.shape[1] + cols
    mat += np.bincount(flat, weights=values, minlength=mat.size).reshape(mat.shape)


def _group_median(values: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    s = pd.Series(values).groupby(codes).median()
    out = np.full(n, np.nan)
    idx = s.index.to_numpy()
    keep = idx < n
    out[idx[keep]] = s.to_numpy()[keep]
    return out


def _duplicates(merchants: pd.DataFrame, mp: np.ndarray) -> np.ndarray:
    """A registration repeating an earlier one of the same partner (same USCC, or same shop
    name at the same rounded coordinates)."""
    n = len(merchants)
    if n == 0:
        return np.zeros(0, dtype=bool)
    dup = np.zeros(n, dtype=bool)
    if "uscc" in merchants:
        u = pd.Series(normalize_uscc_many(merchants["uscc"]), index=merchants.index)
        key = pd.DataFrame({"p": mp, "u": u})
        dup |= key.duplicated().to_numpy() & (u != "").to_numpy()
    name_col = "name_zh" if "name_zh" in merchants else "name"
    if name_col in merchants and "lat" in merchants and "lon" in merchants:
        key = pd.DataFrame({
            "p": mp,
            "n": merchants[name_col].fillna("").astype(str),
            "la": pd.to_numeric(merchants["lat"], errors="coerce").round(4),
            "lo": pd.to_numeric(merchants["lon"], errors="coerce").round(4),
        })
        dup |= key.duplicated().to_numpy()
    return dup


def region_coverage(merchants: pd.DataFrame, regions: Sequence[str],
                    partner_ids: Sequence[str]) -> np.ndarray:
    """Share of each partner's merchants located in ``regions`` (1.0 when no regions given)."""
    pindex = pd.Index([str(p) for p in partner_ids])
    if not regions:
        return np.ones(len(pindex))
    mp = _codes(merchants["partner_id"], pindex)
    mp = np.where(mp >= 0, mp, len(pindex))
    wanted = {r.lower() for r in regions}
    inside = merchants.get("region", pd.Series("", index=merchants.index)).astype(str)
    inside = inside.str.lower().isin(wanted).to_numpy()
    total = np.bincount(mp, minlength=len(pindex) + 1)[:-1].astype(float)
    hit = np.bincount(mp, weights=inside.astype(float), minlength=len(pindex) + 1)[:-1]
    return np.where(total > 0, hit / np.where(total > 0, total, 1), 0.0)
