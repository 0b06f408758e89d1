// Charts of the golocust HTML report: small line charts drawn as inline SVG
// from REPORT_DATA (no library, no network).
(function () {
  "use strict";
  var D = typeof REPORT_DATA === "object" && REPORT_DATA ? REPORT_DATA : {};
  var NS = "http://www.w3.org/2000/svg";

  function fixed(d) { return function (v) { return v.toFixed(d); }; }
  function msFmt(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
  function axisNum(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
    if (v >= 1e4) return (v / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    return String(Math.round(v * 1000) / 1000);
  }

  var SPECS = {
    rps: {
      series: [
        { key: "rps", name: "Requests/s", color: "#16a34a", fill: true },
        { key: "fps", name: "Failures/s", color: "#dc2626", fill: true }
      ],
      fmt: fixed(2)
    },
    rt: {
      series: [
        { key: "p50", name: "Median (p50)", color: "#2563eb" },
        { key: "p95", name: "95th percentile", color: "#ea580c" }
      ],
      fmt: msFmt, unit: " ms"
    },
    users: {
      series: [{ key: "users", name: "Users", color: "#7c3aed", fill: true, step: true }],
      fmt: fixed(0)
    }
  };

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(e);
    return e;
  }

  function niceStep(max, n) {
    var raw = max / n;
    var p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var m = raw / p;
    var s = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
    return s * p;
  }

  function timeLabel(ms) { return new Date(ms).toISOString().substr(11, 8); }

  function draw(fig) {
    var spec = SPECS[fig.getAttribute("data-chart")];
    var plot = fig.querySelector(".plot");
    if (!spec || !plot) return;
    while (plot.firstChild) plot.removeChild(plot.firstChild);
    var old = fig.querySelector(".legend");
    if (old) old.parentNode.removeChild(old);

    var t = D.t || [];
    if (!t.length) {
      var nd = document.createElement("div");
      nd.className = "nodata";
      nd.textContent = "No samples were recorded (the test ran for less than a second).";
      plot.appendChild(nd);
      return;
    }
    var W = Math.max(plot.clientWidth || 600, 240), H = 240, L = 48, R = 12, T = 10, B = 24;
    var max = 0;
    spec.series.forEach(function (s) {
      (D[s.key] || []).forEach(function (v) { if (v !== null && v > max) max = v; });
    });
    if (!(max > 0)) max = 1;
    var step = niceStep(max, 4), top = Math.ceil(max / step - 1e-9) * step;
    var t0 = t[0], t1 = t[t.length - 1];
    if (t1 === t0) { t0 -= 1000; t1 += 1000; }
    var x = function (v) { return L + (v - t0) / (t1 - t0) * (W - L - R); };
    var y = function (v) { return T + (1 - v / top) * (H - T - B); };

    var svg = el("svg", {
      "class": "chart-svg", viewBox: "0 0 " + W + " " + H, width: W, height: H,
      role: "img", "aria-label": fig.querySelector("figcaption").textContent
    }, plot);
    var grid = el("g", { "class": "grid" }, svg);
    var axis = el("g", { "class": "axis" }, svg);
    for (var v = 0; v <= top + step / 1e6; v += step) {
      el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }, grid);
      var lab = el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, axis);
      lab.textContent = axisNum(v);
    }
    // time labels evenly spaced in time, at whole seconds, about 90 px apart
    var span = t[t.length - 1] - t[0];
    var n = span < 1000 ? 1 : Math.max(2, Math.min(Math.floor((W - L - R) / 90), Math.floor(span / 1000) + 1));
    var last = null;
    for (var i = 0; i < n; i++) {
      var tv = n === 1 ? t[0] : t[0] + span * i / (n - 1);
      tv = Math.round(tv / 1000) * 1000;
      if (tv === last) continue;
      last = tv;
      var anchor = n === 1 ? "middle" : i === 0 ? "start" : i === n - 1 ? "end" : "middle";
      var tl = el("text", { x: Math.min(Math.max(x(tv), L), W - R), y: H - 6, "text-anchor": anchor }, axis);
      tl.textContent = timeLabel(tv);
    }

    spec.series.forEach(function (s) {
      var vals = D[s.key] || [];
      // runs of points; a null value (no data) ends a run
      var runs = [], pts = [];
      for (var i = 0; i < t.length && i < vals.length; i++) {
        if (vals[i] === null) {
          if (pts.length) runs.push(pts);
          pts = [];
          continue;
        }
        if (s.step && pts.length) pts.push([x(t[i]), y(vals[i - 1])]);
        pts.push([x(t[i]), y(vals[i])]);
      }
      if (pts.length) runs.push(pts);
      var line = "";
      runs.forEach(function (pts) {
        var d = pts.map(function (p, i) { return (i ? "L" : "M") + p[0].toFixed(1) + "," + p[1].toFixed(1); }).join("");
        line += d;
        if (s.fill && pts.length > 1) {
          el("path", {
            d: d + "L" + pts[pts.length - 1][0].toFixed(1) + "," + y(0) + "L" + pts[0][0].toFixed(1) + "," + y(0) + "Z",
            fill: s.color, "fill-opacity": "0.10", stroke: "none"
          }, svg);
        }
        if (pts.length === 1) el("circle", { cx: pts[0][0], cy: pts[0][1], r: 3.5, fill: s.color }, svg);
      });
      if (line) el("path", { d: line, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round", "class": "series" }, svg);
    });

    // hover: a guide line, dots and a tooltip with the values at the nearest sample
    var guide = el("line", { y1: T, y2: H - B, stroke: "#8892a6", "stroke-dasharray": "3 3", visibility: "hidden" }, svg);
    var dots = spec.series.map(function (s) {
      return el("circle", { r: 4, fill: s.color, stroke: "#fff", "stroke-width": 1.5, visibility: "hidden" }, svg);
    });
    var tip = document.createElement("div");
    tip.className = "tip";
    plot.appendChild(tip);
    var hit = el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "transparent" }, svg);
    hit.addEventListener("mousemove", function (ev) {
      var r = svg.getBoundingClientRect();
      var mx = (ev.clientX - r.left) * (W / r.width);
      var best = 0;
      for (var i = 1; i < t.length; i++) {
        if (Math.abs(x(t[i]) - mx) < Math.abs(x(t[best]) - mx)) best = i;
      }
      var gx = x(t[best]);
      guide.setAttribute("x1", gx);
      guide.setAttribute("x2", gx);
      guide.setAttribute("visibility", "visible");
      var html = "<b>" + timeLabel(t[best]) + " UTC</b>";
      spec.series.forEach(function (s, k) {
        var val = (D[s.key] || [])[best];
        if (val === undefined || val === null) {
          dots[k].setAttribute("visibility", "hidden");
          html += "<br><span style=\"color:" + s.color + "\">●</span> " + s.name + ": no data";
          return;
        }
        dots[k].setAttribute("cx", gx);
        dots[k].setAttribute("cy", y(val));
        dots[k].setAttribute("visibility", "visible");
        html += "<br><span style=\"color:" + s.color + "\">●</span> " + s.name + ": " + spec.fmt(val) + (spec.unit || "");
      });
      tip.innerHTML = html;
      tip.style.left = (gx * r.width / W) + "px";
      tip.style.top = (T + 4) + "px";
      tip.style.display = "block";
    });
    hit.addEventListener("mouseleave", function () {
      guide.setAttribute("visibility", "hidden");
      dots.forEach(function (d) { d.setAttribute("visibility", "hidden"); });
      tip.style.display = "none";
    });

    var legend = document.createElement("div");
    legend.className = "legend";
    spec.series.forEach(function (s) {
      var item = document.createElement("span");
      var sw = document.createElement("i");
      sw.style.background = s.color;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(s.name));
      legend.appendChild(item);
    });
    fig.appendChild(legend);
  }

  function drawAll() {
    var figs = document.querySelectorAll("figure.chart");
    for (var i = 0; i < figs.length; i++) draw(figs[i]);
  }

  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(drawAll, 150);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
