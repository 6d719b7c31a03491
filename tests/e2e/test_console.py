"""The console and the merchant page in real headless Chromium against ``paver serve --demo``.

One server (the demo world preloaded, every event source running in-process) and one browser
serve the whole module. Each page is checked with axe-core (no serious or critical
violation), reached by keyboard, screenshotted to ``out/screens/`` and watched for console
errors. Tokens are issued with the local development secret, as ``paver token`` does.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
import pytest
import requests

from paver_dev.local_aws import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e-console")]


WORLD = {"seed": 7, "partners": 6, "merchants_per_partner": 8, "accounts": 600}
SCREENS = Path(__file__).resolve().parents[2] / "out" / "screens"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
NAV = ["Campaigns", "Rollout", "Merchants", "Risk alerts", "Knowledge base"]
#: The partner the test campaign rolls out (region "south" in the seed-7 world; not part of the
#: demo campaign, so none of its merchants has a code yet, and not selected by the rules).
PILOT_PARTNER, PILOT_REGION = "P0005", "south"
OTHER_PARTNER = "P0006"  # selected in the demo campaign: has codes and bound merchants


def _token(role: str, pid: str) -> str:
    from paver.auth import issue_token

    old = os.environ.get("PAVER_STAGE")
    os.environ["PAVER_STAGE"] = "local"  # the development secret is valid on local stages
    try:
        return issue_token(role, pid)
    finally:
        if old is None:
            os.environ.pop("PAVER_STAGE", None)
        else:
            os.environ["PAVER_STAGE"] = old


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    paver = Path(sys.executable).with_name("paver")
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "PAVER_STAGE")}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    args = [str(paver), "serve", "--demo", "--port", str(port)]
    for k, v in WORLD.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"paver serve exited:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(base + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("paver serve --demo did not answer within 300 s")
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served world's files (regenerated: the generator is deterministic)."""
    from paver_dev.world import WorldOptions, generate_world

    d = tmp_path_factory.mktemp("world")
    generate_world(WorldOptions(**WORLD).validate(), d)
    return d


@pytest.fixture(scope="module")
def world(world_dir: Path) -> dict[str, dict[str, str]]:
    """The served world's merchants."""
    with (world_dir / "merchants.csv").open(encoding="utf-8") as f:
        return {r["merchant_id"]: r for r in csv.DictReader(f)}


def shared_phones(world_dir: Path, accounts: int = 4) -> list[dict[str, str]]:
    """Payers on the served world's phones that ``accounts`` or more accounts share (as a
    mule ring does: one handset, several accounts): one account per phone, with its IP."""
    users: dict[str, list[dict[str, str]]] = {}
    with (world_dir / "devices.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            users.setdefault(r["device_id"], []).append(r)
    payers = [{"from_account": rows[0]["account_id"], "from_device": device,
               "from_ip": rows[0]["ip"]}
              for device, rows in sorted(users.items()) if len(rows) >= accounts]
    assert payers, f"the world has no phone shared by {accounts} accounts"
    return payers


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is required (make sysdeps installs it)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Session:
    """A browser context (one person) whose console errors fail the test."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


@pytest.fixture
def session(browser: Any) -> Iterator[Any]:
    made: list[Session] = []

    def make(**kw: Any) -> Any:
        s = Session(browser, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


# Assertions wait up to 20 s (Playwright's default is 5 s): CI's two cores may be busy with the
# other test worker while the server renders prints.
playwright_api.expect.set_options(timeout=20_000)


def expect(locator: Any) -> Any:
    return playwright_api.expect(locator)


def check_page(page: Any, name: str) -> None:
    """axe-core: no serious/critical violation; every control reachable by Tab; screenshot."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("networkidle")
    results = Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{name}: {bad}"
    assert_keyboard_reachable(page, name)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def assert_keyboard_reachable(page: Any, name: str) -> None:
    """Tab from the top of the page: every visible, enabled control receives focus."""
    total = page.evaluate("""() => {
      const sel = 'a[href], button, input, select, textarea, summary, '
        + '[tabindex]:not([tabindex="-1"])';
      let i = 0;
      document.querySelectorAll('[data-kb]').forEach(e => delete e.dataset.kb);
      for (const e of document.querySelectorAll(sel)) {
        // visible to a person: rendered, not in a closed <details>, not visibility:hidden
        if (e.disabled || !e.checkVisibility({ contentVisibilityAuto: true,
                                               visibilityProperty: true })) continue;
        e.dataset.kb = String(i++);
      }
      return i;
    }""")
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); "
                  "window.scrollTo(0, 0); }")
    seen: set[str] = set()
    for _ in range(total * 2 + 10):
        page.keyboard.press("Tab")
        mark = page.evaluate("() => document.activeElement && document.activeElement.dataset"
                             " ? document.activeElement.dataset.kb || '' : ''")
        if mark:
            seen.add(mark)
        if len(seen) == total:
            break
    missing = page.evaluate("""seen => [...document.querySelectorAll('[data-kb]')]
      .filter(e => !seen.includes(e.dataset.kb)).map(e => e.outerHTML.slice(0, 80))""",
                            sorted(seen))
    assert missing == [], f"{name}: {len(missing)} of {total} controls not reachable by Tab"


