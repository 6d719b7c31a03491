"""Synthetic candidate partners, their merchants, monthly behaviour and hidden ground truth.

Each partner has four latent qualities (higher is better on every one): ``risk`` (few
incidents), ``trust`` (credentials and locations hold up), ``quality`` (merchants stay active)
and ``value`` (volume and growth). Merchants and their monthly behaviour are drawn from them;
the latents themselves and the partners' *later* outcomes are written apart, as the hidden
ground truth the trust-tiering model learns from and is judged against.

Files written by :meth:`PartnerWorld.write`
-------------------------------------------
``partners.csv``
    ``partner_id`` (``P0001``…), ``name`` (ASCII), ``name_zh``, ``kind`` (``rural_bank`` |
    ``city_bank`` | ``service_provider``), ``region`` (``east`` ``south`` ``north`` ``west``
    ``central``), ``city`` (head office), ``guid`` (GUID of the partner's EMV merchant-account
    template, reverse-domain form, ≤ 32 chars), ``onboarded`` (``YYYY-MM-DD``).
``merchants.csv``
    ``merchant_id`` (``P0001-M00001``; globally unique), ``partner_id``,
    ``partner_merchant_id`` (the partner's own 15-digit merchant number), ``partner_guid``,
    ``name`` (ASCII, ≤ 25 chars, EMV tag 59), ``name_zh`` (Chinese shop name), ``mcc``
    (ISO 18245), ``city`` (ASCII, ≤ 15 chars), ``city_zh``, ``region``, ``lat``/``lon``
    (WGS-84 degrees, a few km around the city; a few are wrong), ``uscc`` (Unified Social
    Credit Code: mostly valid, some with a broken check character, length or alphabet, some
    empty), ``legal_rep``,
    ``contact_phone``, ``address`` (KYB fields, sometimes empty), ``location_verified``
    (``true``/``false``: the store location was checked on site), ``level`` (onboarding level
    1–3), ``registered_at`` (``YYYY-MM-DD``). Duplicate registrations (same shop, USCC and
    coordinates under a second merchant id) occur, more often under low-quality partners.
``metrics.csv``
    One row per merchant and month from its registration (window ``2024-01``…``2024-12``):
    ``merchant_id``, ``partner_id``, ``month`` (``YYYY-MM``), ``txn_count``, ``amount`` (CNY,
    2 decimals), ``active_days`` (0–31), ``refunds``, ``complaints``, ``chargebacks``,
    ``fraud_reports``, ``risk_hits`` (hits of the platform's risk scenes on the merchant's
    traffic). Churned and dormant merchants report zeros.
``partner_truth.csv``
    Hidden: ``partner_id``, ``risk``, ``trust``, ``quality``, ``value`` (the latents, standard
    scale, higher is better), and the outcomes observed *after* the window as 0/1 labels
    (1 = good): ``outcome_risk`` (no serious risk incident), ``outcome_trust`` (passed the
    later KYB audit), ``outcome_quality`` (portfolio stayed active), ``outcome_value`` (met the
    volume target), ``outcome_overall`` (the partnership met its goals overall).

The same generator state always gives the same world.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from paver.kyb.uscc import ALPHABET as USCC_ALPHABET
from paver.kyb.uscc import uscc_check_indices

DIMENSIONS: tuple[str, ...] = ("risk", "trust", "quality", "value")
KINDS: tuple[str, ...] = ("rural_bank", "city_bank", "service_provider")
MONTHS: tuple[str, ...] = tuple(f"2024-{m:02d}" for m in range(1, 13))
AS_OF = "2024-12-31"

#: region → cities: (ASCII name, Chinese name, lat, lon, admin division code)
CITIES: dict[str, tuple[tuple[str, str, float, float, str], ...]] = {
    "east": (("Hangzhou", "杭州", 30.2741, 120.1551, "330100"),
             ("Shanghai", "上海", 31.2304, 121.4737, "310000"),
             ("Nanjing", "南京", 32.0603, 118.7969, "320100"),
             ("Hefei", "合肥", 31.8206, 117.2272, "340100")),
    "south": (("Guangzhou", "广州", 23.1291, 113.2644, "440100"),
              ("Shenzhen", "深圳", 22.5431, 114.0579, "440300"),
              ("Nanning", "南宁", 22.8170, 108.3665, "450100"),
              ("Fuzhou", "福州", 26.0745, 119.2965, "350100")),
    "north": (("Beijing", "北京", 39.9042, 116.4074, "110000"),
              ("Tianjin", "天津", 39.3434, 117.3616, "120000"),
              ("Shijiazhuang", "石家庄", 38.0428, 114.5149, "130100"),
              ("Taiyuan", "太原", 37.8706, 112.5489, "140100")),
    "west": (("Chengdu", "成都", 30.5728, 104.0668, "510100"),
             ("Chongqing", "重庆", 29.4316, 106.9123, "500000"),
             ("Xi'an", "西安", 34.3416, 108.9398, "610100"),
             ("Kunming", "昆明", 24.8801, 102.8329, "530100")),
    "central": (("Wuhan", "武汉", 30.5928, 114.3055, "420100"),
                ("Changsha", "长沙", 28.2282, 112.9388, "430100"),
                ("Zhengzhou", "郑州", 34.7466, 113.6254, "410100"),
                ("Nanchang", "南昌", 28.6820, 115.8579, "360100")),
}
REGIONS: tuple[str, ...] = tuple(CITIES)

#: MCC → (ASCII shop word ≤ 17 chars, Chinese shop word, mean ticket CNY)
SHOPS: dict[str, tuple[str, str, float]] = {
    "5812": ("Noodle House", "面馆", 38.0),
    "5814": ("Snack Bar", "小吃店", 22.0),
    "5411": ("Supermarket", "超市", 85.0),
    "5499": ("Convenience Store", "便利店", 28.0),
    "5912": ("Pharmacy", "大药房", 66.0),
    "5462": ("Bakery", "面包坊", 30.0),
    "7230": ("Barber Shop", "理发店", 45.0),
    "5251": ("Hardware", "五金店", 70.0),
    "5331": ("Variety Store", "百货店", 40.0),
    "5977": ("Cosmetics", "化妆品店", 120.0),
    "5441": ("Tea and Sweets", "茶饮店", 18.0),
    "5999": ("Sundries", "杂货铺", 25.0),
}
_SURNAMES = (("Wang", "王"), ("Li", "李"), ("Zhang", "张"), ("Liu", "刘"), ("Chen", "陈"),
             ("Yang", "杨"), ("Zhao", "赵"), ("Huang", "黄"), ("Zhou", "周"), ("Wu", "吴"),
             ("Xu", "徐"), ("Sun", "孙"), ("Hu", "胡"), ("Zhu", "朱"), ("Gao", "高"),
             ("Lin", "林"), ("He", "何"), ("Guo", "郭"), ("Ma", "马"), ("Luo", "罗"))
_GIVEN_ZH = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
             "涛", "明", "超", "秀英", "霞", "平", "刚", "桂英")
_STREETS_ZH = ("人民路", "解放路", "中山路", "建设路", "和平街", "新华路", "文化路", "胜利街",
               "长江路", "东风路", "朝阳街", "光明路")
_PAY_WORDS = (("Jinyuan", "金元"), ("Huitong", "汇通"), ("Xinda", "信达"), ("Fuyou", "富友"),
              ("Yinsheng", "银盛"), ("Lianfu", "联付"), ("Tongda", "通达"), ("Kaixin", "开心"))

_USCC_ALPHABET = USCC_ALPHABET

# Latent means per partner kind, in DIMENSIONS order (higher is better).
_KIND_MEAN = {
    "rural_bank": (0.15, 0.25, -0.1, -0.35),
    "city_bank": (0.25, 0.45, 0.15, 0.35),
    "service_provider": (-0.3, -0.45, 0.0, 0.2),
}
_KIND_P = (0.4, 0.25, 0.35)
_LATENT_CORR = 0.3
_OUTCOME_NOISE = 0.45  # noise on the latent before an outcome is thresholded
_OUTCOME_CUT = -0.45   # about 70 % of partners end with a good outcome per dimension


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


#: Check characters for an ``(n, 17)`` array of alphabet indices (GB 32100-2015); the one
#: implementation is the KYB module's.
uscc_check_chars = uscc_check_indices


@dataclass
class PartnerWorld:
    """The generated partner world: four tables as pandas DataFrames.

    Attributes
    ----------
    partners, merchants, metrics, truth
        The contents of ``partners.csv``, ``merchants.csv``, ``metrics.csv`` and
        ``partner_truth.csv`` (see the module docstring for the columns).
    """

    partners: pd.DataFrame
    merchants: pd.DataFrame
    metrics: pd.DataFrame
    truth: pd.DataFrame

    def write(self, out_dir: Path) -> dict[str, int]:
        """Write the four CSV files (UTF-8) into ``out_dir``; return rows per file."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {
            "partners.csv": self.partners,
            "merchants.csv": self.merchants,
            "metrics.csv": self.metrics,
            "partner_truth.csv": self.truth,
        }
        for name, df in files.items():
            df.to_csv(out_dir / name, index=False, encoding="utf-8", lineterminator="\n")
        return {name: len(df) for name, df in files.items()}


