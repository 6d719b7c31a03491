// The operations console: campaigns, rollout, merchants, risk alerts, knowledge base.
// Hash routes (#campaigns, #rollout/<campaign>, #merchants/<id>, #alerts/<event>, #kb); what a
// role may not see is not offered (the API refuses it anyway).
import {
  api, apiImageUrl, API_BASE, claims, clearToken, el, fmtTime, getToken, setToken, show, status,
  takeTokenFromFragment,
} from "./paver.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const DIMENSIONS = ["risk", "trust", "quality", "value"];

/** Navigation per role: [route, label]. */
const PAGES = {
  operator: [["campaigns", "Campaigns"], ["rollout", "Rollout"], ["merchants", "Merchants"],
    ["alerts", "Risk alerts"], ["kb", "Knowledge base"]],
  partner: [["rollout", "Rollout"], ["merchants", "Merchants"]],
  merchant: [],
};

let timer = null; // the one auto-refresh of the current page

function stopTimer() {
  if (timer) clearInterval(timer);
  timer = null;
}

function title(text) {
  document.title = `${text} · Paver console`;
  return el("h1", { text });
}

function errorBox(container, err) {
  status(container, err && err.message ? err.message : String(err), "error");
  if (err && err.status === 401) {
    clearToken();
    setTimeout(route, 1500);
  }
}

// ------------------------------------------------------------------ sign-in
function signIn() {
  show(nav);
  show(who);
  const msg = el("div");
  const input = el("input", { id: "token", name: "token", type: "password", autocomplete: "off",
    required: true, "aria-describedby": "token-help" });
  const form = el("form", { class: "card", onsubmit: (e) => {
    e.preventDefault();
    const c = claims(input.value.trim());
    if (!c) {
      status(msg, "That is not a valid, unexpired Paver token.", "error");
      return;
    }
    setToken(input.value);
    if (c.role === "merchant") {
      location.href = `${API_BASE}/m/`;
      return;
    }
    location.hash = `#${PAGES[c.role][0][0]}`;
    route();
  } },
  el("label", { for: "token", text: "Access token" }), input,
  el("p", { id: "token-help", class: "muted" },
    "Paste the bearer token you were given (locally: ",
    el("code", { text: "paver token --role operator --id you" }),
    "). It is kept in this tab's session storage only."),
  el("button", { type: "submit", text: "Sign in" }), msg);
  show(main, title("Sign in"), form);
  input.focus();
}

function renderNav(role, current) {
  const items = PAGES[role].map(([r, label]) => el("li", {},
    el("a", { href: `#${r}`, "aria-current": r === current ? "page" : null, text: label })));
  show(nav, el("ul", {}, items));
  const c = claims();
  show(who, role === "operator" ? driftBadge() : null, el("span", { text: `${c.role} ${c.sub}` }),
    el("button", { class: "secondary", type: "button", text: "Sign out", onclick: () => {
      clearToken();
      driftReport = null;
      location.hash = "";
      route();
    } }));
}

// ------------------------------------------------------------------ drift
// GET /drift scores every partner: asked once per sign-in (and again on the knowledge base page)
let driftReport = null;
const DRIFT_WORDS = { stable: "stable", moderate: "moderate", significant: "drifted" };
const DRIFT_CLASS = { stable: "yes", moderate: "warn", significant: "bad" };

function loadDrift(fresh = false) {
  if (fresh || !driftReport) {
    driftReport = api("/drift");
    driftReport.catch(() => { driftReport = null; });
  }
  return driftReport;
}

/** The worst feature of both models: "trust risk scorer · feature" or "risk · feature". */
function driftWorst(d) {
  const t = d.trust && d.trust.worst;
  const r = d.risk && d.risk.worst;
  const best = [t && { ...t, where: `trust ${t.scorer} scorer` }, r && { ...r, where: "risk" }]
    .filter(Boolean).sort((a, b) => b.psi - a.psi)[0];
  return best ? `${best.where} · ${best.feature} (PSI ${Number(best.psi).toFixed(2)})` : null;
}