def filter_alerts(page: Any) -> None:
    """Click Filter and wait for its answer to be painted."""
    with page.expect_response(lambda r: "/risk/alerts?" in r.url, timeout=60_000):
        page.get_by_role("button", name="Filter").click()
    page.wait_for_timeout(200)


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url)
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()


# ---------------------------------------------------------------------------------------------


def test_operator_runs_a_campaign_to_a_full_rollout(server: str, session: Any) -> None:
    s = session()
    page = s.page
    sign_in(page, server + "/console/", _token("operator", "ops-e2e"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(NAV)
    assert page.evaluate("() => Object.keys(sessionStorage)") == ["paver.token"]
    assert page.evaluate("() => Object.keys(localStorage)") == []

    page.get_by_label("Campaign name").fill("West pilot (e2e)")
    page.get_by_label("Regions (comma-separated, empty: all)").fill(PILOT_REGION)
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="West pilot (e2e)")).to_be_visible()
    page.get_by_role("button", name="Run selection").click()
    table = page.get_by_role("table", name="Ranked partners")
    expect(table.locator("tbody tr")).to_have_count(WORLD["partners"])
    row = table.locator("tr", has_text=PILOT_PARTNER)
    for dim in ("risk", "trust", "quality", "value"):
        expect(row.locator(f".bar.{dim}")).to_have_count(1)
    expect(row.locator(".bars")).to_have_attribute("aria-label", re.compile(
        r"risk \d+, trust \d+, quality \d+, value \d+"))
    assert row.locator("td").nth(5).inner_text().strip(), "reasons in words"
    row.get_by_text("Model drivers").click()  # next to the rules' reasons, the model's
    expect(row.locator("td").nth(5).locator("details li").first).to_contain_text(
        re.compile(r"(raises|lowers) the overall score by \d"))
    # The west region's partner is not selected by the rules: the operator overrides, with a note.
    expect(row.get_by_text("not selected", exact=True)).to_be_visible()
    row.get_by_text("Override…").click()
    row.get_by_label(f"Note for the audit trail ({PILOT_PARTNER})").fill(
        "Pilot approved by the regional committee")
    row.get_by_role("button", name="Select this partner").click()
    row = table.locator("tr", has_text=PILOT_PARTNER)
    expect(row.get_by_text("selected", exact=True)).to_be_visible()
    expect(row.get_by_role("list", name="Override audit trail")).to_contain_text(
        "ops-e2e: not selected → selected. Note: “Pilot approved by the regional committee”")
    check_page(page, "console-campaigns")

    page.get_by_role("link", name="Go to rollout").click()
    page.get_by_role("button", name="Start rollout").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Queued {WORLD['merchants_per_partner']} merchants of 1 partners")
    # The SQS worker runs inside paver serve: progress reaches "issued" for every merchant.
    issued = page.locator('tr[data-status="issued"] td.count')
    expect(issued).to_have_text(str(WORLD["merchants_per_partner"]), timeout=60_000)
    expect(page.locator("#p-summary")).to_have_text(
        "{0} of {0} merchants have a code".format(WORLD["merchants_per_partner"]))
    figures = page.locator("figure[data-code]")
    expect(figures).to_have_count(WORLD["merchants_per_partner"])
    expect(figures.first.locator("img")).to_have_attribute("src", re.compile("^blob:"))
    with page.expect_download() as dl:
        page.get_by_role("button", name=f"Download print sheet (PDF) for {PILOT_PARTNER}").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    # 8 codes at 6 per A4 page: two pages
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 2
    check_page(page, "console-rollout")