def generate(rng: np.random.Generator, n_partners: int, merchants_per_partner: int, *,
             id_prefix: str = "P") -> PartnerWorld:
    """Generate ``n_partners`` partners with ``merchants_per_partner`` merchants each.

    Parameters
    ----------
    rng
        The only source of randomness: the same state gives the same world.
    n_partners
        Number of candidate partners (1–9,999).
    merchants_per_partner
        Merchant registrations per partner (≥ 1), duplicates included.
    id_prefix
        First letter(s) of partner ids (``P0001``); a labelled history cohort generated beside
        the candidates uses another prefix (``H0001``) so the two never collide.

    Returns
    -------
    PartnerWorld
    """
    if not 1 <= n_partners <= 9_999:
        raise ValueError(f"n_partners must be between 1 and 9999, got {n_partners}")
    if merchants_per_partner < 1:
        raise ValueError(f"merchants_per_partner must be at least 1, got {merchants_per_partner}")
    if not id_prefix.isalpha():
        raise ValueError(f"id_prefix must be letters, got {id_prefix!r}")
    partners, latent, drift = _partners(rng, n_partners, id_prefix)
    truth = _truth(rng, partners, latent)
    merchants, mstate = _merchants(rng, partners, latent, merchants_per_partner)
    metrics = _metrics(rng, merchants, mstate, latent, drift)
    return PartnerWorld(partners=partners, merchants=merchants, metrics=metrics, truth=truth)


