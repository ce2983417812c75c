// The fleet page: renders the tracker's /v1/fleet snapshot and follows
// /v1/fleet/events (server-sent events), falling back to polling.
// Everything is built with DOM calls and textContent: host and channel
// names never reach the page as markup.
"use strict";
(function () {
  const key = new URLSearchParams(location.search).get("key");
  const q = key ? "?key=" + encodeURIComponent(key) : "";
  const main = document.getElementById("channels");
  const status = document.getElementById("status");
  const updated = document.getElementById("updated");
  document.getElementById("json-link").href = "/v1/fleet" + q;
  const history = new Map(); // channel -> [{t, down, up}], the throughput seen by this page
  const HISTORY = 600; // samples kept, about ten minutes
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function bytes(n) {
    const u = ["B", "kB", "MB", "GB", "TB", "PB"];
    let i = 0;
    while (Math.abs(n) >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n.toFixed(0) : n.toPrecision(3)) + " " + u[i];
  }
  function rate(n) { return bytes(n) + "/s"; }
  function secs(s) {
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
    return (s / 3600).toFixed(1) + " h";
  }
  function ago(t, now) { return secs(Math.max(0, (now - Date.parse(t)) / 1000)) + " ago"; }
  function stat(label, value, k) {
    return el("div", { class: "stat" }, el("span", { class: "label" }, label), el("span", { class: "value", "data-k": k }, value));
  }

  // The completion curves of the newest releases (up to three): hosts
  // done against seconds since each release's publish.
  function curveChart(ch, now) {
    const rels = ch.releases.slice(0, 3);
    const box = el("div", { class: "chart curve-chart" }, el("h3", {}, "Completion (hosts done, seconds after publish)"));
    const W = 600, H = 150, L = 34, B = 18, T = 6, R = 8;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "completion curve" });
    let xmax = 1, ymax = Math.max(1, ch.subscribers);
    for (const r of rels) {
      const age = Math.max(0, (now - Date.parse(r.published_at)) / 1000);
      const end = r.last_after || (r.missing_count > 0 ? age : (r.curve.length ? r.curve[r.curve.length - 1].t : 0));
      xmax = Math.max(xmax, end);
      ymax = Math.max(ymax, r.done);
    }
    const x = (t) => L + (W - L - R) * Math.min(t, xmax) / xmax;
    const y = (n) => H - B - (H - B - T) * n / ymax;
    s.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    s.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    const lab = (tx, ty, text, anchor) => { const e = svg("text", { x: tx, y: ty, "text-anchor": anchor || "start" }); e.textContent = text; s.append(e); };
    lab(L - 4, H - B, "0", "end"); lab(L - 4, T + 8, String(ymax), "end");
    lab(L, H - 4, "0 s"); lab(W - R, H - 4, secs(xmax), "end");
    const legend = el("div", { class: "legend" });
    rels.forEach((r, i) => {
      const age = Math.max(0, (now - Date.parse(r.published_at)) / 1000);
      let d = `M${x(0)},${y(0)}`, n = 0;
      for (const p of r.curve) { d += ` H${x(p.t)} V${y(p.done)}`; n = p.done; }
      if (r.missing_count > 0) d += ` H${x(age)}`;
      s.append(svg("path", { class: "curve s" + i, d: d, "data-seq": r.seq }));
      legend.append(el("span", { class: "k" + i }, `#${r.seq}: ${n}/${ch.subscribers}`));
    });
    box.append(s, legend);
    return box;
  }

  // The aggregate download rate this page has seen for the channel, over
  // the time it has been open (at least a minute wide).
  function throughputChart(ch) {
    const h = history.get(ch.channel) || [];
    const box = el("div", { class: "chart throughput-chart" }, el("h3", {}, "Aggregate throughput (down)"));
    const W = 300, H = 150, B = 18, T = 18;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "throughput" });
    const peak = Math.max(0, ...h.map((p) => p.down));
    const ymax = Math.max(peak, 1);
    const t0 = h.length ? h[0].t : 0;
    const span = h.length ? (h[h.length - 1].t - t0) / 1000 : 0;
    const width = Math.max(span, 60);
    s.append(svg("line", { class: "axis", x1: 0, y1: H - B, x2: W, y2: H - B }));
    if (h.length > 1) {
      const pts = h.map((p) => `${(W * (p.t - t0) / 1000 / width).toFixed(1)},${(H - B - (H - B - T) * p.down / ymax).toFixed(1)}`);
      s.append(svg("polyline", { class: "curve s0", points: pts.join(" ") }));
    }
    const t = svg("text", { x: 2, y: 11 });
    t.textContent = peak > 0 ? "peak " + rate(peak) + ", now " + rate(ch.down_rate) : "no transfer reported";
    s.append(t);
    const lab = svg("text", { x: W - 2, y: H - 4, "text-anchor": "end" });
    lab.textContent = "last " + secs(span);
    s.append(lab);
    box.append(s);
    return box;
  }

  function releaseRow(r, ch, now) {
    const of = ch.subscribers;
    const pct = of > 0 ? 100 * r.done / of : 0;
    const fill = el("div", {}); fill.style.width = pct.toFixed(1) + "%";
    const done = el("td", { class: "done", "data-done": r.done, "data-of": of }, el("div", { class: "bar" }, fill), el("span", {}, `${r.done} / ${of}`));
    if (r.fetching > 0) done.append(el("span", { class: "fetching" }, ` (${r.fetching} fetching)`));
    if (r.zones && r.zones.length) {
      done.append(el("div", { class: "zones" }, ...r.zones.map((z) =>
        el("span", { class: "zone" + (z.done === z.of ? " complete" : ""), "data-zone": z.zone }, `${z.zone} ${z.done}/${z.of}`))));
    }
    let missing;
    if (r.missing_count === 0) {
      missing = el("td", { class: "missing none", "data-count": 0 }, of > 0 ? "none" : "no hosts");
    } else {
      const more = r.missing_count - r.missing.length;
      missing = el("td", { class: "missing", "data-count": r.missing_count }, r.missing.join(", ") + (more > 0 ? ` and ${more} more` : ""));
    }
    const tr = el("tr", { "data-seq": r.seq },
      el("td", { class: "seq" }, "#" + r.seq),
      el("td", { class: "name", title: r.info_hash }, r.name),
      el("td", { class: "size" }, bytes(r.size)),
      el("td", { class: "published", title: r.published_at }, ago(r.published_at, now)),
      done,
      el("td", { class: "tlast" }, r.last_after ? secs(r.last_after) : "\u2013"),
      el("td", { class: "egress", "data-copies": r.egress_copies.toFixed(3) }, r.egress_copies.toFixed(2) + " copies"),
      missing);
    if (of > 0 && r.missing_count === 0) tr.classList.add("complete");
    return tr;
  }

  function hostTable(ch) {
    const rows = ch.hosts.map((h) => el("tr", { "data-host": h.host },
      el("td", {}, h.host, ...(h.origin ? [el("span", { class: "origin-tag" }, "origin")] : [])),
      el("td", {}, h.zone || ""),
      el("td", {}, h.current ? "#" + h.current : "\u2013"),
      el("td", {}, h.fetching ? `#${h.fetching} ${(100 * (h.progress || 0)).toFixed(0)}%` : ""),
      el("td", {}, rate(h.down_rate)),
      el("td", {}, rate(h.up_rate)),
      el("td", {}, secs(h.age) + " ago")));
    const more = ch.host_count - ch.hosts.length;
    return el("details", { class: "hosts" },
      el("summary", {}, `Hosts (${ch.host_count})` + (more > 0 ? `, first ${ch.hosts.length} shown` : "")),
      el("table", {}, el("thead", {}, el("tr", {}, ...["host", "zone", "current", "fetching", "down", "up", "seen"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)));
  }

  function channelCard(ch, now, open) {
    const latest = ch.releases[0];
    const sec = el("section", { class: "channel", "data-channel": ch.channel },
      el("h2", {}, ch.channel),
      el("div", { class: "stats" },
        stat("hosts subscribed", ch.subscribers, "subscribers"),
        stat("latest release", latest ? `#${latest.seq}` : "none yet", "latest"),
        stat("latest done", latest ? `${latest.done} / ${ch.subscribers}` : "\u2013", "latest-done"),
        stat("throughput down", rate(ch.down_rate), "down"),
        stat("throughput up", rate(ch.up_rate), "up"),
        stat("origin egress (latest)", latest ? latest.egress_copies.toFixed(2) + " copies" : "\u2013", "egress"),
        stat("origin", ch.origins.length ? ch.origins.join(", ") : "not reporting", "origins")));
    if (ch.releases.length) {
      sec.append(el("div", { class: "charts" }, curveChart(ch, now), throughputChart(ch)));
      sec.append(el("table", { class: "releases" },
        el("thead", {}, el("tr", {}, ...["release", "name", "size", "published", "hosts done", "last done after", "origin egress", "still missing"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...ch.releases.map((r) => releaseRow(r, ch, now)))));
    } else {
      sec.append(el("p", { class: "empty" }, "Nothing published on this channel yet; hosts are waiting for its first release."));
    }
    const hosts = hostTable(ch);
    hosts.open = open;
    sec.append(hosts);
    return sec;
  }

  let lastNow = 0;
  function render(snap) {
    const now = Date.parse(snap.now);
    if (now < lastNow) return; // an older snapshot arriving late
    lastNow = now;
    const open = new Set([...main.querySelectorAll("section.channel")].filter((s) => s.querySelector("details.hosts[open]")).map((s) => s.dataset.channel));
    for (const ch of snap.channels) {
      const h = history.get(ch.channel) || [];
      h.push({ t: now, down: ch.down_rate, up: ch.up_rate });
      while (h.length > HISTORY) h.shift();
      history.set(ch.channel, h);
    }
    const cards = snap.channels.map((ch) => channelCard(ch, now, open.has(ch.channel)));
    if (!cards.length) cards.push(el("p", { class: "empty" }, "No channels yet: publish a release (shoal publish) or start an agent subscribed to one."));
    main.replaceChildren(...cards);
    updated.textContent = "updated " + new Date(now).toLocaleTimeString();
    document.body.dataset.updated = snap.now;
  }

  function setStatus(state, text) { status.dataset.state = state; status.textContent = text; }

  // poll fetches one snapshot; label is the status shown once it came.
  function poll(label) {
    fetch("/v1/fleet" + q, { cache: "no-store" })
      .then((r) => r.ok ? r.json() : r.json().then((e) => Promise.reject(new Error(e.error || r.statusText))))
      .then((s) => {
        render(s);
        if (label && (label !== "loaded" || status.dataset.state === "connecting")) setStatus("live", label);
      })
      .catch((e) => setStatus("down", "tracker unreachable: " + e.message));
  }

  // Follow the event stream; if the browser has none, or the tracker
  // refuses the stream (too many viewers, shutting down), poll instead.
  let polling = null;
  function startPolling() {
    if (!polling) polling = setInterval(() => poll("polling every 2 s"), 2000);
  }
  poll("loaded");
  if (typeof EventSource === "function") {
    const es = new EventSource("/v1/fleet/events" + q);
    es.addEventListener("fleet", (e) => { render(JSON.parse(e.data)); setStatus("live", "live"); });
    es.addEventListener("problem", (e) => setStatus("down", JSON.parse(e.data)));
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) { startPolling(); return; }
      setStatus("down", "reconnecting");
    };
  } else {
    startPolling();
  }
})();
