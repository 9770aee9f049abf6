// Local Cluster dashboard: every cluster of the machine through `lcc dashboard`'s API.
// Plain DOM, no framework and no build step; every value from a cluster reaches the page
// as text (textContent), never as markup. It stays live through each cluster's event
// stream: an event redraws what it may have changed, without reloading the page.
"use strict";

const meta = document.querySelector('meta[name="lcc-token"]');
// The token comes in the page, or (with `lcc dashboard --token-file`) in the URL's
// fragment, which never leaves the browser; it is kept for this tab only.
let token = meta && meta.content && meta.content !== "{{token}}" ? meta.content : "";
const fragment = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
if (fragment) {
  token = decodeURIComponent(fragment[1]);
  sessionStorage.setItem("lcc-token", token);
  history.replaceState(null, "", location.pathname + "#/");
} else if (!token) {
  token = sessionStorage.getItem("lcc-token") || "";
}

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const live = document.getElementById("live");
const notice = document.getElementById("notice");

// h("tag.class", {attr: value, onclick: fn}, child...): children are nodes or text.
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replaces el's children (nodes, text, arrays of them; null and false left out).
function fill(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function headers(extra) {
  const out = Object.assign({}, extra || {});
  if (token) out.Authorization = "Bearer " + token;
  return out;
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const resp = await fetch("/api/v1" + path, opts);
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const why = body && body.detail ? body.detail : resp.status + " " + resp.statusText;
    throw new Error(why);
  }
  return body;
}

function say(message) {
  if (!message) {
    notice.hidden = true;
    return;
  }
  notice.textContent = message;
  notice.hidden = false;
}

