// The status page: polls /v1/status and follows the boot log. Every value
// from the box goes into the page as text, never as markup.
"use strict";

const POLL_MS = 2000;
const MAX_LOG_LINES = 300;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function stateBadge(state, label) {
  return el("span", label || state || "unknown", "state s-" + String(state || "unknown").replace(/\s+/g, "-"));
}

function duration(sec) {
  if (!sec || sec < 0) return "";
  sec = Math.floor(sec);
  const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + s + "s";
  return s + "s";
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? "" : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function renderWorkloads(ws) {
  const body = document.querySelector("#workloads tbody");
  const rows = ws.map(w => {
    const up = w.started ? (Date.now() - Date.parse(w.started)) / 1000 : 0;
    const name = el("span", w.name);
    const details = Object.entries(w.details || {}).map(([k, v]) => k + " " + v).join(", ");
    const cell = document.createElement("span");
    cell.appendChild(name);
    if (details) cell.appendChild(el("div", details, "details"));
    // held: stopped on request (nucbox stop), until nucbox start.
    const state = stateBadge(w.state, w.held ? w.state + " (held)" : w.state);
    if (w.held) state.title = "stopped on request; nucbox start " + w.name + " starts it";
    for (const l of w.leases || []) {
      cell.appendChild(el("div", "DHCP " + l.address + " from " + (l.server || "?") + (l.expiry ? ", expires " + new Date(l.expiry).toLocaleString() : ""), "details"));
    }
    const open = document.createElement("span");
    // Start, stop and restart go through the API with the token, as
    // nucbox start/stop/restart do.
    if (w.state === "running") {
      open.appendChild(actionButton("Stop", "stop", w.name));
      open.appendChild(actionButton("Restart", "restart", w.name));
    } else if (w.state === "stopped" || w.state === "failed" || w.held) {
      open.appendChild(actionButton("Start", "start", w.name));
    } else {
      open.appendChild(actionButton("Stop", "stop", w.name));
    }
    if (w.kind === "vm") {
      if (w.details && w.details.vnc) open.appendChild(openButton("Screen", "screen", w.name));
      open.appendChild(openButton("Console", "console", w.name));
    }
    const tr = row([w.kind, cell, state, w.pid || "", duration(up), w.restarts, (w.addresses || []).join(", "), w.last_error || "", open]);
    tr.dataset.name = w.name;
    tr.dataset.kind = w.kind;
    tr.dataset.state = w.state;
    tr.dataset.held = w.held ? "true" : "false";
    return tr;
  });
  body.replaceChildren(...rows);
  document.getElementById("no-workloads").hidden = ws.length > 0;
}

// policyDrops sums, per port link, the packets its policy rules dropped
// (chains out-LINK, in-LINK and bpdu-LINK).
function policyDrops(sw) {
  const drops = {};
  for (const p of (sw && sw.policy) || []) {
    if (!p.drop) continue;
    const link = p.chain.replace(/^[a-z]+-/, "");
    drops[link] = (drops[link] || 0) + p.packets;
  }
  return drops;
}

// The links with their counters and drops: the kernel's and, for a
// workload port, its policy's; an err-disabled port says so in its state.
function renderLinks(links, sw, errDisabled) {
  const body = document.querySelector("#links tbody");
  const drops = policyDrops(sw);
  const off = {};
  for (const d of errDisabled) off[d.link] = d;
  body.replaceChildren(...links.map(l => {
    const vlans = (l.vlans || []).map(v => v.id + (v.pvid ? " pvid" : "") + (v.untagged ? " untagged" : "")).join(", ");
    const state = off[l.name] ? stateBadge("err-disabled") : stateBadge(l.state);
    if (off[l.name]) state.title = off[l.name].reason + " from " + off[l.name].source + "; nucbox port enable " + off[l.name].port + " enables it";
    let dropped = "kernel " + ((l.stats.rx_dropped || 0) + (l.stats.tx_dropped || 0));
    if (l.name in drops) dropped += ", policy " + drops[l.name];
    const tr = row([l.name, l.port || "", l.type, state, l.master || "", vlans, l.mac || "", (l.addresses || []).join(", "),
      bytes(l.stats.rx_bytes) + " / " + l.stats.rx_packets + " pkts", bytes(l.stats.tx_bytes) + " / " + l.stats.tx_packets + " pkts", dropped]);
    tr.dataset.name = l.name;
    if (off[l.name]) tr.dataset.errDisabled = "true";
    return tr;
  }));
}

// vlanVerdict is a VLAN check's verdict in the words nucbox status uses.
function vlanVerdict(r) {
  const arp = r.probe === "arp";
  switch (r.state) {
  case "checking": return arp ? "checking VLAN " + r.vlan + ": ARP for the gateway " + r.gateway : "checking VLAN " + r.vlan + ": DHCP discover";
  case "carried": return arp ? "VLAN " + r.vlan + " is carried: the gateway " + r.gateway + " answered ARP from " + r.answer : "VLAN " + r.vlan + " is carried: a DHCP server answered (" + r.answer + ")";
  case "not-carried": return "the switch port does not carry VLAN " + r.vlan + ": the gateway " + r.gateway + " did not answer ARP";
  case "no-answer": return "no answer on VLAN " + r.vlan + " (no gateway configured, no DHCP server answered)";
  default: return "VLAN " + r.vlan + " not checked: " + (r.error || "");
  }
}

// The switch the uplink is plugged into (LLDP), whether its port carries
// each tagged VLAN, and the err-disabled workload ports.
function renderSwitch(st) {
  const items = [];
  for (const n of st.lldp_neighbors || []) {
    items.push(el("li", "switch " + (n.system_name || n.chassis_id) + ", port " + (n.port_description || n.port_id) + " (on " + n.link + ")"));
  }
  for (const r of st.vlan_check || []) {
    const li = el("li", vlanVerdict(r), "vlan-" + r.state);
    li.dataset.vlan = r.vlan;
    li.dataset.state = r.state;
    items.push(li);
  }
  for (const d of st.err_disabled || []) {
    const li = el("li", "port " + d.port + " (" + d.link + ") err-disabled since " + new Date(d.since).toLocaleString() + ": " + d.reason +
      " from " + (d.source || "?") + "; nucbox port enable " + d.port + " enables it", "err-disabled");
    li.dataset.port = d.port;
    items.push(li);
  }
  document.getElementById("switch-section").hidden = items.length === 0;
  document.getElementById("switch").replaceChildren(...items);
}

// The leases the box's DHCP server gave on its VLANs; the section shows
// only on a box that serves DHCP.
function renderLeases(leases) {
  document.getElementById("leases-section").hidden = leases.length === 0;
  document.querySelector("#leases tbody").replaceChildren(...leases.map(l => {
    // The workload the MAC belongs to, and the name the client gave.
    let client = l.name || l.hostname || "";
    if (l.name && l.hostname && l.hostname !== l.name) client += " (" + l.hostname + ")";
    let lease = l.active ? "until " + new Date(l.expires).toLocaleString() : "expired";
    if (l.fixed) lease = "fixed, " + lease;
    const tr = row([l.vlan, l.address, l.mac, client, lease]);
    tr.dataset.mac = l.mac;
    tr.dataset.active = l.active ? "true" : "false";
    return tr;
  }));
}

// The box as its rack's boot server: a machine that asked for its config
// and had none waits in maintenance mode for nucbox apply --host.
function renderPXE(p) {
  document.getElementById("pxe-section").hidden = !p;
  if (!p) return;
  document.getElementById("pxe-server").textContent = (p.interface || "the uplink") + ", " + p.address + " (" + p.mode + "): " +
    (p.error ? "not serving: " + p.error : p.bundle) + "; configs in " + p.configs;
  document.querySelector("#pxe tbody").replaceChildren(...(p.machines || []).map(m => {
    const cfg = !m.asked ? "booting" : m.config ? "served" : "none: maintenance mode";
    const tr = row([m.mac, m.address || "-", cfg, new Date(m.first_seen).toLocaleString(), new Date(m.last_seen).toLocaleString()]);
    tr.dataset.mac = m.mac;
    return tr;
  }));
}

function render(st) {
  document.getElementById("hostname").textContent = st.hostname || "nucbox";
  document.title = (st.hostname || "nucbox") + ": " + st.phase;
  const phase = document.getElementById("phase");
  phase.textContent = st.phase;
  phase.className = "badge s-" + String(st.phase).replace(/\s+/g, "-");
  const meta = [];
  const errs = (st.errors || []).slice();
  if (st.config) meta.push("config " + st.config.sha256.slice(0, 12));
  meta.push("up " + duration(st.uptime));
  if (st.summary && st.summary.ready_ms) meta.push("ready in " + (st.summary.ready_ms / 1000).toFixed(1) + " s");
  const lease = st.uplink_lease;
  if (lease) meta.push("DHCP " + lease.address + (lease.expiry ? " until " + new Date(lease.expiry).toLocaleString() : ""));
  const data = st.data_partition;
  if (data && data.state === "mounted") meta.push("data " + data.device + " " + bytes(data.free_bytes || 0) + " free" + (data.note ? " (" + data.note + ")" : ""));
  if (data && data.state === "not mounted") errs.push("data partition " + (data.device || "") + " NOT MOUNTED: " + data.reason + "; workloads that need it are held");
  document.getElementById("meta").textContent = meta.join(" · ");
  document.getElementById("errors-section").hidden = errs.length === 0;
  document.getElementById("errors").replaceChildren(...errs.map(e => el("li", e)));
  renderTry(st.try);
  renderWorkloads(st.workloads || []);
  renderLinks(st.links || [], st.switch, st.err_disabled || []);
  renderSwitch(st);
  renderLeases(st.served_leases || []);
  renderPXE(st.pxe);
}

// The pending try: which config, the countdown to its rollback and the
// Confirm button. Confirming needs the token itself: the page's login
// only grants reading.
let tryDeadline = 0;

function renderTry(t) {
  const sec = document.getElementById("try-section");
  sec.hidden = !t;
  if (!t) { tryDeadline = 0; return; }
  tryDeadline = Date.parse(t.deadline);
  sec.dataset.deadline = t.deadline;
  document.getElementById("try-config").textContent = t.config.slice(0, 12);
  document.getElementById("try-previous").textContent = t.previous.slice(0, 12);
  tick();
}

function tick() {
  if (!tryDeadline) return;
  const left = Math.max(0, Math.round((tryDeadline - Date.now()) / 1000));
  document.getElementById("try-countdown").textContent = left > 0 ? duration(left) : "now";
}

async function confirmTry(ev) {
  ev.preventDefault();
  const out = document.getElementById("confirm-result");
  const input = document.getElementById("confirm-token");
  out.textContent = "confirming…";
  try {
    const r = await fetch("/v1/apply/confirm", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Authorization": "Bearer " + input.value },
    });
    if (r.ok) {
      input.value = "";
      out.textContent = "Confirmed: the box keeps this config.";
      renderTry(null);
      return;
    }
    const body = await r.json().catch(() => ({}));
    out.textContent = r.status === 401 ? "That token is not right." : (body.error || "HTTP " + r.status);
  } catch (e) {
    out.textContent = "box unreachable (" + e.message + ")";
  }
}