# ---------------------------------------------------------------------------------------------
# Partners and ground truth


def _partners(rng: np.random.Generator, n: int,
              prefix: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    kind_idx = rng.choice(len(KINDS), size=n, p=_KIND_P)
    region_idx = rng.integers(0, len(REGIONS), size=n)
    city_idx = rng.integers(0, 4, size=n)
    cov = np.full((4, 4), _LATENT_CORR) + np.eye(4) * (1 - _LATENT_CORR)
    means = np.array([_KIND_MEAN[k] for k in KINDS])[kind_idx]
    latent = means + rng.multivariate_normal(np.zeros(4), cov, size=n)
    drift = rng.normal(0.0, 0.35, size=n)  # risk got better (+) or worse (-) over the window
    onboard_days = rng.integers(90, 9 * 365, size=n) + (latent[:, 1] * 300).astype(int)
    onboarded = pd.Timestamp(AS_OF) - pd.to_timedelta(np.clip(onboard_days, 30, None), unit="D")
    ids = [f"{prefix}{i + 1:04d}" for i in range(n)]
    names, names_zh, cities, guids = [], [], [], []
    for i in range(n):
        city, city_zh, *_ = CITIES[REGIONS[region_idx[i]]][city_idx[i]]
        kind = KINDS[kind_idx[i]]
        if kind == "rural_bank":
            names.append(f"{city} Rural Commercial Bank")
            names_zh.append(f"{city_zh}农村商业银行")
            guids.append(f"cn.ruralbank.{ids[i].lower()}")
        elif kind == "city_bank":
            names.append(f"Bank of {city}")
            names_zh.append(f"{city_zh}银行")
            guids.append(f"cn.citybank.{ids[i].lower()}")
        else:
            word, word_zh = _PAY_WORDS[int(rng.integers(0, len(_PAY_WORDS)))]
            names.append(f"{city} {word} Payment Services")
            names_zh.append(f"{city_zh}{word_zh}支付服务有限公司")
            guids.append(f"cn.paysvc.{ids[i].lower()}")
        cities.append(city)
    partners = pd.DataFrame({
        "partner_id": ids,
        "name": [f"{nm} ({pid})" for nm, pid in zip(names, ids, strict=True)],
        "name_zh": names_zh,
        "kind": [KINDS[k] for k in kind_idx],
        "region": [REGIONS[r] for r in region_idx],
        "city": cities,
        "guid": guids,
        "onboarded": onboarded.strftime("%Y-%m-%d"),
    })
    return partners, latent, drift


def _truth(rng: np.random.Generator, partners: pd.DataFrame, latent: np.ndarray) -> pd.DataFrame:
    n = len(partners)
    truth = pd.DataFrame({"partner_id": partners["partner_id"]})
    for j, dim in enumerate(DIMENSIONS):
        truth[dim] = np.round(latent[:, j], 4)
    for j, dim in enumerate(DIMENSIONS):
        noisy = latent[:, j] + rng.normal(0.0, _OUTCOME_NOISE, size=n)
        truth[f"outcome_{dim}"] = (noisy > _OUTCOME_CUT).astype(int)
    overall = latent @ np.array([0.35, 0.25, 0.2, 0.2]) / 0.75
    truth["outcome_overall"] = (overall + rng.normal(0.0, _OUTCOME_NOISE, size=n)
                                > _OUTCOME_CUT).astype(int)
    return truth


# ---------------------------------------------------------------------------------------------
# Merchants


@dataclass
class _MerchantState:
    partner_idx: np.ndarray   # partner row of each merchant
    start: np.ndarray         # first month index in the window (0..11; 0 if registered before)
    activity: np.ndarray      # log-scale monthly transaction level
    churn: np.ndarray         # month index from which the merchant is inactive (12 = never)
    bad: np.ndarray           # a bad apple: many times the incident rates
    dormant: np.ndarray       # never transacts
    ticket: np.ndarray        # mean ticket in CNY


def _merchants(rng: np.random.Generator, partners: pd.DataFrame, latent: np.ndarray,
               per_partner: int) -> tuple[pd.DataFrame, _MerchantState]:
    n_p = len(partners)
    n = n_p * per_partner
    pidx = np.repeat(np.arange(n_p), per_partner)
    seq = np.tile(np.arange(1, per_partner + 1), n_p)
    risk, trust, quality, value = (latent[pidx, j] for j in range(4))

    # Location: mostly the partner's region; service providers spread wider.
    region_names = np.array(REGIONS)
    p_region = partners["region"].to_numpy()[pidx]
    spread = np.where(partners["kind"].to_numpy()[pidx] == "service_provider", 0.35, 0.1)
    other = rng.random(n) < spread
    region = np.where(other, region_names[rng.integers(0, len(REGIONS), n)], p_region)
    city_i = rng.integers(0, 4, n)
    city_tab = {r: CITIES[r] for r in REGIONS}
    pick = [city_tab[r][c] for r, c in zip(region, city_i, strict=True)]
    city = np.array([c[0] for c in pick], dtype=object)
    city_zh = np.array([c[1] for c in pick], dtype=object)
    lat = np.array([c[2] for c in pick]) + rng.normal(0, 0.035, n)
    lon = np.array([c[3] for c in pick]) + rng.normal(0, 0.04, n)
    admin = np.array([c[4] for c in pick], dtype=object)
    # Wrong coordinates (still valid WGS-84): another city's, or a few hundred km off.
    bad_geo = rng.random(n) < _sigmoid(-3.4 - 0.9 * trust)
    all_cities = [c for cs in CITIES.values() for c in cs]
    other_city = rng.integers(0, len(all_cities), n)
    elsewhere = bad_geo & (rng.random(n) < 0.5)
    lat = np.where(elsewhere, np.array([c[2] for c in all_cities])[other_city], lat)
    lon = np.where(elsewhere, np.array([c[3] for c in all_cities])[other_city], lon)
    far = bad_geo & ~elsewhere
    lat = np.where(far, lat + rng.uniform(-5, 5, n), lat)
    lon = np.where(far, lon + rng.uniform(-5, 5, n), lon)

    # Shop identity.
    mccs = np.array(list(SHOPS))
    mcc = mccs[rng.integers(0, len(mccs), n)]
    sur = rng.integers(0, len(_SURNAMES), n)
    shop_en = np.array([SHOPS[m][0] for m in mccs], dtype=object)[_index(mccs, mcc)]
    shop_zh = np.array([SHOPS[m][1] for m in mccs], dtype=object)[_index(mccs, mcc)]
    ticket_base = np.array([SHOPS[m][2] for m in mccs])[_index(mccs, mcc)]
    sur_en = np.array([s[0] for s in _SURNAMES], dtype=object)[sur]
    sur_zh = np.array([s[1] for s in _SURNAMES], dtype=object)[sur]
    name = sur_en + "'s " + shop_en
    name_zh = sur_zh + "记" + shop_zh
    given = np.array(_GIVEN_ZH, dtype=object)[rng.integers(0, len(_GIVEN_ZH), n)]
    legal_rep = sur_zh + given
    phone = np.char.add("1", np.char.add(
        rng.choice(np.array(list("3456789")), n).astype(str),
        np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))).astype(object)
    street = np.array(_STREETS_ZH, dtype=object)[rng.integers(0, len(_STREETS_ZH), n)]
    address = city_zh + "市" + street + rng.integers(1, 400, n).astype(str).astype(object) + "号"

    # USCC: 9 (SAIC) + entity type + admin code + 9-char organisation code + check.
    body = np.empty((n, 17), dtype=np.int64)
    body[:, 0] = 9
    body[:, 1] = np.where(rng.random(n) < 0.55, 2, 1)  # 2 individual business, 1 company
    admin_digits = np.array([[int(ch) for ch in a] for a in admin]).reshape(n, 6) if n else \
        np.empty((0, 6), dtype=np.int64)
    body[:, 2:8] = admin_digits
    body[:, 8:17] = rng.integers(0, 31, (n, 9))
    body[:, 8] = rng.integers(0, 10, n)
    check = uscc_check_chars(body)
    alphabet = np.array(list(_USCC_ALPHABET))
    chars = alphabet[np.concatenate([body, check[:, None]], axis=1)]
    uscc = np.array(["".join(r) for r in chars], dtype=object)
    broken = rng.random(n) < _sigmoid(-2.6 - 1.3 * trust)
    how = rng.random(n)
    for i in np.flatnonzero(broken):
        u = uscc[i]
        if how[i] < 0.6:  # wrong check character
            right = u[-1]
            wrong = _USCC_ALPHABET[(_USCC_ALPHABET.index(right) + 1 + int(how[i] * 1000) % 30)
                                   % 31]
            uscc[i] = u[:-1] + wrong
        elif how[i] < 0.8:  # a character dropped
            uscc[i] = u[:9] + u[10:]
        else:  # a letter outside the alphabet (I, O, S, V, Z)
            uscc[i] = u[:10] + "IOSVZ"[int(how[i] * 100) % 5] + u[11:]

    # KYB completeness and on-site verification.
    p_field = _sigmoid(1.6 + 1.1 * trust)
    uscc = np.where(rng.random(n) < p_field, uscc, "")
    legal_rep = np.where(rng.random(n) < p_field, legal_rep, "")
    phone = np.where(rng.random(n) < _sigmoid(2.2 + 1.0 * trust), phone, "")
    address = np.where(rng.random(n) < p_field, address, "")
    verified = rng.random(n) < _sigmoid(0.6 + 1.3 * trust)
    level = 1 + (rng.random(n) < _sigmoid(0.3 * trust + 0.3 * quality)).astype(int) + \
        (verified & (rng.random(n) < 0.4)).astype(int)

    # Registration: higher-trust partners have older portfolios.
    months_ago = np.clip(rng.gamma(2.0, 8.0 * np.exp(0.35 * trust)), 0, 120).astype(int)
    reg = pd.Timestamp(AS_OF) - pd.to_timedelta(months_ago * 30 + rng.integers(0, 30, n),
                                                 unit="D")
    reg_month = (reg.year.to_numpy() - 2024) * 12 + reg.month.to_numpy() - 1
    start = np.clip(reg_month, 0, 11)

    # Behaviour state.
    activity = 3.6 + 0.9 * value + 0.1 * quality + rng.normal(0, 0.5, n)
    dormant = rng.random(n) < _sigmoid(-2.2 - 1.2 * quality)
    churn_p = _sigmoid(-2.4 - 1.1 * quality)  # probability a live merchant churns in the window
    churns = rng.random(n) < churn_p * 3
    churn = np.where(churns, rng.integers(1, 13, n), 12)
    churn = np.maximum(churn, start + 1)
    bad = rng.random(n) < _sigmoid(-3.0 - 1.3 * risk)
    ticket = ticket_base * np.exp(0.25 * value + rng.normal(0, 0.3, n))

    # Duplicates: a second registration of an earlier shop under the same partner.
    dup = (rng.random(n) < _sigmoid(-3.0 - 1.2 * quality)) & (seq > 1)
    back = 1 + np.floor(rng.random(n) * np.maximum(seq - 1, 1)).astype(np.int64)
    src = np.where(dup, np.arange(n) - back, np.arange(n))
    for arr in (name, name_zh, uscc, legal_rep, address, city, city_zh, region, mcc):
        arr[dup] = arr[src[dup]]
    lat = np.where(dup, lat[src], lat)
    lon = np.where(dup, lon[src], lon)
    dormant = dormant | dup & (rng.random(n) < 0.6)

    pid = partners["partner_id"].to_numpy()[pidx]
    pnum = np.char.zfill((pidx + 1).astype(str), 4)
    merchants = pd.DataFrame({
        "merchant_id": np.char.add(np.char.add(pid.astype(str), "-M"),
                                   np.char.zfill(seq.astype(str), 5)).astype(object),
        "partner_id": pid,
        "partner_merchant_id": np.char.add(np.char.add(pnum, mcc.astype(str)),
                                           np.char.zfill(seq.astype(str), 7)).astype(object),
        "partner_guid": partners["guid"].to_numpy()[pidx],
        "name": name,
        "name_zh": name_zh,
        "mcc": mcc.astype(object),
        "city": city,
        "city_zh": city_zh,
        "region": region.astype(object),
        "lat": np.round(lat, 6),
        "lon": np.round(lon, 6),
        "uscc": uscc,
        "legal_rep": legal_rep,
        "contact_phone": phone,
        "address": address,
        "location_verified": verified,
        "level": level,
        "registered_at": reg.strftime("%Y-%m-%d"),
    })
    state = _MerchantState(partner_idx=pidx, start=start, activity=activity, churn=churn,
                           bad=bad, dormant=dormant, ticket=ticket)
    return merchants, state