function driftBadge() {
  const badge = el("a", { class: "tag no drift", href: "#kb", id: "drift-badge",
    text: "Drift: …" });
  loadDrift().then((d) => {
    const worst = driftWorst(d);
    const word = DRIFT_WORDS[d.level] || "no data";
    badge.className = `tag drift ${DRIFT_CLASS[d.level] || "no"}`;
    badge.dataset.level = d.level;
    badge.textContent = `Drift: ${word}`;
    badge.title = worst ? `worst: ${worst}; threshold ${d.threshold}` : "no recent data";
    badge.setAttribute("aria-label", `Drift: ${word}${worst ? `, worst ${worst}` : ""}`);
  }).catch(() => {
    badge.textContent = "Drift: unavailable";
  });
  return badge;
}

function driftRows(d) {
  const rows = [];
  for (const s of ["risk", "trust", "quality", "value", "overall"]) {
    if (d.trust && d.trust[s]) rows.push([`trust · ${s} scorer`, d.trust[s]]);
  }
  if (d.risk && d.risk.reference) rows.push(["risk · match degrees", d.risk]);
  return rows.map(([name, rep]) => el("tr", {}, el("td", { text: name }),
    el("td", { text: rep.worst ? rep.worst.feature : "—" }),
    el("td", { text: rep.worst ? Number(rep.worst.psi).toFixed(3) : "—" }),
    el("td", {}, el("span", { class: `tag ${DRIFT_CLASS[rep.level] || "no"}`,
      text: DRIFT_WORDS[rep.level] || "no data" }))));
}

