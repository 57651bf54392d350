// The tenant health dashboard. It reads tenancyd's JSON API with the token
// the user signs in with, which it keeps in sessionStorage only: never in a
// URL, a cookie or storage that outlives the tab. It only ever reads (GET),
// and it puts what the API answers into the page as text, never as HTML.
"use strict";

const TOKEN_KEY = "tenancy-dashboard-token";
// A list is read page by page; past this many pages the dashboard says it
// shows only the first ones.
const MAX_PAGES = 10;
const RECENT = 20;

// Quota dimensions whose environment quotas share the tenant-wide limit.
// max_users is shown apart: it bounds the tenant's users, not a sum.
const DIMENSIONS = [
  { key: "cpu_millicores", label: "CPU", unit: "millicores" },
  { key: "memory_mb", label: "Memory", unit: "MB" },
  { key: "storage_gb", label: "Storage", unit: "GB" },
  { key: "api_requests_per_minute", label: "API requests", unit: "per minute" },
];

const state = { tenants: [], truncated: false, generation: 0 };

const $ = (id) => document.getElementById(id);

// el builds an element. Attributes are set as attributes, and children that
// are not nodes become text nodes, so no value is ever parsed as HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    e.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    e.append(child instanceof Node ? child : String(child));
  }
  return e;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function setStatus(text) {
  $("status").textContent = text;
}

// The API.

class APIError extends Error {
  constructor(status, body, retryAfter) {
    const detail = body && body.error ? body.error : {};
    super(detail.message || "HTTP " + status);
    this.status = status;
    this.code = detail.code || "";
    this.retryAfter = retryAfter;
  }
}

// fill turns a route pattern such as "/v1/tenants/{tenant}/usage" into a
// path, escaping each value. The patterns are written as the route table
// writes them, so a test can check that each one exists.
function fill(pattern, params) {
  return pattern.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
}

async function get(pattern, params, query) {
  let url = fill(pattern, params || {});
  const q = new URLSearchParams(query || {}).toString();
  if (q) url += "?" + q;
  const resp = await fetch(url, {
    headers: { Authorization: "Bearer " + token(), Accept: "application/json" },
    cache: "no-store",
    credentials: "omit",
    redirect: "error",
  });
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok) throw new APIError(resp.status, body, resp.headers.get("Retry-After"));
  return body;
}

// getAll reads every page of a list, up to MAX_PAGES.
async function getAll(pattern, params, query) {
  const items = [];
  let pageToken = "";
  for (let i = 0; i < MAX_PAGES; i++) {
    const q = Object.assign({ page_size: "500" }, query);
    if (pageToken) q.page_token = pageToken;
    const page = await get(pattern, params, q);
    items.push(...(page.items || []));
    pageToken = page.next_page_token || "";
    if (!pageToken) return { items, truncated: false };
  }
  return { items, truncated: true };
}