def _index(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    order = np.argsort(keys)
    return order[np.searchsorted(keys[order], values)]


# ---------------------------------------------------------------------------------------------
# Monthly metrics


def _metrics(rng: np.random.Generator, merchants: pd.DataFrame, st: _MerchantState,
             latent: np.ndarray, drift: np.ndarray) -> pd.DataFrame:
    n_months = len(MONTHS)
    counts = n_months - st.start
    m_idx = np.repeat(np.arange(len(st.start)), counts)
    # month index of each row: start, start+1, ... 11
    offsets = np.arange(len(m_idx)) - np.repeat(np.cumsum(counts) - counts, counts)
    month = st.start[m_idx] + offsets
    p = st.partner_idx[m_idx]
    risk, _, quality, value = (latent[p, j] for j in range(4))
    growth = 0.05 * value + 0.01 * quality
    level = st.activity[m_idx] + growth * (month - 11) + rng.normal(0, 0.25, len(m_idx))
    live = (month < st.churn[m_idx]) & ~st.dormant[m_idx]
    lam = np.where(live, np.exp(level), 0.0)
    txn = rng.poisson(lam)
    amount = np.round(txn * st.ticket[m_idx] * np.exp(rng.normal(0, 0.15, len(m_idx))), 2)
    active_days = np.where(txn > 0, np.minimum(31, rng.binomial(30, 1 - np.exp(-txn / 25.0)) + 1),
                           0)
    # Risk now (month 11) is the latent; earlier months differ by the drift.
    risk_t = risk - drift[p] * (11 - month) / 11
    bad = np.where(st.bad[m_idx], 8.0, 1.0)
    refunds = rng.poisson(txn * 0.012 * np.exp(-0.45 * risk_t) * np.sqrt(bad))
    complaints = rng.poisson(txn * 0.0025 * np.exp(-0.75 * risk_t) * bad)
    chargebacks = rng.poisson(txn * 0.0009 * np.exp(-0.85 * risk_t) * bad)
    fraud = rng.poisson(txn * 0.0003 * np.exp(-1.0 * risk_t) * bad)
    hits = rng.poisson(np.where(live, 0.03, 0.0) * np.exp(-1.0 * risk_t) * bad)
    # Categorical keys: a million merchants' worth of rows stays small and groups fast.
    p_codes, p_names = pd.factorize(merchants["partner_id"])
    return pd.DataFrame({
        "merchant_id": pd.Categorical.from_codes(m_idx, categories=merchants["merchant_id"]),
        "partner_id": pd.Categorical.from_codes(p_codes[m_idx], categories=p_names),
        "month": pd.Categorical.from_codes(month, categories=list(MONTHS)),
        "txn_count": txn,
        "amount": amount,
        "active_days": active_days,
        "refunds": refunds,
        "complaints": complaints,
        "chargebacks": chargebacks,
        "fraud_reports": fraud,
        "risk_hits": hits,
    })
