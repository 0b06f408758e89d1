// golocust web UI: polls the JSON endpoints and draws the tables and SVG
// charts. Plain JavaScript, no library, no network access beyond this server.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
  var $ = function (id) { return document.getElementById(id); };

  var state = { last: null, sortKey: null, sortDir: 1, tab: "stats", gen: -1, hist: { names: [], points: [] },
    picked: {}, pickedAuto: true, interval: 1000 };

  function fmt(v, d) {
    if (v === null || v === undefined || isNaN(v)) return "";
    return Number(v).toFixed(d === undefined ? 0 : d);
  }
  function msFmt(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }

  function post(path, params) {
    return fetch(path, { method: "POST", body: new URLSearchParams(params) }).then(function (r) {
      return r.json().catch(function () { return { success: r.ok }; });
    });
  }

  // ---------- start / edit forms ----------
  function showStart(show) {
    $("start").hidden = !show;
    $("start-error").hidden = true;
    if (show) $("f-users").focus();
  }
  function formParams(form) {
    var p = {};
    new FormData(form).forEach(function (v, k) { p[k] = v; });
    return p;
  }
  $("start-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    $("start-btn").disabled = true;
    post("swarm", formParams($("start-form"))).then(function (res) {
      $("start-btn").disabled = false;
      if (!res.success) { $("start-error").textContent = res.message || "could not start"; $("start-error").hidden = false; return; }
      state.gen = -1; state.hist = { names: [], points: [] };
      showStart(false);
      poll();
    }).catch(function (e) { $("start-btn").disabled = false; $("start-error").textContent = String(e); $("start-error").hidden = false; });
  });
  $("start-cancel").addEventListener("click", function () { showStart(false); });
  function loadForm() {
    return fetch("config").then(function (r) { return r.json(); }).then(function (c) {
      $("f-users").value = c.form.user_count; $("f-rate").value = c.form.spawn_rate;
      $("f-host").value = c.form.host || ""; $("f-runtime").value = c.form.run_time || "";
      $("e-rate").value = c.form.spawn_rate;
      state.interval = Math.max(250, Math.min(c.interval_ms || 1000, 2000));
    });
  }
  $("new-btn").addEventListener("click", function () {
    loadForm().then(function () { $("start-cancel").hidden = false; showStart(true); });
  });
  $("edit-btn").addEventListener("click", function () {
    $("e-users").value = state.last ? state.last.user_count : 1;
    $("edit").hidden = false; $("edit-error").hidden = true; $("e-users").focus();
  });
  $("edit-cancel").addEventListener("click", function () { $("edit").hidden = true; });
  $("edit-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    post("swarm", formParams($("edit-form"))).then(function (res) {
      if (!res.success) { $("edit-error").textContent = res.message || "could not change"; $("edit-error").hidden = false; return; }
      $("edit").hidden = true; poll();
    });
  });
  $("stop-btn").addEventListener("click", function () { post("stop", {}).then(poll); });
  $("reset-btn").addEventListener("click", function () { post("stats/reset", {}).then(poll); });

  // ---------- tabs ----------
  Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
    b.addEventListener("click", function () {
      state.tab = b.getAttribute("data-tab");
      Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (o) { o.classList.toggle("active", o === b); });
      Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (t) { t.hidden = t.id !== "tab-" + state.tab; });
      if (state.tab === "charts") drawCharts();
    });
  });

  // ---------- statistics table ----------
  Array.prototype.forEach.call(document.querySelectorAll("#stats-table th[data-key]"), function (th) {
    th.addEventListener("click", function () {
      var k = th.getAttribute("data-key");
      state.sortDir = state.sortKey === k ? -state.sortDir : (th.classList.contains("num") ? -1 : 1);
      state.sortKey = k;
      Array.prototype.forEach.call(document.querySelectorAll("#stats-table th"), function (o) {
        o.classList.remove("sorted-asc", "sorted-desc");
      });
      th.classList.add(state.sortDir > 0 ? "sorted-asc" : "sorted-desc");
      if (state.last) renderStats(state.last);
    });
  });

  var COLS = [["method", "s"], ["name", "s"], ["num_requests", 0], ["num_failures", 0], ["median_response_time", "ms"],
    ["ninetieth_response_time", "ms"], ["ninety_ninth_response_time", "ms"], ["avg_response_time", "ms"], ["min_response_time", "ms"],
    ["max_response_time", "ms"], ["avg_content_length", 0], ["current_rps", 1], ["current_fail_per_sec", 1]];

  function rowEl(r, tag) {
    var tr = document.createElement("tr");
    COLS.forEach(function (c) {
      var td = document.createElement(tag || "td");
      var v = r[c[0]];
      if (c[1] === "s") td.textContent = v === null ? "" : v;
      else { td.className = "num"; td.textContent = c[1] === "ms" ? (r.num_requests ? msFmt(v) : "") : fmt(v, c[1]); }
      tr.appendChild(td);
    });
    return tr;
  }

  function renderStats(d) {
    var rows = d.stats.slice(0, -1), agg = d.stats[d.stats.length - 1];
    if (state.sortKey) {
      var k = state.sortKey, dir = state.sortDir;
      rows.sort(function (a, b) {
        var x = a[k], y = b[k];
        if (typeof x === "string" || typeof y === "string") return dir * String(x).localeCompare(String(y));
        return dir * (x - y);
      });
    }
    var body = document.querySelector("#stats-table tbody"), foot = document.querySelector("#stats-table tfoot");
    body.textContent = ""; foot.textContent = "";
    rows.forEach(function (r) { body.appendChild(rowEl(r)); });
    if (agg) foot.appendChild(rowEl(agg));
  }

  function renderFailures(d) {
    var body = document.querySelector("#failures-table tbody");
    body.textContent = "";
    d.errors.slice().sort(function (a, b) { return b.occurrences - a.occurrences; }).forEach(function (e) {
      var tr = document.createElement("tr");
      [[e.occurrences, "num"], [e.method], [e.name], [e.error]].forEach(function (c) {
        var td = document.createElement("td"); td.textContent = c[0]; if (c[1]) td.className = c[1]; tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    $("fail-count").textContent = d.errors.length ? String(d.errors.length) : "";
  }

  function renderExceptions() {
    return fetch("exceptions").then(function (r) { return r.json(); }).then(function (d) {
      var body = document.querySelector("#exceptions-table tbody");
      body.textContent = "";
      d.exceptions.forEach(function (x) {
        var tr = document.createElement("tr");
        var c = document.createElement("td"); c.className = "num"; c.textContent = x.count; tr.appendChild(c);
        var m = document.createElement("td"); m.textContent = x.msg; tr.appendChild(m);
        var t = document.createElement("td"); var pre = document.createElement("pre"); pre.textContent = x.traceback; t.appendChild(pre); tr.appendChild(t);
        var n = document.createElement("td"); n.textContent = x.nodes; tr.appendChild(n);
        body.appendChild(tr);
      });
      $("exc-count").textContent = d.exceptions.length ? String(d.exceptions.length) : "";
    });
  }

  function renderWorkers(d) {
    var ws = d.workers;
    $("workers-tab").hidden = !ws;
    if (!ws) return;
    $("worker-count").textContent = "(" + ws.length + ")";
    var body = document.querySelector("#workers-table tbody");
    body.textContent = "";
    ws.forEach(function (w) {
      var tr = document.createElement("tr");
      [[w.id], [w.state], [w.user_count, "num"], [fmt(w.cpu_usage, 1) + "%", "num"], [fmt(w.last_heartbeat, 1), "num"]].forEach(function (c) {
        var td = document.createElement("td"); td.textContent = c[0]; if (c[1]) td.className = c[1]; tr.appendChild(td);
      });
      if (w.state === "missing") tr.className = "missing";
      body.appendChild(tr);
    });
  }

  function renderHeader(d) {
    $("state").textContent = d.state;
    $("users").textContent = d.user_count;
    $("rps").textContent = fmt(d.total_rps, 1);
    $("failratio").textContent = fmt(d.fail_ratio * 100, 1) + "%";
    $("host").textContent = d.host || "";
    $("cutshort").textContent = d.cut_short || 0;
    $("cutshort-fact").hidden = !(d.cut_short > 0);
    var live = d.state === "spawning" || d.state === "running" || d.state === "stopping";
    $("stop-btn").hidden = !live;
    $("edit-btn").hidden = !live;
    $("new-btn").hidden = live || d.state === "ready";
    var n = $("notice");
    if (d.stop_reason && d.state === "stopped" && d.stop_reason.indexOf("aborted") === 0) { n.textContent = "Test " + d.stop_reason; n.hidden = false; }
    else n.hidden = true;
  }

  // ---------- charts ----------
  function svg(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function niceStep(max, n) {
    var raw = max / n, p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10)), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
  }
  function axisNum(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
    if (v >= 1e4) return (v / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    return String(Math.round(v * 1000) / 1000);
  }
  function timeLabel(ms) { var d = new Date(ms); return d.toTimeString().substr(0, 8); }

  // lineChart draws series [{name, color, values, fill, step}] over times t (epoch ms).
  function lineChart(fig, t, series, valueFmt) {
    var plot = fig.querySelector(".plot");
    plot.textContent = "";
    var old = fig.querySelector(".legend"); if (old) old.parentNode.removeChild(old);
    if (t.length < 1 || !series.length) {
      var nd = document.createElement("div"); nd.className = "nodata";
      nd.textContent = series.length ? "Waiting for the first second of data..." : "No request entry picked.";
      plot.appendChild(nd); return;
    }
    var W = Math.max(plot.clientWidth || 600, 240), H = 220, L = 52, R = 14, T = 10, B = 24;
    var max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v > max) max = v; }); });
    if (!(max > 0)) max = 1;
    var step = niceStep(max, 4), top = Math.ceil(max / step - 1e-9) * step;
    var t0 = t[0], t1 = t[t.length - 1];
    if (t1 === t0) { t0 -= 1000; t1 += 1000; }
    var x = function (v) { return L + (v - t0) / (t1 - t0) * (W - L - R); };
    var y = function (v) { return T + (1 - v / top) * (H - T - B); };
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": fig.querySelector("figcaption").textContent }, plot);
    for (var g = 0; g <= top + 1e-9; g += step) {
      svg("line", { x1: L, x2: W - R, y1: y(g), y2: y(g), stroke: "#e5e7eb" }, root);
      svg("text", { x: L - 6, y: y(g) + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7280" }, root).textContent = axisNum(g);
    }
    var ticks = Math.min(6, Math.max(2, Math.floor((W - L - R) / 110)), Math.max(1, Math.floor((t1 - t0) / 1000)));
    for (var i = 0; i <= ticks; i++) {
      var tv = t0 + (t1 - t0) * i / ticks;
      svg("text", { x: x(tv), y: H - 6, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle", "font-size": 11, fill: "#6b7280" }, root).textContent = timeLabel(tv);
    }
    series.forEach(function (s) {
      var runs = [], cur = [];
      s.values.forEach(function (v, k) {
        if (v === null || v === undefined) { if (cur.length) runs.push(cur); cur = []; return; }
        if (s.step && cur.length) cur.push([x(t[k]), cur[cur.length - 1][1]]);
        cur.push([x(t[k]), y(v)]);
      });
      if (cur.length) runs.push(cur);
      runs.forEach(function (pts) {
        var d = pts.map(function (p, k) { return (k ? "L" : "M") + p[0].toFixed(1) + "," + p[1].toFixed(1); }).join("");
        if (pts.length === 1) svg("circle", { cx: pts[0][0], cy: pts[0][1], r: 2.5, fill: s.color }, root);
        if (s.fill && pts.length > 1) {
          svg("path", { d: d + "L" + pts[pts.length - 1][0].toFixed(1) + "," + y(0) + "L" + pts[0][0].toFixed(1) + "," + y(0) + "Z", fill: s.color, "fill-opacity": 0.12, stroke: "none" }, root);
        }
        svg("path", { d: d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round", "class": "series" }, root);
      });
    });
    // hover: the values at the nearest point
    var tip = document.createElement("div"); tip.className = "tip"; tip.hidden = true; plot.appendChild(tip);
    var cursor = svg("line", { y1: T, y2: H - B, stroke: "#9ca3af", visibility: "hidden" }, root);
    var hit = svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "transparent" }, root);
    hit.addEventListener("mousemove", function (ev) {
      var box = root.getBoundingClientRect(), px = (ev.clientX - box.left) * W / box.width;
      var tv = t0 + (px - L) / (W - L - R) * (t1 - t0), k = 0;
      for (var j = 1; j < t.length; j++) if (Math.abs(t[j] - tv) < Math.abs(t[k] - tv)) k = j;
      cursor.setAttribute("x1", x(t[k])); cursor.setAttribute("x2", x(t[k])); cursor.setAttribute("visibility", "visible");
      tip.textContent = timeLabel(t[k]) + "  " + series.map(function (s) {
        var v = s.values[k]; return s.name + ": " + (v === null || v === undefined ? "-" : valueFmt(v));
      }).join("  ");
      tip.hidden = false;
      tip.style.left = Math.min(x(t[k]) * box.width / W + 8, box.width - tip.offsetWidth) + "px";
      tip.style.top = "4px";
    });
    hit.addEventListener("mouseleave", function () { tip.hidden = true; cursor.setAttribute("visibility", "hidden"); });
    var legend = document.createElement("div"); legend.className = "legend";
    series.forEach(function (s) {
      var item = document.createElement("span"), sw = document.createElement("i");
      sw.style.background = s.color; item.appendChild(sw); item.appendChild(document.createTextNode(s.name));
      legend.appendChild(item);
    });
    fig.appendChild(legend);
  }

  function entryLabel(n) { return (n.method ? n.method + " " : "") + n.name; }

  function renderPicker() {
    var names = state.hist.names, box = $("entry-picker");
    if (box.childNodes.length === names.length) return;
    box.textContent = "";
    names.forEach(function (n, i) {
      var key = entryLabel(n);
      if (state.pickedAuto && !(key in state.picked)) state.picked[key] = i < 6;
      var lab = document.createElement("label"), cb = document.createElement("input");
      cb.type = "checkbox"; cb.checked = !!state.picked[key]; cb.setAttribute("data-entry", key);
      cb.addEventListener("change", function () { state.picked[key] = cb.checked; state.pickedAuto = false; drawCharts(); });
      lab.appendChild(cb); lab.appendChild(document.createTextNode(" " + key));
      box.appendChild(lab);
    });
  }

  function drawCharts() {
    if (state.tab !== "charts") return;
    var pts = state.hist.points, t = pts.map(function (p) { return p.t; });
    var col = function (k) { return pts.map(function (p) { return p[k]; }); };
    lineChart($("chart-rps"), t, [
      { name: "Requests/s", color: "#16a34a", values: col("rps"), fill: true },
      { name: "Failures/s", color: "#dc2626", values: col("fps"), fill: true }], function (v) { return v.toFixed(2); });
    lineChart($("chart-rt"), t, [
      { name: "Median (p50)", color: "#2563eb", values: col("p50") },
      { name: "95th percentile", color: "#ea580c", values: col("p95") }], function (v) { return msFmt(v) + " ms"; });
    lineChart($("chart-users"), t, [{ name: "Users", color: "#7c3aed", values: col("users"), fill: true, step: true }],
      function (v) { return v.toFixed(0); });
    renderPicker();
    var series = [];
    state.hist.names.forEach(function (n, i) {
      var key = entryLabel(n);
      if (!state.picked[key]) return;
      series.push({ name: key, color: PALETTE[i % PALETTE.length], values: pts.map(function (p) {
        var v = p.avg[i]; return v === undefined || v < 0 ? null : v;
      }) });
    });
    lineChart($("chart-avg"), t, series, function (v) { return msFmt(v) + " ms"; });
  }

  function pollHistory() {
    var from = state.gen === -1 ? 0 : state.hist.points.length;
    return fetch("stats/history?gen=" + state.gen + "&from=" + from).then(function (r) { return r.json(); }).then(function (h) {
      if (h.gen !== state.gen || h.from === 0) { state.hist = { names: [], points: [] }; $("entry-picker").textContent = ""; }
      state.gen = h.gen;
      state.hist.names = h.names;
      state.hist.points = state.hist.points.concat(h.points);
      drawCharts();
    });
  }

  // ---------- polling ----------
  var timer = null, busy = false;
  function poll() {
    if (busy) return Promise.resolve();
    busy = true;
    return fetch("stats/requests").then(function (r) { return r.json(); }).then(function (d) {
      state.last = d;
      renderHeader(d); renderStats(d); renderFailures(d); renderWorkers(d);
      if (d.state === "ready" && $("start").hidden && !state.started) { state.started = true; showStart(true); }
      return Promise.all([pollHistory(), renderExceptions()]);
    }).then(function () { if (state.lost) { state.lost = false; $("notice").hidden = true; } }, function () {
      state.lost = true; // the program quit or restarts: keep the last view, say so
      $("notice").textContent = "Cannot reach the load test program (it may have quit); retrying...";
      $("notice").hidden = false;
    }).then(function () {
      busy = false;
      clearTimeout(timer); timer = setTimeout(poll, state.interval);
    });
  }

  window.addEventListener("resize", drawCharts);
  loadForm().then(poll);
})();