def test_merchants_search_and_detail(server: str, session: Any) -> None:
    s = session()
    page = s.page
    sign_in(page, server + "/console/#merchants", _token("operator", "ops-e2e"))
    page.get_by_role("link", name="Merchants", exact=True).click()
    page.get_by_label("Search merchants (id, name, city)").fill(OTHER_PARTNER)
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_role("table", name="Merchants found").locator("tbody tr")
    expect(rows).to_have_count(WORLD["merchants_per_partner"])
    for text in rows.locator("td:nth-child(3)").all_inner_texts():
        assert text == OTHER_PARTNER
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Binding attempts")).to_be_visible()
    attempts = page.locator("section[aria-labelledby=m-att] tbody tr")
    expect(attempts.first).to_be_visible()
    expect(attempts.first.get_by_role("img")).to_have_js_property("complete", True)
    assert attempts.first.get_by_role("img").evaluate("i => i.naturalWidth") > 0
    expect(page.get_by_role("table", name="Milestones").locator("progress")).to_have_count(4)
    check_page(page, "console-merchant")


def test_merchant_binds_with_a_store_photo_from_a_partner_link(
        server: str, session: Any, world: dict[str, dict[str, str]]) -> None:
    from paver_dev.photo_gen import make_store_photo

    partner = session()
    sign_in(partner.page, server + "/console/", _token("partner", PILOT_PARTNER))
    from paver.kyb.uscc import validate_uscc

    # a merchant whose registration can pass (the rules refuse an invalid credential)
    mid = next(m for m, r in sorted(world.items())
               if r["partner_id"] == PILOT_PARTNER and validate_uscc(r["uscc"] or "")[0])
    partner.page.goto(f"{server}/console/#merchants/{mid}")
    partner.page.get_by_role("button", name="Create a sign-in link for this merchant").click()
    link = partner.page.get_by_label("Sign-in link (valid 7 days)").input_value()
    assert link.startswith(server + "/m/#token=")

    phone = session(width=390, height=844)
    page = phone.page
    page.goto(link)
    expect(page.get_by_role("heading", name="My payment code")).to_be_visible()
    assert "token=" not in page.url  # the token left the address bar
    expect(page.locator("#code-img")).to_have_attribute("src", re.compile("^blob:"))
    expect(page.locator("#code-status")).to_contain_text("issued")
    expect(page.locator("#shop-level")).to_contain_text("not bound")
    check_page(page, "merchant-page")

    code = requests.get(f"{server}/codes/code-{mid}", timeout=10, headers={
        "Authorization": f"Bearer {_token('operator', 'ops-e2e')}"}).json()
    m = world[mid]
    printed = requests.get(f"{server}/codes/{code['code_id']}/image", timeout=30, headers={
        "Authorization": f"Bearer {_token('operator', 'ops-e2e')}", "Accept": "image/png"})
    assert printed.status_code == 200
    # a fresh phone photo of the print the API serves (EXIF local time is China's)
    taken = (datetime.now(UTC) + timedelta(hours=8) - timedelta(minutes=5)).replace(tzinfo=None)
    photo = make_store_photo(float(m["lat"]) + 1e-4, float(m["lon"]) - 1e-4,
                             printed=printed.content, seed=3, taken_at=taken)
    page.locator("#photo").set_input_files(files=[{"name": "store.jpg", "mimeType": "image/jpeg",
                                                   "buffer": photo}])
    expect(page.get_by_text(re.compile(r"^Done: your code is bound and your shop is now level \d"))
           ).to_be_visible(timeout=60_000)
    expect(page.locator("#shop-level")).to_contain_text("Your code is bound.")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    check_page(page, "merchant-page-bound")

    page.get_by_role("button", name="Switch to Chinese").click()
    expect(page.get_by_role("heading", name="我的收款码")).to_be_visible()
    expect(page.locator("#shop-level")).to_contain_text("收款码已绑定")
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    check_page(page, "merchant-page-zh")