function setConn(text) { document.getElementById("conn").textContent = text; }

async function refresh() {
  try {
    const r = await fetch("/v1/status", { credentials: "same-origin", cache: "no-store" });
    if (r.status === 401) { location.reload(); return; }
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    setConn("updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setConn("box unreachable (" + e.message + "), retrying");
  }
}

async function poll() {
  await refresh();
  setTimeout(poll, POLL_MS);
}

// Workload actions and applies need the token itself, like the screens:
// the page asks for it once and keeps it in memory with theirs.
let pendingAction = null; // what runs once the token is given

function actionButton(label, action, name) {
  const b = el("button", label, "action");
  b.type = "button";
  b.dataset.action = action;
  b.addEventListener("click", () => runAction(name, action));
  return b;
}

// withToken runs fn now when the page has the token, else after asking.
function withToken(why, fn) {
  if (apiToken) { fn(); return; }
  pendingAction = fn;
  document.getElementById("action-form").hidden = false;
  document.getElementById("action-why").textContent = why;
  document.getElementById("action-token").focus();
}

function submitActionToken(ev) {
  ev.preventDefault();
  const input = document.getElementById("action-token");
  apiToken = input.value;
  input.value = "";
  document.getElementById("action-form").hidden = true;
  const fn = pendingAction;
  pendingAction = null;
  if (fn) fn();
}

// adminFetch calls the API with the token; on 401 it forgets the token,
// asks again and retries, and returns null.
async function adminFetch(path, opts, retry) {
  const r = await fetch(path, Object.assign({ headers: { "Authorization": "Bearer " + apiToken }, credentials: "same-origin", cache: "no-store" }, opts));
  if (r.status === 401) {
    apiToken = "";
    withToken("That token is not right.", retry);
    return null;
  }
  return r;
}

async function runAction(name, action) {
  const retry = () => runAction(name, action);
  if (!apiToken) {
    withToken("The API token is needed to " + action + " " + name + ".", retry);
    return;
  }
  const out = document.getElementById("action-result");
  out.textContent = action + " " + name + "…";
  try {
    const r = await adminFetch("/v1/workloads/" + encodeURIComponent(name) + "/" + action, { method: "POST" }, retry);
    if (!r) { out.textContent = ""; return; }
    const body = await r.json().catch(() => ({}));
    out.textContent = r.ok ? name + ": " + action + " done, " + body.workload.state : name + ": " + (body.error || "HTTP " + r.status);
  } catch (e) {
    out.textContent = "box unreachable (" + e.message + ")";
  }
  refresh();
}

// Apply: the changes are shown first (POST /v1/plan, as nucbox apply
// --dry-run), and the config applied is the one whose changes were shown.
let plannedConfig = null;

async function loadRunningConfig() {
  const out = document.getElementById("apply-result");
  if (!apiToken) { withToken("The API token is needed to read the running config.", loadRunningConfig); return; }
  try {
    const r = await adminFetch("/v1/config", {}, loadRunningConfig);
    if (!r) return;
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { out.textContent = body.error || "HTTP " + r.status; return; }
    document.getElementById("apply-config").value = body.text;
    out.textContent = "Loaded the running config " + body.sha256.slice(0, 12) + ".";
  } catch (e) {
    out.textContent = "box unreachable (" + e.message + ")";
  }
}

async function planConfig() {
  const out = document.getElementById("apply-result");
  const diff = document.getElementById("apply-diff");
  const go = document.getElementById("apply-go");
  if (!apiToken) { withToken("The API token is needed to check a config.", planConfig); return; }
  const text = document.getElementById("apply-config").value;
  plannedConfig = null;
  go.hidden = true;
  try {
    const r = await adminFetch("/v1/plan?name=page.yaml", { method: "POST", body: text }, planConfig);
    if (!r) return;
    const body = await r.json().catch(() => ({}));
    diff.hidden = false;
    if (!r.ok) {
      diff.textContent = [body.error || "HTTP " + r.status, ...(body.errors || [])].join("\n");
      diff.className = "invalid";
      out.textContent = "The config is not valid: nothing was applied.";
      return;
    }
    diff.className = "";
    diff.textContent = body.text;
    if (body.empty) {
      out.textContent = "No changes: the box runs this config.";
      return;
    }
    plannedConfig = text;
    go.hidden = false;
    out.textContent = "These are the changes; nothing is applied until you press Apply.";
  } catch (e) {
    out.textContent = "box unreachable (" + e.message + ")";
  }
}

async function applyConfig() {
  const out = document.getElementById("apply-result");
  const text = document.getElementById("apply-config").value;
  if (plannedConfig === null || text !== plannedConfig) {
    out.textContent = "The config changed since its changes were shown: show them again first.";
    document.getElementById("apply-go").hidden = true;
    return;
  }
  let path = "/v1/apply?name=page.yaml";
  if (document.getElementById("apply-try").checked) path += "&try=" + encodeURIComponent(document.getElementById("apply-try-for").value);
  out.textContent = "applying…";
  try {
    const r = await adminFetch(path, { method: "POST", body: text }, applyConfig);
    if (!r) return;
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { out.textContent = "Not applied: " + [body.error || "HTTP " + r.status, ...(body.errors || [])].join("; "); return; }
    plannedConfig = null;
    document.getElementById("apply-go").hidden = true;
    const res = body.result;
    out.textContent = "Applied: the box runs config " + res.config.slice(0, 12) +
      (res.try ? ", on trial until " + new Date(res.try.deadline).toLocaleTimeString() + " unless confirmed" : "") + ".";
  } catch (e) {
    out.textContent = "box unreachable (" + e.message + ")";
  }
  refresh();
}

function followLog() {
  const pre = document.getElementById("log");
  const es = new EventSource("/v1/logs/boot?follow=1&tail=200");
  es.addEventListener("line", ev => {
    const l = JSON.parse(ev.data);
    const secs = (l.time_ns / 1e9).toFixed(6).padStart(12, " ");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.appendChild(document.createTextNode("[" + secs + "] " + l.text + "\n"));
    while (pre.childNodes.length > MAX_LOG_LINES) pre.removeChild(pre.firstChild);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  });
  es.onerror = () => {
    // EventSource reconnects by itself; a 401 (status public, logs not)
    // ends it for good.
    if (es.readyState === EventSource.CLOSED && !pre.childNodes.length) pre.textContent = "The log needs a login.";
  };
}

// The screen (noVNC) and the serial console (xterm.js) of a VM, over the
// API's WebSockets, with the viewers the image carries under
// /static/vendor/ (an image built without them says so). Both need the
// token itself: the login only reads. A browser cannot put it in an
// Authorization header of a WebSocket, so it goes as a subprotocol entry
// (the API's BearerProtocolPrefix); the page keeps it in this variable
// only, never in storage.
const VENDOR = "/static/vendor/";
let apiToken = "";
let viewer = null;   // the open viewer: {close()}
let pending = null;  // {kind, name} waiting for the token

function openButton(label, kind, name) {
  const b = el("button", label, "open");
  b.type = "button";
  b.dataset.open = kind;
  b.addEventListener("click", () => openViewer(kind, name));
  return b;
}

function bearerProtocol(tok) {
  let s = "";
  for (const c of new TextEncoder().encode(tok)) s += String.fromCharCode(c);
  return "base64url.bearer.nucbox." + btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function wsURL(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

function setViewerState(state, text) {
  document.getElementById("viewer-section").dataset.state = state;
  document.getElementById("viewer-status").textContent = text;
}

function closeViewer() {
  if (viewer) viewer.close();
  viewer = null;
  pending = null;
  const box = document.getElementById("viewer");
  box.replaceChildren();
  box.className = "";
  document.getElementById("viewer-section").hidden = true;
}

function openViewer(kind, name) {
  closeViewer();
  const sec = document.getElementById("viewer-section");
  sec.hidden = false;
  sec.dataset.kind = kind;
  sec.dataset.name = name;
  document.getElementById("viewer-title").textContent = (kind === "screen" ? "Screen of " : "Serial console of ") + name;
  if (!apiToken) {
    askToken(kind, name, "");
    return;
  }
  connectViewer(kind, name);
}

function askToken(kind, name, why) {
  pending = { kind, name };
  document.getElementById("viewer-form").hidden = false;
  setViewerState("token", why);
  document.getElementById("viewer-token").focus();
}

function submitToken(ev) {
  ev.preventDefault();
  const input = document.getElementById("viewer-token");
  apiToken = input.value;
  input.value = "";
  if (pending) connectViewer(pending.kind, pending.name);
}

async function connectViewer(kind, name) {
  pending = null;
  document.getElementById("viewer-form").hidden = true;
  const path = kind === "screen" ? "/v1/vms/" + encodeURIComponent(name) + "/vnc" : "/v1/console/" + encodeURIComponent(name);
  setViewerState("connecting", "connecting…");
  // A browser does not say why a WebSocket failed: a plain GET with the
  // token first tells a wrong token (401) from a stream that is there
  // (426, the upgrade it wants).
  try {
    const r = await fetch(path, { headers: { "Authorization": "Bearer " + apiToken }, credentials: "same-origin", cache: "no-store" });
    if (r.status === 401) {
      apiToken = "";
      askToken(kind, name, "That token is not right.");
      return;
    }
    if (r.status !== 426) {
      const body = await r.json().catch(() => ({}));
      setViewerState("failed", body.error || "HTTP " + r.status);
      return;
    }
  } catch (e) {
    setViewerState("failed", "box unreachable (" + e.message + ")");
    return;
  }
  if (kind === "screen") await connectScreen(name, path);
  else await connectConsole(name, path);
}

function notInstalled(what, instead) {
  setViewerState("missing", "The " + what + " is not installed in this image (make image fetches it). Meanwhile " + instead + ".");
}

async function connectScreen(name, path) {
  let RFB;
  try {
    RFB = (await import(VENDOR + "novnc/core/rfb.js")).default;
  } catch (e) {
    notInstalled("screen viewer (noVNC)", "nucbox vnc " + name + " forwards the screen to a native VNC viewer");
    return;
  }
  const box = document.getElementById("viewer");
  box.className = "screen";
  const rfb = new RFB(box, wsURL(path), { wsProtocols: ["binary", bearerProtocol(apiToken)] });
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => setViewerState("connected", "Connected to the screen of " + name + "."));
  rfb.addEventListener("disconnect", ev => setViewerState("disconnected",
    ev.detail.clean ? "Disconnected." : "The screen ended or could not be reached (is " + name + " running?)."));
  viewer = { close: () => rfb.disconnect() };
}

function addStylesheet(href) {
  if (document.querySelector('link[href="' + href + '"]')) return;
  const l = document.createElement("link");
  l.rel = "stylesheet";
  l.href = href;
  document.head.appendChild(l);
}

async function connectConsole(name, path) {
  let Terminal;
  try {
    ({ Terminal } = await import(VENDOR + "xterm/lib/xterm.mjs"));
  } catch (e) {
    notInstalled("console viewer (xterm.js)", "nucbox console " + name + " attaches a terminal");
    return;
  }
  addStylesheet(VENDOR + "xterm/css/xterm.css");
  const box = document.getElementById("viewer");
  box.className = "console";
  const term = new Terminal({ cursorBlink: true, scrollback: 5000 });
  term.open(box);
  const ws = new WebSocket(wsURL(path), ["binary", bearerProtocol(apiToken)]);
  ws.binaryType = "arraybuffer";
  const enc = new TextEncoder();
  const typed = term.onData(d => { if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
  ws.onopen = () => { setViewerState("connected", "Connected to the serial console of " + name + "."); term.focus(); };
  ws.onmessage = ev => term.write(new Uint8Array(ev.data));
  ws.onclose = () => setViewerState("disconnected", "The console ended (the VM stopped, or the box went away).");
  viewer = { close: () => { typed.dispose(); ws.close(); term.dispose(); } };
}

document.getElementById("viewer-form").addEventListener("submit", submitToken);
document.getElementById("viewer-close").addEventListener("click", closeViewer);
document.getElementById("confirm-form").addEventListener("submit", confirmTry);
document.getElementById("action-form").addEventListener("submit", submitActionToken);
document.getElementById("apply-load").addEventListener("click", loadRunningConfig);
document.getElementById("apply-plan").addEventListener("click", planConfig);
document.getElementById("apply-go").addEventListener("click", applyConfig);
setInterval(tick, 1000);
poll();
followLog();