// attempt turns a call into a result that a section renders, so that one
// failed call does not fail the whole page.
async function attempt(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

function unauthenticated(results) {
  return results.some((r) => !r.ok && r.error.status === 401);
}

// unavailable says why a section has nothing to show.
function unavailable(error) {
  if (error.status === 403 || error.status === 404) {
    return el("p", { class: "muted" }, "Not visible to this token.");
  }
  if (error.status === 429) {
    const wait = error.retryAfter ? " Refresh in " + error.retryAfter + " s." : "";
    return el("p", { class: "error" }, "Rate limited: the tenant's api_requests_per_minute is used up." + wait);
  }
  const status = error.status ? " (HTTP " + error.status + ")" : "";
  return el("p", { class: "error" }, "Could not load: " + error.message + status);
}

// Formatting.

function num(n) {
  return Number(n).toLocaleString();
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return el("time", { datetime: iso, title: iso }, isNaN(d) ? iso : d.toLocaleString());
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function badge(status) {
  const cls = status === "active" ? "badge ok" : status === "provisioning" ? "badge warn" : "badge";
  return el("span", { class: cls }, status || "unknown");
}

function labels(map) {
  return Object.entries(map || {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => el("span", { class: "chip" }, k + "=" + v));
}

function table(headers, rows, empty) {
  if (rows.length === 0) return el("p", { class: "muted" }, empty);
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

function section(title, ...content) {
  return el("section", { class: "card" }, el("h3", {}, title), content);
}

// Signing in and out.

function showSignIn(message) {
  $("signin").hidden = false;
  $("tenants").hidden = true;
  $("detail").hidden = true;
  $("refresh").hidden = true;
  $("signout").hidden = true;
  $("signin-error").textContent = message;
  $("token").focus();
}

function signIn(event) {
  event.preventDefault();
  const t = $("token").value.trim();
  $("token").value = "";
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  loadTenants();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.tenants = [];
  state.generation++;
  $("tenant-rows").replaceChildren();
  $("detail").replaceChildren();
  setStatus("");
  showSignIn(message);
}

// The tenant list.

async function loadTenants() {
  setStatus("Loading tenants…");
  const result = await attempt(getAll("/v1/tenants"));
  if (!result.ok) {
    if (result.error.status === 401) {
      signOut("The token was not accepted: " + result.error.message);
      return;
    }
    setStatus("");
    $("signin").hidden = true;
    $("tenants").hidden = true;
    $("refresh").hidden = false;
    $("signout").hidden = false;
    $("detail").hidden = false;
    $("detail").replaceChildren(section("Tenants", unavailable(result.error)));
    return;
  }
  state.tenants = result.value.items;
  state.truncated = result.value.truncated;
  $("signin").hidden = true;
  $("tenants").hidden = false;
  $("refresh").hidden = false;
  $("signout").hidden = false;
  const n = state.tenants.length;
  setStatus(num(n) + (n === 1 ? " tenant" : " tenants") + (state.truncated ? " (the first " + num(n) + " only)" : "") +
    " · read at " + new Date().toLocaleTimeString());
  renderTenants();
  showSelected();
}

function selectedSlug() {
  let hash = location.hash.slice(1);
  try {
    hash = decodeURIComponent(hash);
  } catch {
    // A malformed escape is no slug; it is shown as typed and found nowhere.
  }
  if (hash) return hash;
  return state.tenants.length === 1 ? state.tenants[0].slug : "";
}

function renderTenants() {
  const filter = $("filter").value.trim().toLowerCase();
  const selected = selectedSlug();
  const rows = state.tenants
    .filter((t) => !filter || [t.slug, t.display_name, t.region, t.status].join(" ").toLowerCase().includes(filter))
    .map((t) => el("tr", { class: t.slug === selected ? "selected" : null },
      el("td", {}, el("a", { href: "#" + encodeURIComponent(t.slug) }, t.slug)),
      el("td", {}, t.display_name),
      el("td", {}, badge(t.status), t.status === "provisioning" && t.provisioning_step ? " " + t.provisioning_step : ""),
      el("td", {}, t.region),
      el("td", {}, t.isolation || ""),
      el("td", {}, labels(t.labels))));
  if (rows.length === 0) {
    rows.push(el("tr", {}, el("td", { colspan: 6, class: "muted" }, state.tenants.length ? "No tenant matches." : "This token sees no tenant.")));
  }
  $("tenant-rows").replaceChildren(...rows);
}

function showSelected() {
  if (!token()) return;
  renderTenants();
  const slug = selectedSlug();
  const tenant = state.tenants.find((t) => t.slug === slug);
  if (!tenant) {
    state.generation++;
    $("detail").hidden = !slug;
    $("detail").replaceChildren(slug ? section(slug, el("p", { class: "muted" }, "Not visible to this token.")) : "");
    return;
  }
  loadTenant(tenant);
}

// One tenant.

async function loadTenant(tenant) {
  const generation = ++state.generation;
  const p = { tenant: tenant.slug };
  $("detail").hidden = false;
  $("detail").replaceChildren(tenantHeader(tenant, null), el("p", { class: "muted" }, "Loading…"));

  const [envs, quota, usage, flags, bindings, users, events, promotions] = await Promise.all([
    attempt(getAll("/v1/tenants/{tenant}/environments", p)),
    attempt(get("/v1/tenants/{tenant}/quota", p)),
    attempt(get("/v1/tenants/{tenant}/usage", p)),
    attempt(getAll("/v1/tenants/{tenant}/feature-flags", p)),
    attempt(getAll("/v1/tenants/{tenant}/role-bindings", p)),
    attempt(getAll("/v1/tenants/{tenant}/users", p)),
    attempt(get("/v1/tenants/{tenant}/audit-events", p, { order: "desc", page_size: String(RECENT) })),
    attempt(get("/v1/tenants/{tenant}/promotions", p, { page_size: String(RECENT) })),
  ]);
  const envQuotas = new Map();
  if (envs.ok) {
    const results = await Promise.all(envs.value.items.map((e) =>
      attempt(get("/v1/tenants/{tenant}/environments/{env}/quota", { tenant: tenant.slug, env: e.name }))));
    envs.value.items.forEach((e, i) => envQuotas.set(e.name, results[i]));
  }
  if (generation !== state.generation) return; // Another tenant was chosen meanwhile.
  const all = [envs, quota, usage, flags, bindings, users, events, promotions, ...envQuotas.values()];
  if (unauthenticated(all)) {
    signOut("The token is no longer accepted (expired or revoked). Sign in again.");
    return;
  }
  $("detail").replaceChildren(
    tenantHeader(tenant, usage),
    quotaSection(quota, envQuotas, usage),
    environmentSection(envs, envQuotas),
    flagSection(flags, envs),
    userSection(users, bindings),
    auditSection(events),
    promotionSection(promotions));
}

function tenantHeader(t, usage) {
  const facts = [
    ["Region", t.region],
    ["Isolation", t.isolation],
    ["Domain", t.domain],
    ["Created", when(t.created_at)],
  ];
  if (t.status === "provisioning") facts.push(["Provisioning step", t.provisioning_step]);
  let usageLine = null;
  if (usage && usage.ok) {
    const u = usage.value;
    usageLine = el("p", { class: "muted" },
      "Since ", when(u.window_started_at), ": ", num(u.api_calls), " API calls, ", num(u.api_errors), " errors (",
      (u.error_rate * 100).toFixed(1), "%) · ", num(u.users), " users · ", num(u.environments), " environments · ",
      bytes(u.storage_bytes), " stored");
  } else if (usage) {
    usageLine = unavailable(usage.error);
  }
  return el("section", { class: "card" },
    el("div", { class: "row" }, el("h2", {}, t.display_name || t.slug), el("code", {}, t.slug), badge(t.status)),
    el("dl", { class: "facts" }, facts.filter(([, v]) => v).map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v)))),
    el("div", {}, labels(t.labels)),
    usageLine);
}

// quotaBar is one dimension: what is used (or allocated) against a limit.
function quotaBar(label, used, limit, unit, note) {
  const text = limit == null
    ? num(used) + " " + unit + " · no tenant-wide limit"
    : num(used) + " of " + num(limit) + " " + unit + (limit > 0 ? " (" + Math.round((used / limit) * 100) + "%)" : "");
  const meter = limit == null
    ? el("span", { class: "muted" }, "unlimited")
    : el("meter", { min: 0, max: Math.max(limit, 1), value: used, low: 0.8 * limit, high: 0.95 * limit, optimum: 0 });
  return el("tr", {},
    el("th", { scope: "row" }, label),
    el("td", { class: "bar" }, meter),
    el("td", {}, text, note ? el("div", { class: "muted small" }, note) : null));
}

function quotaSection(quota, envQuotas, usage) {
  let tenantLimits = {};
  let intro = null;
  if (quota.ok) {
    tenantLimits = quota.value;
  } else if (quota.error.status === 404) {
    intro = el("p", { class: "muted" }, "No tenant-wide quota is set: the tenant is unlimited.");
  } else {
    return section("Quota", unavailable(quota.error));
  }
  const rows = DIMENSIONS.map((d) => {
    let sum = 0;
    const shares = [];
    for (const [env, r] of envQuotas) {
      if (r.ok && r.value[d.key] != null) {
        sum += r.value[d.key];
        shares.push(env + " " + num(r.value[d.key]));
      }
    }
    const note = shares.length ? "Environment quotas: " + shares.join(", ") : "No environment quota sets it.";
    return quotaBar(d.label, sum, tenantLimits[d.key], d.unit, note);
  });
  if (usage.ok) {
    rows.push(quotaBar("Users", usage.value.users, tenantLimits.max_users, "users", "Users of the tenant against max_users."));
  } else {
    rows.push(el("tr", {}, el("th", { scope: "row" }, "Users"), el("td", { colspan: 2 }, unavailable(usage.error))));
  }
  const hidden = [...envQuotas.values()].filter((r) => !r.ok && r.error.status !== 404).length;
  return section("Quota",
    intro,
    el("p", { class: "muted small" }, "Per dimension, the sum of the environment quotas against the tenant-wide limit."),
    el("table", { class: "quota" }, el("tbody", {}, rows)),
    hidden ? el("p", { class: "error" }, hidden + " environment quota(s) could not be read; the sums leave them out.") : null);
}

function envQuotaText(r) {
  if (!r) return "";
  if (!r.ok) return r.error.status === 404 ? el("span", { class: "muted" }, "not set") : unavailable(r.error);
  const parts = DIMENSIONS.concat([{ key: "max_users", unit: "users" }])
    .filter((d) => r.value[d.key] != null)
    .map((d) => d.key + " " + num(r.value[d.key]));
  return parts.length ? parts.join(" · ") : el("span", { class: "muted" }, "no limits");
}

function truncatedNote(list) {
  return list.truncated ? el("p", { class: "muted small" }, "Only the first " + num(list.items.length) + " are shown.") : null;
}

function environmentSection(envs, envQuotas) {
  if (!envs.ok) return section("Environments", unavailable(envs.error));
  const rows = envs.value.items.map((e) => {
    const settings = Object.entries(e.settings || {}).sort(([a], [b]) => a.localeCompare(b));
    return el("tr", {},
      el("td", {}, el("strong", {}, e.name)),
      el("td", {}, e.type),
      el("td", {}, badge(e.status)),
      el("td", {}, settings.length === 0 ? el("span", { class: "muted" }, "none") :
        el("details", {}, el("summary", {}, settings.length + (settings.length === 1 ? " setting" : " settings")),
          el("dl", { class: "settings" }, settings.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])))),
      el("td", {}, envQuotaText(envQuotas.get(e.name))));
  });
  return section("Environments",
    table(["Name", "Type", "Status", "Settings", "Quota"], rows, "No environments."), truncatedNote(envs.value));
}

