// The wizard's draft decisions live in this tab's session storage until "Done" (nothing is saved before).
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base || "";
  // One draft per company: decisions made for one company are never posted to another's Done.
  var STORE = "atera-qbo-draft:" + (body.dataset.company || "");
  var BASE = "atera-qbo-draft-base:" + (body.dataset.company || "");  // the version in force at the first decision
  // The company's API calls carry ?company= as the page's links do (when the deployment has several).
  var companyQuery = body.dataset.companyParam ? "company=" + encodeURIComponent(body.dataset.companyParam) + "&" : "";

  function load() { try { return JSON.parse(sessionStorage.getItem(STORE) || "{}"); } catch (e) { return {}; } }
  function save(d) {
    var n = Object.keys(d).length;
    if (!n) { sessionStorage.removeItem(BASE); }
    else if (sessionStorage.getItem(BASE) === null && body.dataset.version !== "") {
      sessionStorage.setItem(BASE, body.dataset.version);
    }
    sessionStorage.setItem(STORE, JSON.stringify(d)); count(d);
  }
  function count(d) {
    var n = Object.keys(d || load()).length, el = document.getElementById("draft-count");
    if (el) { el.textContent = n ? n + " decision(s) not saved yet" : "no unsaved decision"; }
  }

  if (document.querySelector("[data-clear-draft]")) { sessionStorage.removeItem(STORE); sessionStorage.removeItem(BASE); }

  // Summary: post the draft.
  document.querySelectorAll("form.summary-form").forEach(function (f) {
    f.addEventListener("submit", function () {
      f.elements.decisions.value = JSON.stringify(load());
      f.elements.base_version.value = sessionStorage.getItem(BASE) || body.dataset.version || "";
    });
  });

  function rowState(tr, draft) {
    var d = draft[tr.dataset.key];
    var action = tr.querySelector("select.action"), cand = tr.querySelector("select.cand");
    var note = tr.querySelector("input.note");
    if (d) {
      action.value = d.action;
      if (cand && d.qbo_id) { ensureOption(cand, d.qbo_id, d.qbo_name || ("#" + d.qbo_id)); cand.value = d.qbo_id; }
      if (note) { note.value = d.note || ""; }
    }
    tr.classList.toggle("decided", !!d);
  }

  function ensureOption(select, id, label) {
    for (var i = 0; i < select.options.length; i++) { if (select.options[i].value === id) { return; } }
    var o = document.createElement("option"); o.value = id; o.textContent = label; select.appendChild(o);
  }

  function record(tr) {
    var draft = load(), key = tr.dataset.key;
    var action = tr.querySelector("select.action").value;
    var cand = tr.querySelector("select.cand"), note = tr.querySelector("input.note");
    if (!action) { delete draft[key]; }
    else {
      var d = { action: action, qbo_id: cand ? cand.value : (tr.dataset.qbo || ""), note: note ? note.value : "" };
      if (cand && cand.selectedIndex >= 0) { d.qbo_name = cand.options[cand.selectedIndex].textContent; }
      if (action === "match" && !d.qbo_id) { tr.querySelector("select.cand").focus(); }
      draft[key] = d;
    }
    save(draft); tr.classList.toggle("decided", !!draft[key]);
  }

  var rows = Array.prototype.slice.call(document.querySelectorAll("table.review tbody tr[data-key]"));
  var draft = load();
  rows.forEach(function (tr) {
    rowState(tr, draft);
    var action = tr.querySelector("select.action"), cand = tr.querySelector("select.cand");
    action.addEventListener("change", function () { record(tr); });
    if (cand) {
      cand.addEventListener("change", function () {
        if (cand.value && !action.value) { action.value = "match"; }
        if (action.value) { record(tr); }
      });
    }
    var note = tr.querySelector("input.note");
    if (note) { note.addEventListener("change", function () { if (action.value) { record(tr); } }); }
    var search = tr.querySelector("input.search");
    if (search) { wireSearch(search, cand); }
  });
  count(draft);

  function wireSearch(input, select) {
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = base + "/api/search?" + companyQuery + "entity=" + encodeURIComponent(input.dataset.entity) + "&q=" +
          encodeURIComponent(input.value);
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (found) {
            Array.prototype.slice.call(select.options).forEach(function (o) {
              if (o.value && !o.dataset.cand && o.value !== select.value) { o.remove(); }
            });
            found.forEach(function (c) { ensureOption(select, c.id, c.name + " #" + c.id); });
            if (found.length) { select.size = 1; }
          });
      }, 250);
    });
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); select.focus(); } });
  }

  // Bulk: accept every suggestion scoring at least N (the server knows all rows, not only this page's).
  var bulk = document.querySelector("form.bulk");
  if (bulk) {
    bulk.addEventListener("submit", function (e) {
      e.preventDefault();
      var url = base + "/api/suggestions?" + companyQuery + "step=" + encodeURIComponent(bulk.dataset.step) + "&min_score=" +
        encodeURIComponent(bulk.elements.min_score.value);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (found) {
          var d = load(), n = 0;
          Object.keys(found).forEach(function (k) { if (!d[k]) { d[k] = found[k]; n++; } });
          save(d);
          rows.forEach(function (tr) { rowState(tr, d); });
          bulk.querySelector(".bulk-result").textContent = n + " suggestion(s) accepted";
        });
    });
  }

  // Keyboard: j/k move between rows; the first letter of an action sets it; u undoes.
  document.addEventListener("keydown", function (e) {
    var tr = document.activeElement;
    if (!tr || tr.tagName !== "TR" || !tr.dataset.key || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var i = rows.indexOf(tr);
    if (e.key === "j" || e.key === "ArrowDown") { if (rows[i + 1]) { rows[i + 1].focus(); } e.preventDefault(); return; }
    if (e.key === "k" || e.key === "ArrowUp") { if (rows[i - 1]) { rows[i - 1].focus(); } e.preventDefault(); return; }
    var select = tr.querySelector("select.action");
    if (e.key === "u") { select.value = ""; record(tr); return; }
    for (var o = 0; o < select.options.length; o++) {
      var v = select.options[o].value;
      if (v && v[0] === e.key) { select.value = v; record(tr); e.preventDefault(); return; }
    }
  });

  // Export: select all.
  var all = document.querySelector("input.select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=numbers]").forEach(function (c) { c.checked = all.checked; });
    });
  }
  // Dates and amounts in the reader's own formats (the server writes ISO in the attribute and a UTC fallback).
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d.getTime())) {
      t.title = t.textContent;
      t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    }
  });
  document.querySelectorAll("data.money[value]").forEach(function (m) {
    var n = Number(m.getAttribute("value")), cur = m.dataset.currency;
    if (!isNaN(n) && cur) { m.textContent = n.toLocaleString(undefined, { style: "currency", currency: cur }); }
  });
})();