def test_a_payment_is_screened_and_shows_in_risk_alerts(server: str, session: Any,
                                                        world_dir: Path) -> None:
    op = _token("operator", "ops-e2e")
    posted_at = datetime.now()  # the browser shows and reads local time, as this process

    def pay(merchant: str, amount: str, payer: dict[str, str]) -> str:
        resp = requests.post(f"{server}/transactions", timeout=10,
                             headers={"Authorization": f"Bearer {op}"},
                             json={"idempotency_key": f"e2e-payment-{time.time_ns()}",
                                   "merchant_id": merchant, "amount": amount,
                                   "timestamp": datetime.now(UTC).isoformat(), **payer})
        assert resp.status_code in (200, 201), resp.text
        return resp.json()["txn_id"]

    # An ordinary shopper's payment, then payments from phones several accounts share.
    plain = pay(f"{OTHER_PARTNER}-M00001", "49.80", {"from_account": "A000010"})
    ring = [pay(f"{OTHER_PARTNER}-M00002", "3000.00", p) for p in shared_phones(world_dir)]
    s = session()
    page = s.page
    sign_in(page, server + "/console/", op)
    page.get_by_role("link", name="Risk alerts").click()
    table = page.get_by_role("table", name="Risk alerts")
    expect(table.locator("tbody tr").first).to_be_visible()
    # The Transactions stream → risk screening runs inside paver serve: a flagged payment
    # reaches the default view (flagged events only), newest first.
    rows = table.locator(",".join(f'tr[data-event="{t}"]' for t in ring))
    for _ in range(30):
        if rows.count():
            break
        page.wait_for_timeout(1000)
        filter_alerts(page)
    expect(rows.first).to_be_visible()
    txn = rows.first.get_attribute("data-event")
    row = table.locator(f'tr[data-event="{txn}"]')
    assert table.locator("tbody tr").first.get_attribute("data-event") in ring  # newest first
    verdicts = table.locator("tbody tr td:nth-child(6)").all_inner_texts()
    assert verdicts and set(verdicts) == {"risky"}  # flagged only, by default
    assert table.locator(f'tr[data-event="{plain}"]').count() == 0
    scene = row.locator("td").nth(2).inner_text()
    assert scene and scene != "—"
    assert re.match(r"^Looks like ", row.locator("td").nth(6).inner_text())
    check_page(page, "console-risk-alerts")
    # Every screened payment, the ordinary one too (not risky), under "all".
    page.get_by_label("Show").select_option("all")
    page.get_by_label("From").fill((posted_at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    other = table.locator(f'tr[data-event="{plain}"]')
    for _ in range(30):
        filter_alerts(page)
        if other.count():
            break
        page.wait_for_timeout(1000)
    expect(other).to_be_visible()
    assert other.locator("td").nth(5).inner_text() != "risky"
    page.get_by_label("Scene").select_option(scene)
    filter_alerts(page)
    page.wait_for_function("""scene => {
      const cells = [...document.querySelectorAll('table[aria-label="Risk alerts"] tbody tr')]
        .map(r => r.children[2].textContent);
      return cells.length > 0 && cells.every(c => c === scene);
    }""", arg=scene)
    row.get_by_role("link", name=txn).click()
    expect(page.get_by_role("heading", name="Relation groups")).to_be_visible()
    for dim in ("transaction", "device", "behaviour", "social"):
        expect(page.get_by_role("region", name=f"{dim} relations")).to_be_visible()
    check_page(page, "console-risk-alert")

    # The analyst decides the case: escalate with a note, then confirm with the scene.
    expect(page.get_by_role("heading", name="Case: open")).to_be_visible()
    page.get_by_label("Note").fill("Shared phone, several accounts")
    page.get_by_role("button", name="Escalate").click()
    expect(page.get_by_role("heading", name="Case: escalated")).to_be_visible()
    trail = page.get_by_role("list", name="Case audit trail")
    expect(trail).to_contain_text("ops-e2e: open → escalated. Note: “Shared phone, several "
                                  "accounts”")
    expect(page.get_by_role("button", name="Escalate")).to_have_count(0)
    expect(page.get_by_label("Scene (for Confirm)")).to_have_value(scene)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name=f"Case: confirmed as {scene}")).to_be_visible()
    expect(trail.locator("li")).to_have_count(2)
    check_page(page, "console-risk-case")
    # A second analyst, a moment late, is told the case moved on (409 with its state).
    late = requests.post(f"{server}/risk/alerts/{txn}/decision", timeout=10,
                         headers={"Authorization": f"Bearer {_token('operator', 'ops-2')}"},
                         json={"decision": "dismiss"})
    assert late.status_code == 409 and late.json()["Current"]["status"] == "confirmed"
    page.get_by_role("link", name="← All alerts").click()
    page.get_by_label("Show").select_option("confirmed")
    filter_alerts(page)
    expect(table.locator(f'tr[data-event="{txn}"] td').nth(7)).to_have_text(
        f"confirmed as {scene}")

    page.get_by_role("link", name="Knowledge base").click()
    kb = page.get_by_role("table", name="Risk scenes")
    expect(kb.locator("tbody tr").first).to_be_visible()
    counts = [int(x) for x in kb.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert counts and all(c > 0 for c in counts)
    check_page(page, "console-knowledge-base")


def test_a_partner_never_sees_another_partners_data(server: str, session: Any) -> None:
    s = session()
    page = s.page
    sign_in(page, server + "/console/", _token("partner", PILOT_PARTNER))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(["Rollout", "Merchants"])
    # generous: the grid waits for every print, and CI's two cores may be busy
    expect(page.locator("figure[data-code]")).to_have_count(WORLD["merchants_per_partner"],
                                                            timeout=60_000)
    for code in page.locator("figure[data-code]").all():
        assert code.get_attribute("data-code").startswith(f"code-{PILOT_PARTNER}-")
    check_page(page, "console-partner-rollout")
    page.get_by_role("link", name="Merchants", exact=True).click()
    rows = page.get_by_role("table", name="Merchants found").locator("tbody tr")
    expect(rows).to_have_count(WORLD["merchants_per_partner"])
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {PILOT_PARTNER}
    expect(page.get_by_label("Partner")).to_have_count(0)  # not offered to a partner
    page.get_by_label("Search merchants (id, name, city)").fill(OTHER_PARTNER)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No merchant matches.")).to_be_visible()
    check_page(page, "console-partner-merchants")
    # Another partner's merchant by URL: refused, nothing of it shown.
    page.goto(f"{server}/console/#merchants/{OTHER_PARTNER}-M00001")
    expect(page.get_by_role("alert")).to_have_text("not your merchant")
    assert page.get_by_role("heading", name="Binding attempts").count() == 0
    # Operator pages are not offered: the route falls back to the partner's first page.
    page.goto(f"{server}/console/#alerts")
    expect(page.get_by_role("heading", name="Rollout", exact=True)).to_be_visible()
    assert page.get_by_role("table", name="Risk alerts").count() == 0
    # the refused request shows up as a failed resource load in the console
    s.errors[:] = [e for e in s.errors if "403" not in e]


def test_operator_sees_the_drift_badge(server: str, session: Any) -> None:
    s = session()
    page = s.page
    token = _token("operator", "ops-e2e")
    sign_in(page, server + "/console/", token)
    report = requests.get(f"{server}/drift", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}).json()
    word = {"stable": "stable", "moderate": "moderate", "significant": "drifted"}[
        report["level"]]  # the demo trained a model with its reference: there is data
    badge = page.locator("header #drift-badge")
    expect(badge).to_have_text(f"Drift: {word}", timeout=60_000)
    worst = report["trust"]["worst"]
    if report["risk"]["worst"] and report["risk"]["worst"]["psi"] > worst["psi"]:
        worst = report["risk"]["worst"]
    expect(badge).to_have_attribute("title", re.compile(
        rf"^worst: .*{re.escape(worst['feature'])} \(PSI \d+\.\d\d\)"))
    badge.click()  # the knowledge base page: drift per scorer
    table = page.get_by_role("table", name="Model drift")
    expect(table.locator("tbody tr")).to_have_count(5 + int(report["risk"]["reference"]),
                                                    timeout=60_000)
    expect(table.locator("tbody tr").first).to_contain_text("trust · risk scorer")
    check_page(page, "console-drift")
    # a partner's console has no badge (the report is operators' only)
    s2 = session()
    sign_in(s2.page, server + "/console/", _token("partner", PILOT_PARTNER))
    expect(s2.page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_count(2)
    assert s2.page.locator("#drift-badge").count() == 0


def test_sign_in_page_is_accessible(server: str, session: Any) -> None:
    s = session()
    s.page.goto(server + "/console/")
    expect(s.page.get_by_label("Access token")).to_be_visible()
    check_page(s.page, "console-sign-in")
    s.page.get_by_label("Access token").fill("not-a-token")
    s.page.get_by_role("button", name="Sign in").click()
    expect(s.page.get_by_role("alert")).to_contain_text("not a valid")

