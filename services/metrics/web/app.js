// cordbank dashboard: polls the metrics service's JSON API every 2 s and
// redraws tables and small SVG charts. Plain DOM, no library, no network
// but this origin. Names come from the instances (off the wire): they only
// ever go into textContent and attributes, never into HTML.
"use strict";
(function () {
  var POLL_MS = 2000, WINDOW_S = 300;
  var SVGNS = "http://www.w3.org/2000/svg";
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmtRate(v) { return !isNum(v) ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1); }
  function fmtPct(v) { return !isNum(v) ? "–" : (v * 100).toFixed(v < 0.01 && v > 0 ? 3 : 1) + "%"; }
  function fmtMs(v) { return !isNum(v) ? "–" : v * 1000 < 10 ? (v * 1000).toFixed(2) + " ms" : (v * 1000).toFixed(0) + " ms"; }
  function fmtAge(v) { return !isNum(v) ? "–" : v < 60 ? v.toFixed(1) + " s ago" : Math.round(v / 60) + " min ago"; }
  function cell(field, value, text) {
    var td = el("td", { "data-field": field, "data-value": isNum(value) ? String(value) : "" }, text);
    return td;
  }
  function replaceRows(tbody, rows) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    rows.forEach(function (r) { tbody.appendChild(r); });
  }
  function replaceList(ul, items, empty) {
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    if (!items.length) ul.appendChild(el("li", { "class": "none" }, empty));
    items.forEach(function (i) { ul.appendChild(i); });
  }

  function renderServices(services) {
    replaceRows($("services").tBodies[0], services.map(function (s) {
      var w = s.last_10s || {}, m = s.last_1m || {};
      var tr = el("tr", { "data-service": s.service, "data-up": String(s.up) });
      tr.appendChild(el("th", { scope: "row" }, s.service));
      var state = cell("instances_up", s.instances_up, s.instances_up + " / " + s.instances_total);
      state.className = s.up ? "up" : "down";
      tr.appendChild(state);
      tr.appendChild(cell("rate", w.rate, fmtRate(w.rate)));
      tr.appendChild(cell("error_ratio", w.error_ratio, fmtPct(w.error_ratio)));
      tr.appendChild(cell("p50", w.p50_seconds, fmtMs(w.p50_seconds)));
      tr.appendChild(cell("p99", w.p99_seconds, fmtMs(w.p99_seconds)));
      tr.appendChild(cell("requests_1m", m.requests, isNum(m.requests) ? String(Math.round(m.requests)) : "–"));
      return tr;
    }));
  }

  function renderInstances(services) {
    var rows = [];
    services.forEach(function (s) {
      s.instances.forEach(function (i) {
        var tr = el("tr", { "data-instance": i.instance, "data-service": s.service, "data-up": String(i.up) });
        tr.appendChild(el("th", { scope: "row" }, i.instance));
        tr.appendChild(el("td", {}, s.service));
        var st = el("td", { "data-field": "state", "class": i.up ? "up" : "down" },
                    i.up ? (i.ready === false ? "up, not ready" : "up") : "DOWN");
        tr.appendChild(st);
        tr.appendChild(cell("age", i.last_snapshot_age_seconds, fmtAge(i.last_snapshot_age_seconds)));
        tr.appendChild(cell("rate", i.last_10s.rate, fmtRate(i.last_10s.rate)));
        tr.appendChild(cell("p99", i.last_10s.p99_seconds, fmtMs(i.last_10s.p99_seconds)));
        rows.push(tr);
      });
    });
    replaceRows($("instances").tBodies[0], rows);
  }

  function renderAlerts(alerts) {
    var items = alerts.map(function (a) {
      var li = el("li", { "class": a.state + " " + a.severity, "data-alertname": a.alertname, "data-state": a.state });
      li.appendChild(el("span", { "class": "name" }, a.alertname));
      li.appendChild(document.createTextNode(" — " + a.severity + ", " + a.state +
        (a.state === "pending" ? " (waiting for its hold time)" : "") + ": " + a.summary));
      return li;
    });
    var firing = alerts.filter(function (a) { return a.state === "firing"; }).length;
    $("alerts-h").textContent = firing ? "Alerts — " + firing + " firing" : "Alerts";
    replaceList($("alerts"), items, "No alert firing.");
  }

  function renderCache(cache) {
    var r = cache.hit_ratio_1m;
    var big = $("cache-ratio");
    big.textContent = fmtPct(r);
    big.setAttribute("data-value", isNum(r) ? String(r) : "");
    var per = cache.instances.map(function (i) { return i.instance + " " + fmtPct(i.hit_ratio); });
    $("cache-detail").textContent = "over the last minute, all cache instances" +
      (per.length ? " (now: " + per.join(", ") + ")" : "");
  }

  function renderLedger(ledger) {
    var labels = { ok: "OK", violated: "VIOLATED", stale: "Stale", not_checked_yet: "Not checked yet", unknown: "Unknown" };
    var big = $("ledger-status");
    big.textContent = labels[ledger.status] || ledger.status;
    big.className = "big " + (ledger.status === "ok" ? "up" : ledger.status === "violated" ? "down" : "");
    big.setAttribute("data-value", ledger.status);
    var parts = ledger.instances.map(function (i) {
      var v = Object.keys(i.violations).map(function (k) { return k + " " + i.violations[k]; }).join(", ");
      return i.instance + ": " + v + (isNum(i.age_seconds) ? ", checked " + fmtAge(i.age_seconds) : "");
    });
    $("ledger-detail").textContent = parts.length ? parts.join("; ") : "no balance instance reports checks";
  }

  function renderBreakers(breakers, deps) {
    replaceList($("breakers"), breakers.map(function (b) {
      return el("li", { "data-state": b.state, "class": b.state === "closed" ? "up" : "down" },
                b.instance + " → " + b.target + ": " + b.state.replace("_", "-"));
    }), "No breaker reported.");
    replaceList($("deps"), deps.map(function (d) {
      return el("li", { "class": d.up ? "up" : "down" },
                (d.name === "postgres" ? "PostgreSQL" : "Redis") + " from " + d.instance + ": " + (d.up ? "up" : "DOWN"));
    }), "No dependency reported.");
  }

  // One small line chart: lines = [{values, cls}], drawn in a 300x56 box.
  function drawChart(svg, lines) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var max = 0, n = 0;
    lines.forEach(function (l) {
      n = Math.max(n, l.values.length);
      l.values.forEach(function (v) { if (isNum(v) && v > max) max = v; });
    });
    if (max <= 0) max = 1;
    lines.forEach(function (l) {
      var d = "", pen = false;
      l.values.forEach(function (v, i) {
        if (!isNum(v)) { pen = false; return; }
        var x = n > 1 ? (i * 300) / (n - 1) : 0, y = 54 - (v / max) * 50;
        d += (pen ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
        pen = true;
      });
      if (d) {
        var p = document.createElementNS(SVGNS, "path");
        p.setAttribute("d", d);
        p.setAttribute("class", l.cls);
        svg.appendChild(p);
      }
    });
    return max;
  }

  function last(values) {
    for (var i = values.length - 1; i >= 0; i--) if (isNum(values[i])) return values[i];
    return null;
  }
  function peak(values) {
    return values.reduce(function (m, v) { return isNum(v) && v > m ? v : m; }, 0);
  }
  function msArray(values) { return values.map(function (v) { return isNum(v) ? v * 1000 : v; }); }

  var cards = {};
  function chartCard(service) {
    if (cards[service]) return cards[service];
    var card = el("article", { "class": "card", "data-service": service });
    var h = el("h3", {}, service);
    card.appendChild(h);
    var c = { card: card };
    ["rate", "errors", "latency"].forEach(function (kind) {
      var fig = el("figure");
      var cap = el("figcaption");
      var title = el("span"), now = el("span");
      cap.appendChild(title); cap.appendChild(now);
      var svg = document.createElementNS(SVGNS, "svg");
      var id = "chart-" + Object.keys(cards).length + "-" + kind;
      svg.setAttribute("class", "chart");
      svg.setAttribute("viewBox", "0 0 300 56");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-labelledby", id);
      var t = document.createElementNS(SVGNS, "title");
      t.setAttribute("id", id);
      svg.appendChild(t);
      fig.appendChild(cap); fig.appendChild(svg);
      card.appendChild(fig);
      c[kind] = { title: title, now: now, svg: svg, alt: t };
    });
    cards[service] = c;
    return c;
  }

  function setChart(c, caption, nowText, lines, alt) {
    c.title.textContent = caption;
    c.now.textContent = nowText;
    drawChart(c.svg, lines);
    var t = c.alt;
    c.svg.insertBefore(t, c.svg.firstChild);
    t.textContent = alt;
  }

  function renderCharts(series) {
    var box = $("charts");
    var names = Object.keys(series.services).sort();
    names.forEach(function (name) {
      var s = series.services[name], c = chartCard(name);
      if (c.card.parentNode !== box) box.appendChild(c.card);
      var mins = Math.round(series.window_seconds / 60) + " minutes";
      var r = last(s.rate), e = last(s.error_ratio), p50 = last(s.p50_seconds), p99 = last(s.p99_seconds);
      setChart(c.rate, "Requests/s", "now " + fmtRate(r) + ", peak " + fmtRate(peak(s.rate)),
               [{ values: s.rate, cls: "s1" }],
               name + " requests per second over the last " + mins + ": now " + fmtRate(r) + ", peak " + fmtRate(peak(s.rate)) + ".");
      setChart(c.errors, "Error ratio", "now " + fmtPct(e) + ", peak " + fmtPct(peak(s.error_ratio)),
               [{ values: s.error_ratio, cls: "s1" }],
               name + " error ratio over the last " + mins + ": now " + fmtPct(e) + ", peak " + fmtPct(peak(s.error_ratio)) + ".");
      var lat = c.latency;
      lat.title.textContent = "";
      setChart(lat, "", "", [{ values: msArray(s.p50_seconds), cls: "s1" }, { values: msArray(s.p99_seconds), cls: "s2" }],
               name + " latency over the last " + mins + ": P50 now " + fmtMs(p50) + ", P99 now " + fmtMs(p99) + ", P99 peak " + fmtMs(peak(s.p99_seconds)) + ".");
      lat.title.textContent = "";
      lat.title.appendChild(el("span", { "class": "key1" }, "P50"));
      lat.title.appendChild(document.createTextNode(" / "));
      lat.title.appendChild(el("span", { "class": "key2" }, "P99 (dashed)"));
      lat.now.textContent = fmtMs(p50) + " / " + fmtMs(p99);
    });
  }

  function render(summary, series) {
    renderAlerts(summary.alerts);
    renderServices(summary.services);
    renderInstances(summary.services);
    renderCache(summary.cache);
    renderLedger(summary.ledger);
    renderBreakers(summary.breakers, summary.dependencies);
    if (series) renderCharts(series);
    var down = 0;
    summary.services.forEach(function (s) { s.instances.forEach(function (i) { down += i.up ? 0 : 1; }); });
    $("status").textContent = "Updated " + new Date(summary.generated_unix_ms).toLocaleTimeString() +
      (down ? " — " + down + " instance(s) down" : " — all instances up");
    document.body.setAttribute("data-updated", String(summary.generated_unix_ms));
  }

  function getJSON(url) {
    return fetch(url, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  // The page stays hidden until the first answer has filled it, so that
  // nothing on screen moves when the data arrives.
  function reveal() {
    $("main").hidden = false;
    $("footer").hidden = false;
  }

  function poll() {
    Promise.all([getJSON("/api/v1/summary"), getJSON("/api/v1/series?window=" + WINDOW_S)])
      .then(function (docs) { render(docs[0], docs[1]); })
      .catch(function (err) { $("status").textContent = "Cannot reach the metrics service (" + err.message + "); retrying."; })
      .then(function () { reveal(); setTimeout(poll, POLL_MS); });
  }
  poll();
})();