async function driftSection(box) {
  try {
    const d = await loadDrift(true);
    const worst = driftWorst(d);
    show(box, el("h2", { id: "drift-heading", text: "Drift" }),
      el("p", { id: "drift-summary" }, `Population stability index against the training data `
        + `(threshold ${d.threshold}; risk decisions ${fmtTime(d.window.from)} – `
        + `${fmtTime(d.window.to)}): ${DRIFT_WORDS[d.level] || "no data"}`
        + (worst ? `, worst ${worst}.` : ".")),
      el("table", { "aria-label": "Model drift" }, el("thead", {}, el("tr", {},
        ["Model", "Worst feature", "PSI", "Level"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, driftRows(d))));
  } catch (err) { errorBox(box, err); }
}

// ------------------------------------------------------------------ campaigns
function scoreBars(scores) {
  const rows = DIMENSIONS.map((d) => {
    const v = Number(scores && scores[d] != null ? scores[d] : 0);
    return [el("span", { text: d }),
      el("span", { class: `bar ${d}`, "aria-hidden": "true" },
        el("span", { style: { width: `${Math.max(0, Math.min(100, v))}%` } })),
      el("span", { text: v.toFixed(0) })];
  });
  return el("div", { class: "bars", role: "group",
    "aria-label": DIMENSIONS.map((d) => `${d} ${Number(scores?.[d] ?? 0).toFixed(0)}`).join(", ") },
  rows);
}

function auditList(overrides) {
  if (!overrides || !overrides.length) return null;
  return el("ul", { class: "audit", "aria-label": "Override audit trail" }, overrides.map((o) =>
    el("li", {}, `${fmtTime(o.at)} — ${o.by}: ${o.selected_before ? "selected" : "not selected"} → `
      + `${o.selected ? "selected" : "not selected"}. Note: “${o.note}”`)));
}

async function campaignsPage(id) {
  const box = el("div");
  const list = el("div");
  const name = el("input", { id: "c-name", required: true, maxlength: 200 });
  const regions = el("input", { id: "c-regions", placeholder: "east, west" });
  const threshold = el("input", { id: "c-threshold", type: "number", min: 0, max: 100, step: 1 });
  const form = el("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const c = await api("/campaigns", { method: "POST", body: {
        name: name.value,
        regions: regions.value.split(",").map((s) => s.trim()).filter(Boolean),
        threshold: threshold.value === "" ? null : Number(threshold.value) } });
      location.hash = `#campaigns/${c.campaign_id}`;
    } catch (err) { errorBox(box, err); }
  } },
  el("div", {}, el("label", { for: "c-name", text: "Campaign name" }), name),
  el("div", {}, el("label", { for: "c-regions", text: "Regions (comma-separated, empty: all)" }),
    regions),
  el("div", {}, el("label", { for: "c-threshold", text: "Threshold (optional)" }), threshold),
  el("button", { type: "submit", text: "Create campaign" }));
  show(main, title("Campaigns"), el("section", { class: "card", "aria-labelledby": "new-c" },
    el("h2", { id: "new-c", text: "New campaign" }), form, box), list);
  if (id) {
    await campaignDetail(list, id);
    return;
  }
  try {
    const { items } = await api("/campaigns");
    show(list, el("h2", { text: "All campaigns" }), items.length ? el("table", {},
      el("thead", {}, el("tr", {}, ["Campaign", "Regions", "Status", "Created", "Selected"].map(
        (h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, items.map((c) => el("tr", {},
        el("td", {}, el("a", { href: `#campaigns/${c.campaign_id}`, text: c.name })),
        el("td", { text: (c.regions || []).join(", ") || "all" }),
        el("td", { text: c.status }), el("td", { text: fmtTime(c.created_at) }),
        el("td", { text: c.detail && c.detail.selected != null ? c.detail.selected : "—" })))))
      : el("p", { class: "muted", text: "No campaign yet." }));
  } catch (err) { errorBox(list, err); }
}

async function campaignDetail(container, id) {
  const msg = el("div");
  let data;
  try {
    data = await api(`/campaigns/${encodeURIComponent(id)}/partners`);
  } catch (err) {
    errorBox(container, err);
    return;
  }
  const c = data.campaign;
  const run = el("button", { type: "button", text: "Run selection", onclick: async () => {
    run.disabled = true;
    status(msg, "Scoring partners…");
    try {
      await api(`/campaigns/${encodeURIComponent(id)}/selection`, { method: "POST" });
      await campaignDetail(container, id);
    } catch (err) { errorBox(msg, err); run.disabled = false; }
  } });
  const rollout = el("a", { class: "button", href: `#rollout/${id}`, text: "Go to rollout" });
  const rows = data.partners.map((p) => partnerRow(id, p, container));
  show(container, el("section", { "aria-labelledby": "c-title" },
    el("h2", { id: "c-title", text: `${c.name}` }),
    el("p", { class: "muted" }, `Regions: ${(c.regions || []).join(", ") || "all"} · status `
      + `${c.status} · threshold ${c.detail?.effective_threshold ?? "—"}`),
    el("p", {}, run, " ", rollout), msg,
    rows.length ? el("table", { "aria-label": "Ranked partners" },
      el("thead", {}, el("tr", {}, ["Rank", "Partner", "Scores", "Tier", "Decision", "Reasons",
        "Override"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows))
      : el("p", { class: "muted", text: "No decisions yet: run the selection." })));
}

function partnerRow(campaignId, p, container) {
  const noteId = `note-${p.partner_id}`;
  const note = el("textarea", { id: noteId, maxlength: 500 });
  const msg = el("div");
  const target = !p.selected;
  const form = el("form", { onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/campaigns/${encodeURIComponent(campaignId)}/partners/`
        + `${encodeURIComponent(p.partner_id)}/override`,
      { method: "POST", body: { selected: target, note: note.value } });
      await campaignDetail(container, campaignId);
    } catch (err) { errorBox(msg, err); }
  } },
  el("label", { for: noteId, text: `Note for the audit trail (${p.partner_id})` }), note,
  el("button", { type: "submit", text: target ? "Select this partner" : "Deselect this partner" }),
  msg);
  return el("tr", {},
    el("td", { text: p.rank }),
    el("td", {}, el("strong", { text: p.partner_id }), el("br"),
      el("span", { class: "muted", text: `overall ${Number(p.trust_score).toFixed(1)}` })),
    el("td", {}, scoreBars(p.scores)),
    el("td", { text: p.tier }),
    el("td", {}, el("span", { class: `tag ${p.selected ? "yes" : "no"}`,
      text: p.selected ? "selected" : "not selected" }), auditList(p.overrides)),
    el("td", {}, el("ul", {}, (p.reasons || []).map((r) => el("li", { text: r }))),
      (p.drivers || []).length ? el("details", {}, el("summary", { text: "Model drivers" }),
        el("ul", {}, p.drivers.map((r) => el("li", { text: r })))) : null),
    el("td", {}, el("details", {}, el("summary", { text: "Override…" }), form)));
}

// ------------------------------------------------------------------ rollout
async function rolloutPage(id) {
  const role = claims().role;
  const head = el("div");
  const progress = el("section", { "aria-labelledby": "p-title" });
  const grid = el("section", { "aria-labelledby": "g-title" });
  show(main, title("Rollout"), head, progress, grid);
  if (role === "operator") {
    let campaigns = [];
    try { campaigns = (await api("/campaigns")).items; } catch (err) { errorBox(head, err); return; }
    if (!id && campaigns.length) id = campaigns[0].campaign_id;
    const select = el("select", { id: "r-campaign", onchange: () => {
      location.hash = `#rollout/${select.value}`;
    } }, campaigns.map((c) => el("option", { value: c.campaign_id, selected: c.campaign_id === id,
      text: `${c.name} (${c.campaign_id})` })));
    const msg = el("div");
    const start = el("button", { type: "button", text: "Start rollout", onclick: async () => {
      start.disabled = true;
      try {
        const r = await api(`/campaigns/${encodeURIComponent(id)}/rollout`, { method: "POST" });
        status(msg, `Queued ${r.merchants} merchants of ${r.partners} partners in ${r.messages} `
          + "messages.", "ok");
        sessionStorage.setItem(`paver.fanout.${id}`, String(r.merchants));
      } catch (err) { errorBox(msg, err); }
      start.disabled = false;
    } });
    show(head, el("form", { class: "inline", onsubmit: (e) => e.preventDefault() },
      el("div", {}, el("label", { for: "r-campaign", text: "Campaign" }), select), start), msg);
    if (!id) return;
    let shown = -1; // codes in the grid; it reloads when the worker issued more
    const refresh = async () => {
      try {
        const p = await api(`/campaigns/${encodeURIComponent(id)}/progress`);
        renderProgress(progress, p.by_status, p.total,
          Number(sessionStorage.getItem(`paver.fanout.${id}`) || p.total));
        if (p.total !== shown) {
          shown = p.total;
          await codeGrid(grid, `campaign=${encodeURIComponent(id)}`, id);
        }
      } catch (err) { errorBox(progress, err); }
    };
    await refresh();
    timer = setInterval(refresh, 1500);
  } else {
    await codeGrid(grid, "", null, progress);
  }
}

function renderProgress(container, byStatus, total, expected) {
  const max = Math.max(total, expected, 1);
  show(container, el("h2", { id: "p-title", text: "Progress" }),
    el("p", { id: "p-summary", text: `${byStatus.issued + byStatus.shipped + byStatus.installed
      + byStatus.active} of ${expected} merchants have a code` }),
    el("table", { "aria-label": "Codes per status" }, el("tbody", {}, Object.entries(byStatus).map(
      ([s, n]) => el("tr", { "data-status": s }, el("th", { scope: "row", text: s }),
        el("td", { class: "count", text: n }),
        el("td", { class: "wide" }, el("span", { class: "bar status", "aria-hidden": "true" },
          el("span", { style: { width: `${(100 * n) / max}%` } }))))))));
}

async function codeGrid(container, query, campaignId, progress) {
  const figures = el("div", { class: "grid" });
  const more = el("div");
  const sheets = el("div");
  show(container, el("h2", { id: "g-title", text: "Codes" }), sheets, figures, more);
  const partners = new Set();
  const counts = { issued: 0, shipped: 0, installed: 0, active: 0 };
  let total = 0;
  const load = async (cursor) => {
    const q = [query, "limit=24", cursor ? `cursor=${encodeURIComponent(cursor)}` : ""]
      .filter(Boolean).join("&");
    let page;
    try { page = await api(`/codes?${q}`); } catch (err) { errorBox(more, err); return; }
    for (const code of page.items) {
      partners.add(`${code.campaign_id}|${code.partner_id}`);
      counts[code.status] = (counts[code.status] || 0) + 1;
      total += 1;
      figures.append(codeFigure(code));
    }
    if (progress) renderProgress(progress, counts, total, total);
    renderSheets(sheets, partners);
    show(more, page.cursor ? el("button", { type: "button", class: "secondary", text: "Load more codes",
      onclick: () => load(page.cursor) }) : null);
  };
  await load(null);
  if (!total) show(figures, el("p", { class: "muted", text: "No codes yet." }));
}

function renderSheets(container, partners) {
  show(container, [...partners].sort().map((key) => {
    const [cid, pid] = key.split("|");
    return el("button", { type: "button", class: "secondary", "data-partner": pid,
      text: `Download print sheet (PDF) for ${pid}`, onclick: async () => {
        const blob = await api(`/campaigns/${encodeURIComponent(cid)}/partners/`
          + `${encodeURIComponent(pid)}/sheet`, { blob: true });
        const a = el("a", { href: URL.createObjectURL(blob), download: `codes-${pid}-${cid}.pdf` });
        document.body.append(a);
        a.click();
        a.remove();
      } });
  }));
}

function codeFigure(code) {
  const img = el("img", { alt: `Aggregated code of ${code.merchant_id}`, width: 180, height: 180 });
  apiImageUrl(`/codes/${encodeURIComponent(code.code_id)}/image`).then((u) => { img.src = u; })
    .catch(() => { img.alt = `No image for ${code.merchant_id}`; });
  const selId = `skin-${code.code_id}`;
  const select = el("select", { id: selId }, (code.skins || [code.skin]).map((s) =>
    el("option", { value: s, selected: s === code.skin, text: s })));
  const msg = el("div");
  const form = el("form", { onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/merchants/${encodeURIComponent(code.merchant_id)}/skin`,
        { method: "PUT", body: { skin: select.value } });
      img.src = await apiImageUrl(`/codes/${encodeURIComponent(code.code_id)}/image`);
      status(msg, "Re-skinned.", "ok");
    } catch (err) { errorBox(msg, err); }
  } }, el("label", { for: selId, text: "Skin" }), select, " ",
  el("button", { type: "submit", class: "secondary", text: "Re-skin" }), msg);
  return el("figure", { "data-code": code.code_id }, img,
    el("figcaption", {}, el("strong", { text: code.merchant_id }), el("br"),
      el("span", { class: "tag yes", text: code.status })), form);
}

// ------------------------------------------------------------------ merchants
async function merchantsPage(id) {
  if (id) return merchantDetail(id);
  const role = claims().role;
  const q = el("input", { id: "m-q", type: "search", maxlength: 64 });
  const partner = role === "operator" ? el("input", { id: "m-partner", maxlength: 128 }) : null;
  const results = el("div");
  let cursor = null;
  let latest = 0; // only the newest search may paint (an older, slower answer is dropped)
  const search = async (append) => {
    const params = new URLSearchParams({ q: q.value, limit: "25" });
    if (partner && partner.value) params.set("partner", partner.value.trim());
    if (append && cursor) params.set("cursor", cursor);
    const mine = ++latest;
    try {
      const page = await api(`/merchants?${params}`);
      if (mine !== latest) return;
      cursor = page.cursor;
      const rows = page.items.map((m) => el("tr", { "data-merchant": m.merchant_id },
        el("td", {}, el("a", { href: `#merchants/${m.merchant_id}`, text: m.merchant_id })),
        el("td", { text: m.name_zh ? `${m.name} · ${m.name_zh}` : m.name }),
        el("td", { text: m.partner_id }), el("td", { text: m.city }),
        el("td", { text: `L${m.level}` }),
        el("td", {}, el("span", { class: `tag ${m.bound ? "yes" : "no"}`,
          text: m.bound ? "bound" : "not bound" })),
        el("td", { text: `${m.totals.txn_count} · ¥${m.totals.txn_amount}` })));
      const tbody = append ? results.querySelector("tbody") : el("tbody");
      tbody.append(...rows);
      if (!append) {
        show(results, el("table", { "aria-label": "Merchants found" }, el("thead", {}, el("tr", {},
          ["Merchant", "Name", "Partner", "City", "Level", "Binding", "Payments · amount"].map(
            (h) => el("th", { scope: "col", text: h })))), tbody));
      }
      results.querySelector(".more")?.remove();
      if (cursor) results.append(el("button", { type: "button", class: "secondary more",
        text: "More merchants", onclick: () => search(true) }));
      if (!tbody.children.length) status(results, "No merchant matches.");
    } catch (err) { errorBox(results, err); }
  };
  show(main, title("Merchants"), el("form", { class: "inline card", role: "search",
    onsubmit: (e) => { e.preventDefault(); search(false); } },
  el("div", {}, el("label", { for: "m-q", text: "Search merchants (id, name, city)" }), q),
  partner ? el("div", {}, el("label", { for: "m-partner", text: "Partner" }), partner) : null,
  el("button", { type: "submit", text: "Search" })), results);
  await search(false);
}