function age(iso) {
  if (!iso) return "-";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

function badge(state) {
  return h("span.badge.s-" + state, { "data-state": state }, state);
}

// What is on screen: one view at a time; leaving it stops its streams.
let view = null;

function route() {
  if (view) view.close();
  view = null;
  say("");
  const m = /^#\/c\/([^/]+)/.exec(location.hash);
  if (m) view = clusterView(decodeURIComponent(m[1]));
  else view = listView(location.hash === "" || location.hash === "#");
}

// ---- every cluster ------------------------------------------------------------------

function listView(mayJump) {
  let closed = false;
  let timer = null;
  fill(crumbs);
  main.className = "list";
  async function draw() {
    let clusters;
    try {
      clusters = (await api("/clusters")).clusters;
      live.textContent = "live";
      live.classList.add("on");
    } catch (e) {
      live.textContent = "offline";
      live.classList.remove("on");
      say("Cannot list the clusters: " + e.message);
      return;
    }
    if (closed) return;
    if (mayJump && clusters.length === 1) {
      location.hash = "#/c/" + encodeURIComponent(clusters[0].id);
      return;
    }
    mayJump = false;
    const cards = await Promise.all(clusters.map(card));
    if (closed) return;
    fill(main,
      h("section.wide", {},
        h("h1", {}, "Clusters on this machine"),
        clusters.length === 0
          ? h("p.muted", {}, "No cluster is running. Start one with `lcc up -d DIR`.")
          : h("div.cards", {}, cards)));
  }
  async function card(c) {
    let instances = [];
    try {
      instances = (await api("/clusters/" + encodeURIComponent(c.id) + "/instances")).instances;
    } catch (e) {
      // The cluster stopped between the list and this look; it goes at the next draw.
    }
    return h("article.card", { "data-cluster": c.id },
      h("h2", {}, h("a", { href: "#/c/" + encodeURIComponent(c.id) }, c.name)),
      h("p.muted", {}, c.dir),
      h("p", {}, h("span.badge." + (c.ready === c.total ? "ok" : "warn"), {}, c.ready + "/" + c.total + " ready")),
      h("div.chips", {}, instances.map((i) => badgeFor(i))));
  }
  function badgeFor(i) {
    return h("span.badge.s-" + i.state, { title: i.name + ": " + i.state }, i.name);
  }
  draw();
  timer = setInterval(draw, 3000);
  return { close() { closed = true; clearInterval(timer); } };
}

// ---- one cluster --------------------------------------------------------------------

function clusterView(id) {
  const base = "/clusters/" + encodeURIComponent(id);
  const controller = new AbortController();
  let logController = null;
  let redrawTimer = null;
  let ticker = null;
  let closed = false;
  const state = { cluster: null, instances: [], groups: [], gateways: [], entrances: [] };

  main.className = "cluster";
  fill(crumbs, h("span", {}, " / "), h("span", {}, id));
  const summary = h("section.wide", { "aria-labelledby": "cluster-name" });
  const instances = h("section.wide", { "aria-labelledby": "h-instances" });
  const groups = h("section", { "aria-labelledby": "h-groups" });
  const net = h("section", { "aria-labelledby": "h-net" });
  const eventsList = h("ol.events", { id: "events", "aria-live": "polite" });
  const events = h("section", { "aria-labelledby": "h-events" },
    h("h2", { id: "h-events" }, "Events"), eventsList);
  const logSelect = h("select", { id: "log-instance", "aria-label": "Instance whose log to show", onchange: followLog });
  const streamSelect = h("select", { id: "log-stream", "aria-label": "Log stream", onchange: followLog },
    h("option", { value: "stdout" }, "stdout"), h("option", { value: "stderr" }, "stderr"));
  const logPre = h("pre.log", { id: "log", tabindex: "0", "aria-label": "Log" });
  const logs = h("section", { "aria-labelledby": "h-logs" },
    h("h2", { id: "h-logs" }, "Logs"),
    h("div.logbar", {}, logSelect, streamSelect), logPre);
  fill(main, summary, instances, groups, net, events, logs);

  async function load() {
    try {
      const [cluster, inst, grp, gw, ent] = await Promise.all([
        api(base + "/cluster"), api(base + "/instances"), api(base + "/groups"),
        api(base + "/gateways"), api(base + "/entrances"),
      ]);
      if (closed) return;
      state.cluster = cluster;
      state.instances = inst.instances;
      state.groups = grp.groups;
      state.gateways = gw.gateways;
      state.entrances = ent.entrances;
      draw();
    } catch (e) {
      if (!closed) say("Cannot read cluster " + id + ": " + e.message);
    }
  }

  // After an event, a look at once and one more later: the daemon holds a status file
  // back for up to a quarter second after the event that changed it.
  let settleTimer = null;
  function redrawSoon() {
    if (!redrawTimer) redrawTimer = setTimeout(() => { redrawTimer = null; load(); }, 100);
    clearTimeout(settleTimer);
    settleTimer = setTimeout(load, 600);
  }

  async function act(what, path, options, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return;
    try {
      await api(base + path, options);
      say("");
    } catch (e) {
      say(what + ": " + e.message);
    }
    redrawSoon();
  }

  // Redrawing replaces rows: the focused button is found again by its row and action,
  // so keyboard users keep their place.
  function draw() {
    const focused = document.activeElement;
    const row = focused && focused.closest ? focused.closest("[data-instance],[data-group]") : null;
    const again = row && focused.dataset.action
      ? '[data-' + (row.dataset.instance !== undefined ? "instance" : "group") + '="' +
        CSS.escape(row.dataset.instance || row.dataset.group) + '"] [data-action="' + focused.dataset.action + '"]'
      : null;
    drawAll();
    if (again) {
      const el = main.querySelector(again);
      if (el) el.focus();
    }
  }

  function drawAll() {
    const c = state.cluster;
    // A job that completed is done, not missing.
    const done = state.instances.filter((i) => i.state === "Completed").length;
    const settled = c.instances.ready + done;
    // bench/dashboard.sh reads when the instances first showed.
    if (!performance.getEntriesByName("lcc-instances").length) {
      queueMicrotask(() => requestAnimationFrame(() => performance.mark("lcc-instances")));
    }
    document.title = c.name + " · Local Cluster";
    fill(crumbs, h("span", {}, " / "), h("span", {}, c.name));
    fill(summary,
      h("h1", { id: "cluster-name" }, c.name),
      h("p.muted", {}, c.dir),
      h("p", {},
        h("span.badge." + (settled === c.instances.total ? "ok" : "warn"), { id: "ready-count" },
          c.instances.ready + "/" + c.instances.total + " ready" + (done ? ", " + done + " done" : "")),
        " · ", c.instances.restarts + " restarts · daemon pid " + c.daemonPid +
        " · up " + age(new Date(Date.now() - c.uptimeSeconds * 1000).toISOString())));
    drawInstances();
    drawGroups();
    drawNet();
    drawLogChoices();
  }

  function drawInstances() {
    const rows = state.instances.map((i) => {
      const ports = Object.entries(i.ports || {}).map(([name, port]) =>
        h("a", { href: "http://127.0.0.1:" + port + "/", target: "_blank", rel: "noopener" }, name + ":" + port));
      const enc = encodeURIComponent(i.name);
      return h("tr", { "data-instance": i.name, "data-state": i.state, "data-ready": String(i.ready),
        "data-started": i.started || "" },
        h("td", {}, i.name),
        h("td", {}, badge(i.state), i.waitingOn && i.waitingOn.length
          ? h("span.muted", {}, " on " + i.waitingOn.join(", ")) : null,
          i.nextRun ? h("span.muted", {}, " next " + i.nextRun.slice(11, 19)) : null),
        h("td", {}, i.state === "Completed"
          ? h("span.badge.s-Completed", {}, "done")
          : h("span.badge." + (i.ready ? "ok" : "warn"), {}, i.ready ? "ready" : "not ready")),
        h("td", { "data-label": "restarts" }, String(i.restarts)),
        h("td", { "data-label": "ports" }, h("span.chips", {}, ports.length ? ports : "-")),
        h("td", { "data-label": "age" }, age(i.started)),
        h("td.actions-cell", {}, h("div.actions", {},
          h("button", { type: "button", "data-action": "start", disabled: i.desired === "running",
            onclick: () => act("Start " + i.name, "/instances/" + enc + "/start", { method: "POST" }) }, "Start"),
          h("button", { type: "button", "data-action": "stop", disabled: i.desired !== "running",
            onclick: () => act("Stop " + i.name, "/instances/" + enc + "/stop", { method: "POST" }) }, "Stop"),
          h("button", { type: "button", "data-action": "restart",
            onclick: () => act("Restart " + i.name, "/instances/" + enc + "/restart", { method: "POST" }) }, "Restart"),
          h("button", { type: "button", "data-action": "logs", onclick: () => showLog(i.name) }, "Logs"),
          h("button.danger", { type: "button", "data-action": "delete",
            onclick: () => act("Delete " + i.name, "/instances/" + enc, { method: "DELETE" },
              "Delete instance " + i.name + "? A group replaces it; a single instance is gone.") }, "Delete"))));
    });
    fill(instances,
      h("h2", { id: "h-instances" }, "Instances"),
      h("div.scroll", {}, h("table", { id: "instances" },
        h("thead", {}, h("tr", {}, ["Instance", "State", "Ready", "Restarts", "Ports", "Age", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))));
  }

  function drawGroups() {
    const rows = state.groups.map((g) => {
      const scale = (n) => act("Scale " + g.name, "/groups/" + encodeURIComponent(g.name) + "/scale",
        { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ replicas: n }) });
      return h("tr", { "data-group": g.name },
        h("td", {}, g.name),
        h("td", {}, h("span.scale", {},
          h("button", { type: "button", "data-action": "scale-down", "aria-label": "One replica fewer for " + g.name,
            disabled: g.replicas === 0, onclick: () => scale(g.replicas - 1) }, "−"),
          h("output", { "aria-label": "replicas of " + g.name }, String(g.replicas)),
          h("button", { type: "button", "data-action": "scale-up", "aria-label": "One replica more for " + g.name,
            onclick: () => scale(g.replicas + 1) }, "+"))),
        h("td", {}, g.ready + "/" + g.members.length + " ready"));
    });
    fill(groups, h("h2", { id: "h-groups" }, "Groups"),
      rows.length ? h("div.scroll", {}, h("table", { id: "groups" },
        h("thead", {}, h("tr", {}, ["Group", "Replicas", "Ready"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))) : h("p.muted", {}, "No groups."));
  }

  function drawNet() {
    const gws = state.gateways.map((g) => h("tr", { "data-gateway": g.name },
      h("td", {}, g.name),
      h("td", {}, g.protocol === "http" ? h("a", { href: "http://" + g.listen + "/", target: "_blank", rel: "noopener" }, g.listen) : g.listen),
      h("td", {}, h("span.chips", {}, g.backends.length ? g.backends.map((b) =>
        h("span.badge." + (b.ready ? "ok" : "bad"), { title: (b.address || "no port yet") + (b.ready ? ", ready" : ", not ready") }, b.instance)) : "none"))));
    const ents = state.entrances.map((e) => h("tr", { "data-entrance": e.name },
      h("td", {}, e.name),
      h("td", {}, h("a", { href: e.url, target: "_blank", rel: "noopener" }, e.url)),
      h("td", {}, e.gateway)));
    fill(net,
      h("h2", { id: "h-net" }, "Gateways and entrances"),
      h("div.scroll", {}, h("table", { id: "gateways" },
        h("thead", {}, h("tr", {}, ["Gateway", "Listen", "Backends"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, gws))),
      ents.length ? h("div.scroll", {}, h("table", { id: "entrances" },
        h("thead", {}, h("tr", {}, ["Entrance", "URL", "Gateway"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, ents))) : null);
  }

  function drawLogChoices() {
    const chosen = logSelect.value;
    const names = state.instances.map((i) => i.name);
    const current = Array.from(logSelect.options).map((o) => o.value);
    if (names.join() === current.slice(1).join()) return;
    fill(logSelect, h("option", { value: "" }, "choose an instance"),
      names.map((n) => h("option", { value: n }, n)));
    logSelect.value = names.includes(chosen) ? chosen : "";
  }

  function showLog(name) {
    logSelect.value = name;
    followLog();
    logPre.focus();
  }

  async function followLog() {
    if (logController) logController.abort();
    logController = null;
    logPre.textContent = "";
    const name = logSelect.value;
    if (!name) return;
    logController = new AbortController();
    const url = "/api/v1" + base + "/instances/" + encodeURIComponent(name) +
      "/logs?tail=200&follow=1&stream=" + streamSelect.value;
    try {
      const resp = await fetch(url, { headers: headers(), signal: logController.signal });
      if (!resp.ok) throw new Error((await resp.json()).detail);
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const atEnd = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
        logPre.append(value);
        // A log longer than this is shown from its last part.
        if (logPre.textContent.length > 200000) logPre.textContent = logPre.textContent.slice(-100000);
        if (atEnd) logPre.scrollTop = logPre.scrollHeight;
      }
    } catch (e) {
      if (e.name !== "AbortError") say("Log of " + name + ": " + e.message);
    }
  }

  function showEvent(ev) {
    const li = h("li", { "data-reason": ev.reason, "data-object": ev.object || "" },
      h("time", { datetime: ev.time }, ev.time.slice(11, 19)),
      h("strong", {}, ev.reason), " ", ev.object ? ev.object + ": " : "", ev.message);
    eventsList.prepend(li);
    while (eventsList.children.length > 300) eventsList.lastChild.remove();
  }

  // The event stream, read with fetch (EventSource cannot send the token header); it
  // resumes after the last event seen when the connection drops.
  async function stream() {
    let last = 0;
    try {
      const page = await api(base + "/events?limit=0");
      last = Math.max(0, page.lastId - 50);
    } catch (e) {
      // The stream below says why.
    }
    while (!closed) {
      try {
        const resp = await fetch("/api/v1" + base + "/events?since=" + last, {
          headers: headers({ Accept: "text/event-stream", "Last-Event-ID": String(last) }),
          signal: controller.signal,
        });
        if (!resp.ok) throw new Error((await resp.json()).detail);
        live.textContent = "live";
        live.classList.add("on");
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let id = null;
            let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) id = Number(line.slice(4));
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (id !== null && data) {
              last = id;
              showEvent(JSON.parse(data));
              redrawSoon();
            }
          }
        }
      } catch (e) {
        if (closed) return;
        say("Event stream of " + id + ": " + e.message);
      }
      live.textContent = "reconnecting";
      live.classList.remove("on");
      await new Promise((r) => setTimeout(r, 1000));
      load();
    }
  }

  load();
  stream();
  // Ages move on by themselves.
  ticker = setInterval(() => { if (state.cluster) draw(); }, 10000);
  return {
    close() {
      closed = true;
      controller.abort();
      if (logController) logController.abort();
      clearInterval(ticker);
      clearTimeout(redrawTimer);
      clearTimeout(settleTimer);
    },
  };
}

window.addEventListener("hashchange", route);
// A page left for another keeps no stream open: a browser allows six connections to one
// host, and a kept page (back-forward cache) would hold its streams' for good.
window.addEventListener("pagehide", () => {
  if (view) view.close();
  view = null;
});
window.addEventListener("pageshow", (e) => {
  if (e.persisted) route();
});
route();
