// Shared by the console and the merchant page: the token, API calls and a tiny DOM helper.
// No framework and no build step: plain ES modules served by Paver itself.

const TOKEN_KEY = "paver.token";

/** The bearer token, kept in sessionStorage only (gone when the tab closes). */
export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The token's claims ({role, sub, exp}) or null. The server verifies the signature on every
 * call; the page reads the claims only to decide what to offer. */
export function claims(token = getToken()) {
  if (!token) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const c = JSON.parse(json);
    if (typeof c.role !== "string" || typeof c.sub !== "string") return null;
    if (typeof c.exp === "number" && c.exp * 1000 < Date.now()) return null;
    return c;
  } catch {
    return null;
  }
}

/** A sign-in token handed over in the URL fragment (#token=…): stored, then removed from the
 * address bar so it is not bookmarked or shared by accident. */
export function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([A-Za-z0-9._-]+)/.exec(location.hash);
  if (!m) return false;
  setToken(m[1]);
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The API's base: the page lives at <base>/console/ or <base>/m/. */
export const API_BASE = location.pathname.replace(/\/(console|m)\/.*$/, "");

/** Call the API with the bearer token; JSON in and out (or a Blob with {blob: true}). */
export async function api(path, { method = "GET", body, blob = false } = {}) {
  const headers = { Authorization: `Bearer ${getToken() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(API_BASE + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    let msg = `${resp.status} ${resp.statusText}`;
    try {
      const j = await resp.json();
      if (j && j.Message) msg = j.Message;
    } catch { /* not JSON */ }
    throw new ApiError(resp.status, msg);
  }
  if (blob) return resp.blob();
  return resp.json();
}

/** An image from the API (it needs the token, so it cannot be a plain <img src>). */
export async function apiImageUrl(path) {
  return URL.createObjectURL(await api(path, { blob: true }));
}

/** Build an element: el("a", {href: "#"}, "text", child…). Text is always set as text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else if (k === "style") Object.assign(node.style, v); // CSSOM: allowed by the page's CSP
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Replace a container's content. */
export function show(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
}

/** A polite status line for screen readers and everyone else. */
export function status(container, text, kind = "info") {
  show(container, el("p", { class: `status ${kind}`, role: kind === "error" ? "alert" : "status" },
    text));
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
