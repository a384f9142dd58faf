// lifeboat dashboard: live updates only. Every page works without this
// file; it converts times to the viewer's zone, tails an active run's log,
// follows a running restore and offers a copy button for a new API token.
(function () {
  "use strict";

  var pad = function (n) { return (n < 10 ? "0" : "") + n; };

  function zoneName(d) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") return parts[i].value;
      }
    } catch (e) { /* old browser: no zone name */ }
    return "";
  }

  function dateTime(d) {
    var s = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
    var z = zoneName(d);
    return z ? s + " " + z : s;
  }

  function clock(d) {
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  // <time data-local="datetime|time|title">: the server wrote the page's
  // zone; write the viewer's. The UTC value stays in the title.
  function localize(root) {
    var els = root.querySelectorAll("time[data-local]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      var mode = el.getAttribute("data-local");
      if (mode === "datetime") el.textContent = dateTime(d);
      else if (mode === "time") el.textContent = clock(d);
      else if (mode === "title") el.title = dateTime(d) + " (" + el.title + ")";
    }
  }

  // FormatBytes in format.go, for live progress.
  function bytes(n) {
    if (n < 1000) return n + " B";
    var units = ["kB", "MB", "GB", "TB", "PB"];
    var v = n, u = "";
    for (var i = 0; i < units.length; i++) {
      v /= 1000;
      u = units[i];
      var r = Number(v.toPrecision(3));
      if (r < 1000) { v = r; break; }
    }
    return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + " " + u;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A log line as run.templ renders it; textContent only, never HTML.
  function lineNode(l) {
    var level = String(l.level || "info").toLowerCase();
    var cls = "log-line";
    if (level === "error" || level === "fatal") cls += " level-error";
    else if (level === "warn" || level === "warning") cls += " level-warn";
    var li = el("li", cls);
    li.setAttribute("data-level", level);
    li.setAttribute("data-id", String(l.id));
    var d = new Date(l.ts);
    var t = el("time", "", isNaN(d.getTime()) ? "" : clock(d));
    if (!isNaN(d.getTime())) {
      t.setAttribute("datetime", d.toISOString());
      t.title = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    }
    li.appendChild(t);
    li.appendChild(el("span", "log-level", level));
    li.appendChild(el("span", "log-msg", l.message));
    return li;
  }

  function findGroup(box, stage) {
    var groups = box.querySelectorAll("details[data-log-stage]");
    for (var i = 0; i < groups.length; i++) {
      if (groups[i].getAttribute("data-log-stage") === stage) return groups[i];
    }
    return null;
  }

  function newGroup(box, stage) {
    var g = el("details", "log-group");
    g.open = true;
    g.setAttribute("data-log-stage", stage);
    g.setAttribute("data-testid", "log-" + stage);
    var s = el("summary");
    s.appendChild(el("span", "log-stage", stage));
    g.appendChild(s);
    g.appendChild(el("ol", "log-lines"));
    box.appendChild(g);
    return g;
  }

  function setStatus(status) {
    var tpl = document.querySelector("template[data-status-badges]");
    var slot = document.querySelector("[data-live-status]");
    if (!tpl || !slot) return;
    var badge = tpl.content.querySelector('[data-run-status="' + status + '"] .badge');
    if (badge) slot.replaceChildren(badge.cloneNode(true));
  }

  // Fetch the page again and swap <main>: stages, checks and artifact as
  // the server now renders them, without a reload. The fresh page carries
  // its own tail cursor, so a live run's tail restarts where it left off.
  function refreshMain(onFail) {
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        var cur = document.getElementById("main");
        if (!fresh || !cur) throw new Error("no main");
        cur.replaceWith(document.importNode(fresh, true));
        var main = document.getElementById("main");
        localize(main);
        init(main);
      })
      .catch(function () { if (onFail) onFail(); });
  }

  var refreshedFor = {};

  function tail(box) {
    if (!window.EventSource) return;
    var src = box.getAttribute("data-live-src");
    var after = box.getAttribute("data-live-after") || "0";
    var indicator = document.querySelector("[data-live-indicator]");
    var progress = document.querySelector("[data-live-progress]");
    var es = new EventSource(src + "?after=" + encodeURIComponent(after));
    if (indicator) indicator.hidden = false;

    es.addEventListener("log", function (ev) {
      var l;
      try { l = JSON.parse(ev.data); } catch (e) { return; }
      var stage = l.stage || "run";
      var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
      var empty = box.querySelector("[data-log-empty]");
      if (empty) empty.remove();
      var group = findGroup(box, stage);
      // Once per stage and page: a page that somehow lacks the group
      // after a refresh must not refresh again and again.
      var started = !group && stage !== "run" && !refreshedFor[stage];
      if (started) refreshedFor[stage] = true;
      if (!group) group = newGroup(box, stage);
      group.querySelector("ol").appendChild(lineNode(l));
      box.setAttribute("data-live-after", String(l.id));
      if (atBottom) box.scrollTop = box.scrollHeight;
      var m = stage === "backup" && /^dumped (\d+) bytes/.exec(l.message || "");
      if (m && progress) progress.textContent = bytes(Number(m[1]));
      if (started) {
        // A new stage began: re-render the timeline and status, then tail
        // on from the fresh page (or from here if that fails).
        es.close();
        refreshMain(function () { tail(box); });
      }
    });

    es.addEventListener("end", function (ev) {
      es.close();
      if (indicator) indicator.hidden = true;
      var d = {};
      try { d = JSON.parse(ev.data); } catch (e) { /* keep the page as is */ }
      if (d.status) setStatus(d.status);
      box.removeAttribute("data-live-src");
      refreshMain(null);
    });

    es.addEventListener("error", function () {
      // EventSource reconnects by itself (sending Last-Event-ID); only a
      // closed stream means the tail is over.
      if (es.readyState === EventSource.CLOSED && indicator) indicator.hidden = true;
    });
  }

  function copyButtons(root) {
    var btns = root.querySelectorAll("button[data-copy]");
    for (var i = 0; i < btns.length; i++) {
      var b = btns[i];
      if (!navigator.clipboard) continue;
      b.hidden = false;
      b.addEventListener("click", function (ev) {
        var btn = ev.currentTarget;
        var input = document.getElementById(btn.getAttribute("data-copy"));
        if (!input) return;
        navigator.clipboard.writeText(input.value).then(function () {
          btn.textContent = "Copied";
        });
      });
    }
  }

  // [data-live-refresh=MS] (a restore's page): fetch the page again every
  // MS milliseconds and swap <main> until the fresh page no longer asks.
  function poll(root) {
    var el = root.querySelector("[data-live-refresh]");
    if (!el) return;
    var ms = Number(el.getAttribute("data-live-refresh")) || 2000;
    var again = function () { refreshMain(function () { setTimeout(again, ms * 2); }); };
    setTimeout(again, ms);
  }

  function init(root) {
    var live = root.querySelector("[data-live-src]");
    if (live) tail(live);
    poll(root);
    copyButtons(root);
  }

  localize(document);
  init(document);
})();