function flagSection(flags, envs) {
  if (!flags.ok) return section("Feature flags", unavailable(flags.error));
  const names = new Set(envs.ok ? envs.value.items.map((e) => e.name) : []);
  for (const f of flags.value.items) Object.keys(f.environments || {}).forEach((n) => names.add(n));
  const columns = [...names];
  const rows = flags.value.items.map((f) => el("tr", {},
    el("td", {}, el("code", {}, f.key)),
    el("td", {}, f.description),
    columns.map((env) => {
      const s = (f.environments || {})[env];
      if (!s) return el("td", { class: "muted", title: "not managed in " + env }, "–");
      return el("td", { class: s.enabled ? "on" : "off" },
        s.enabled ? "on" : "off", s.enabled && s.rollout_percentage < 100 ? " · " + s.rollout_percentage + "%" : "");
    })));
  return section("Feature flags",
    table(["Key", "Description", ...columns], rows, "No feature flags."), truncatedNote(flags.value));
}

function userSection(users, bindings) {
  if (!bindings.ok && !users.ok) return section("Users and role bindings", unavailable(bindings.error));
  const byUser = new Map();
  if (users.ok) for (const u of users.value.items) byUser.set(u.user_id, { user: u, roles: [] });
  if (bindings.ok) {
    for (const b of bindings.value.items) {
      if (!byUser.has(b.user_id)) byUser.set(b.user_id, { user: { user_id: b.user_id }, roles: [] });
      byUser.get(b.user_id).roles.push(b);
    }
  }
  const rows = [...byUser.values()].map(({ user, roles }) => el("tr", {},
    el("td", {}, user.email || el("code", {}, user.user_id)),
    el("td", {}, user.display_name || ""),
    el("td", {}, user.status ? badge(user.status) : ""),
    el("td", {}, !bindings.ok ? "–" : roles.length === 0 ? el("span", { class: "muted" }, "no role") :
      roles.map((b) => el("div", { title: b.binding_id }, el("strong", {}, b.role), " ",
        b.environment ? "in " + b.environment : el("span", { class: "muted" }, "in every environment"))))));
  return section("Users and role bindings",
    users.ok ? null : unavailable(users.error),
    bindings.ok ? null : unavailable(bindings.error),
    table(["User", "Name", "Status", "Roles"], rows, "No users."),
    users.ok ? truncatedNote(users.value) : null);
}

