"""Chinese prefecture-level cities and the four municipalities: where each city centre lies.

The table ships as data (``assets/gazetteer/cn_prefecture_cities.csv``, GeoNames positions under
CC BY 4.0; see ``ATTRIBUTION.md`` there). Trust features use it to check that a merchant's
coordinates lie near its registered city, whatever world or ingest file the merchant came from.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GAZETTEER_FILE = Path(__file__).resolve().parent / "assets" / "gazetteer" / \
    "cn_prefecture_cities.csv"
_FOLD = re.compile(r"[\s'’`\-]+")


@dataclass(frozen=True, slots=True)
class City:
    """One city of the gazetteer (position WGS-84)."""

    adcode: str
    name_zh: str
    name: str
    province_zh: str
    lat: float
    lon: float
    population: int


def fold(name: str) -> str:
    """A city name as looked up: case, spaces, apostrophes, hyphens and a trailing 市 ignored
    (``"Xi'an"``, ``"xian"`` and ``"西安市"`` → their folded keys)."""
    return _FOLD.sub("", str(name)).casefold().removesuffix("市")


@lru_cache(maxsize=1)
def cities() -> tuple[City, ...]:
    """Every city of the shipped table."""
    with GAZETTEER_FILE.open(encoding="utf-8", newline="") as fh:
        return tuple(City(adcode=r["adcode"], name_zh=r["name_zh"], name=r["name"],
                          province_zh=r["province_zh"], lat=float(r["lat"]), lon=float(r["lon"]),
                          population=int(r["population"]))
                     for r in csv.DictReader(fh))


@lru_cache(maxsize=1)
def centres() -> dict[str, tuple[tuple[float, float], ...]]:
    """Folded name (romanised or Chinese) → centres of every city carrying it.

    Romanised names repeat (Suzhou is 苏州 in Jiangsu and 宿州 in Anhui): such a key lists
    every candidate, and a position is consistent with the name when it is near any of them.
    """
    out: dict[str, list[tuple[float, float]]] = {}
    for c in cities():
        for key in {fold(c.name), fold(c.name_zh)}:
            out.setdefault(key, []).append((c.lat, c.lon))
    return {k: tuple(v) for k, v in out.items()}