async function merchantDetail(id) {
  const box = el("div");
  show(main, title(`Merchant ${id}`), el("p", {}, el("a", { href: "#merchants",
    text: "← All merchants" })), box);
  try {
    const enc = encodeURIComponent(id);
    const [m, ms, binding] = await Promise.all([api(`/merchants/${enc}`),
      api(`/merchants/${enc}/milestones`), api(`/merchants/${enc}/binding`)]);
    const link = el("div");
    const role = claims().role;
    show(box,
      el("section", { class: "card", "aria-labelledby": "m-sum" },
        el("h2", { id: "m-sum", text: m.name }),
        el("p", {}, `Partner ${m.partner_id} · ${m.city} · level L${m.level} · `,
          el("span", { class: `tag ${m.bound ? "yes" : "no"}`, text: m.bound ? "bound" : "not bound" })),
        el("p", { text: `${m.totals.txn_count} payments, ¥${m.totals.txn_amount}, `
          + `${m.totals.active_days} active days` }),
        role === "partner" ? el("button", { type: "button", class: "secondary",
          text: "Create a sign-in link for this merchant", onclick: async () => {
            try {
              const r = await api(`/merchants/${enc}/signin-link`, { method: "POST", body: {} });
              const url = `${location.origin}${API_BASE}${r.path}`;
              show(link, el("label", { for: "signin-link", text: "Sign-in link (valid 7 days)" }),
                el("input", { id: "signin-link", readonly: true, value: url, size: 60 }));
            } catch (err) { errorBox(link, err); }
          } }) : null, link),
      el("section", { class: "card", "aria-labelledby": "m-ben" },
        el("h2", { id: "m-ben", text: "Benefits and milestones" }),
        el("ul", {}, m.benefits.map((b) => el("li", {}, el("strong", { text: b.kind }),
          ` — ${b.reason} (${fmtTime(b.granted_at)})`))),
        el("table", { "aria-label": "Milestones" }, el("thead", {}, el("tr", {},
          ["Milestone", "Benefit", "Progress", ""].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ms.milestones.map((x) => el("tr", {},
          el("td", { text: x.reason || x.milestone }), el("td", { text: x.benefit }),
          el("td", {}, el("progress", { max: 1, value: x.progress,
            "aria-label": `${x.milestone} progress` })),
          el("td", { text: x.granted ? "granted" : `${Math.round(x.progress * 100)}%` })))))),
      el("section", { class: "card", "aria-labelledby": "m-att" },
        el("h2", { id: "m-att", text: "Binding attempts" }),
        binding.attempts.length ? el("table", {}, el("thead", {}, el("tr", {},
          ["When", "Outcome", "Why", "Distance", "Store photo"].map((h) =>
            el("th", { scope: "col", text: h })))),
        el("tbody", {}, binding.attempts.map((a) => el("tr", {},
          el("td", { text: fmtTime(a.created_at) }),
          el("td", {}, el("span", { class: `tag ${a.outcome === "refused" ? "bad" : "yes"}`,
            text: a.outcome })),
          el("td", {}, a.reasons.length ? el("ul", {}, a.reasons.map((r) => el("li", {},
            r.reason + (r.retry ? " (a new photo may help)" : "")))) : "all checks passed"),
          el("td", { text: a.distance_m == null ? "—" : `${Math.round(a.distance_m)} m` }),
          el("td", {}, a.photo_url ? el("img", { src: a.photo_url, width: 120,
            alt: `Store photo of attempt ${a.attempt_id.slice(0, 8)}` }) : "—")))))
          : el("p", { class: "muted", text: "No binding attempt yet." })));
  } catch (err) { errorBox(box, err); }
}

// ------------------------------------------------------------------ risk alerts
async function alertsPage(id) {
  if (id) return alertDetail(id);
  const scene = el("select", { id: "a-scene" }, el("option", { value: "", text: "every scene" }));
  const from = el("input", { id: "a-from", type: "datetime-local" });
  const to = el("input", { id: "a-to", type: "datetime-local" });
  const st = el("select", { id: "a-status" },
    el("option", { value: "flagged", text: "flagged only" }),
    el("option", { value: "open", text: "flagged, not yet decided" }),
    el("option", { value: "escalated", text: "escalated" }),
    el("option", { value: "confirmed", text: "confirmed" }),
    el("option", { value: "dismissed", text: "dismissed" }),
    el("option", { value: "all", text: "all screened events" }));
  const results = el("div");
  const iso = (v) => (v ? new Date(v).toISOString() : "");
  let latest = 0; // only the newest answer may paint
  const load = async () => {
    const mine = ++latest;
    const p = new URLSearchParams({ status: st.value, limit: "50" });
    if (scene.value) p.set("scene", scene.value);
    if (from.value) p.set("from", iso(from.value));
    if (to.value) p.set("to", iso(to.value));
    try {
      const r = await api(`/risk/alerts?${p}`);
      if (mine !== latest) return;
      // Offer every scene seen so far (the list grows when the filter widens).
      const offered = new Set([...scene.options].map((o) => o.value));
      scene.append(...r.scenes.filter((s) => !offered.has(s))
        .map((s) => el("option", { value: s, text: s })));
      show(results, el("p", { class: "muted", text: `${r.total} events, newest first` }),
        el("table", { "aria-label": "Risk alerts" }, el("thead", {}, el("tr", {},
          ["When", "Event", "Scene", "Match degree", "Margin", "Verdict", "Explanation",
            "Case"].map(
            (h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, r.items.map((a) => el("tr", { "data-event": a.event_id },
          el("td", { text: fmtTime(a.decided_at) }),
          el("td", {}, el("a", { href: `#alerts/${a.event_id}`, text: a.event_id })),
          el("td", { text: a.scene || "—" }), el("td", { text: a.match_degree.toFixed(3) }),
          el("td", { text: a.margin == null ? "—" : Number(a.margin).toFixed(3) }),
          el("td", {}, el("span", { class: `tag ${a.risky ? "bad" : "no"}`,
            text: a.risky ? "risky" : "not risky" })),
          el("td", { text: a.explanation }),
          el("td", { text: a.case ? caseText(a.case) : "—" }))))));
    } catch (err) { errorBox(results, err); }
  };
  show(main, title("Risk alerts"), el("form", { class: "inline card", onsubmit: (e) => {
    e.preventDefault(); load();
  } },
  el("div", {}, el("label", { for: "a-status", text: "Show" }), st),
  el("div", {}, el("label", { for: "a-scene", text: "Scene" }), scene),
  el("div", {}, el("label", { for: "a-from", text: "From" }), from),
  el("div", {}, el("label", { for: "a-to", text: "To" }), to),
  el("button", { type: "submit", text: "Filter" })), results);
  await load();
}

/** A case in words: its status, and the scene it was confirmed as. */
function caseText(c) {
  return c.status === "confirmed" && c.scene ? `confirmed as ${c.scene}` : c.status;
}

/** The analyst's decision on an alert: Confirm (with a scene), Dismiss, Escalate, audited. */
function caseSection(a, onDecided, said) {
  const c = a.case;
  const msg = el("p", { role: "status", text: said || "" });
  const sceneIn = el("input", { id: "case-scene", value: c.scene || a.scene || "",
    autocomplete: "off" });
  const note = el("textarea", { id: "case-note", rows: "2", maxlength: "1000" });
  const decide = (decision) => async () => {
    try {
      await api(`/risk/alerts/${encodeURIComponent(a.event_id)}/decision`, { method: "POST",
        body: { decision, scene: decision === "confirm" ? sceneIn.value : null,
          note: note.value } });
      await onDecided(`Recorded: ${decision}.`);
    } catch (err) {
      if (err.status === 409) await onDecided(`Not recorded: ${err.message}.`);
      else errorBox(msg, err);
    }
  };
  const open = ["open", "escalated"].includes(c.status);
  return el("section", { class: "card", "aria-labelledby": "case-title" },
    el("h2", { id: "case-title", text: `Case: ${caseText(c)}` }),
    open ? el("form", { class: "inline", onsubmit: (e) => e.preventDefault() },
      el("div", {}, el("label", { for: "case-scene", text: "Scene (for Confirm)" }), sceneIn),
      el("div", {}, el("label", { for: "case-note", text: "Note" }), note),
      el("button", { type: "button", text: "Confirm", onclick: decide("confirm") }),
      el("button", { type: "button", class: "secondary", text: "Dismiss",
        onclick: decide("dismiss") }),
      c.status === "open" ? el("button", { type: "button", class: "secondary",
        text: "Escalate", onclick: decide("escalate") }) : null) : null,
    msg,
    el("ol", { "aria-label": "Case audit trail" }, (c.history || []).map((h) => el("li", {},
      `${fmtTime(h.at)} · ${h.analyst}: ${h.before} → ${h.after}`
      + `${h.scene ? ` (${h.scene})` : ""}${h.note ? `. Note: “${h.note}”` : ""}`))));
}

async function alertDetail(id, said) {
  const box = el("div");
  show(main, title(`Event ${id}`), el("p", {}, el("a", { href: "#alerts", text: "← All alerts" })),
    box);
  try {
    const a = await api(`/risk/alerts/${encodeURIComponent(id)}`);
    const groups = Object.entries(a.relations || {});
    show(box, el("section", { class: "card" },
      el("p", { class: "lead", text: a.explanation }),
      el("p", { text: `Scene ${a.scene || "—"} · match degree ${a.match_degree.toFixed(3)} · `
        + `threshold ${a.threshold ?? "—"} · margin ${a.margin ?? "—"} · action ${a.action ?? "—"}`
        + ` · knowledge base ${a.kb_version || "—"}` }),
      el("h2", { text: "What drove the match" }),
      el("ul", {}, (a.drivers || []).map((d) => el("li", { text: d.text || d.meaning }))),
      el("h2", { text: "Relation groups" }), el("p", { class: "muted", text: a.relations_note }),
      groups.map(([dim, g]) => el("section", { "aria-label": `${dim} relations` },
        el("h3", { text: `${dim} (${g.elements.length} shown, ${g.omitted} omitted)` }),
        g.elements.length === 0 ? el("p", { class: "muted", text: `No ${dim} relations.` })
          : el("table", {}, el("thead", {}, el("tr", {}, ["Source", "Target", "Attributes"].map((h) =>
          el("th", { scope: "col", text: h })))),
        el("tbody", {}, g.elements.map((e) => el("tr", {}, el("td", { text: e.source }),
          el("td", { text: e.target }),
          el("td", { text: Object.entries(e.attrs || {}).map(([k, v]) => `${k}: ${v}`)
            .join(", ") })))))))));
    // the analyst's decision first: what the page is for once the alert is understood
    if (a.case) box.prepend(caseSection(a, (m) => alertDetail(id, m), said));
  } catch (err) { errorBox(box, err); }
}

// ------------------------------------------------------------------ knowledge base
async function kbPage() {
  const box = el("div");
  const drift = el("div");
  show(main, title("Knowledge base"), box, drift);
  driftSection(drift);
  try {
    const kb = await api("/risk/scenes");
    show(box, el("p", {}, `Latest version ${kb.kb_version || "—"}; versions: `
      + `${(kb.versions || []).join(", ") || "none"}`),
    el("table", { "aria-label": "Risk scenes" }, el("thead", {}, el("tr", {},
      ["Scene", "What it is", "Samples", "Threshold", "Action"].map((h) =>
        el("th", { scope: "col", text: h })))),
    el("tbody", {}, kb.scenes.map((s) => el("tr", {}, el("td", {}, el("strong", { text: s.scene }),
      s.title ? el("br") : null, s.title || ""), el("td", { text: s.description || "" }),
    el("td", { text: s.sample_count }),
    el("td", { text: s.threshold == null ? "—" : Number(s.threshold).toFixed(2) }),
    el("td", { text: s.action || "—" }))))));
  } catch (err) { errorBox(box, err); }
}

// ------------------------------------------------------------------ router
const VIEWS = { campaigns: campaignsPage, rollout: rolloutPage, merchants: merchantsPage,
  alerts: alertsPage, kb: kbPage };

async function route() {
  stopTimer();
  const c = getToken() ? claims() : null;
  if (!c) {
    clearToken();
    signIn();
    return;
  }
  if (c.role === "merchant") {
    location.href = `${API_BASE}/m/`;
    return;
  }
  const [page, ...rest] = location.hash.replace(/^#/, "").split("/");
  const allowed = PAGES[c.role].map(([r]) => r);
  const current = allowed.includes(page) ? page : allowed[0];
  renderNav(c.role, current);
  await VIEWS[current](rest.join("/") ? decodeURIComponent(rest.join("/")) : null);
  main.focus({ preventScroll: true });
}

takeTokenFromFragment();
window.addEventListener("hashchange", route);
route();