function auditSection(events) {
  if (!events.ok) return section("Recent changes", unavailable(events.error));
  const rows = events.value.items.map((e) => el("tr", {},
    el("td", { class: "nowrap" }, when(e.time)),
    // A token's name is its minter's choice; its id, on hover, is not.
    el("td", { title: e.actor_token_id ? "token " + e.actor_token_id : null }, e.actor),
    el("td", {}, el("code", {}, e.action)),
    el("td", {}, e.object_kind, " ", el("code", {}, e.object_key)),
    el("td", {}, e.detail || ""),
    el("td", { class: "nowrap", title: e.request_id || null }, e.revision_before + " → " + e.revision_after)));
  return section("Recent changes",
    el("p", { class: "muted small" }, "The " + RECENT + " most recent audit events, newest first."),
    table(["When", "Who", "Action", "Object", "What changed", "Revision"], rows, "No audit events."));
}

function promotionSection(promotions) {
  if (!promotions.ok) return section("Promotions", unavailable(promotions.error));
  const rows = promotions.value.items.map((p) => {
    const changes = p.changes || [];
    return el("tr", {},
      el("td", { class: "nowrap" }, when(p.promoted_at)),
      el("td", {}, el("strong", {}, p.source_environment), " → ", el("strong", {}, p.target_environment)),
      el("td", {}, (p.include || []).join(", ")),
      el("td", {}, p.promoted_by || ""),
      el("td", {}, changes.length === 0 ? el("span", { class: "muted" }, "no changes") :
        el("details", {}, el("summary", {}, changes.length + (changes.length === 1 ? " change" : " changes")),
          el("ul", { class: "changes" }, changes.map((c) => el("li", {}, el("code", {}, c)))))),
      el("td", {}, p.rolled_back_at
        ? [el("span", { class: "badge warn" }, "rolled back"), " ", when(p.rolled_back_at), p.rolled_back_by ? " by " + p.rolled_back_by : ""]
        : el("span", { class: "badge ok" }, "applied")));
  });
  const more = promotions.value.next_page_token ? "The " + RECENT + " most recent promotions, newest first." : "Newest first.";
  return section("Promotions",
    el("p", { class: "muted small" }, more),
    table(["When", "From → to", "Scopes", "By", "Changes", "State"], rows, "No promotions."));
}

// Start.

$("signin").addEventListener("submit", signIn);
$("signout").addEventListener("click", () => signOut(""));
$("refresh").addEventListener("click", loadTenants);
$("filter").addEventListener("input", renderTenants);
window.addEventListener("hashchange", showSelected);
if (token()) {
  loadTenants();
} else {
  showSignIn("");
}
