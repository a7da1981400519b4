/* partnerbus web console: the History page (docs/console.md "History").
 * The latest events of the types the organisation may read, an entity's
 * timeline (every version, who reported it), and "edit": the publish form
 * filled from the latest version. Talks to GET /v1/admin/.../events
 * through the helpers console.js exposes as window.pbConsole. */
"use strict";

(function () {
  var C = null;        /* window.pbConsole */
  var schemas = {};    /* type -> Avro schema */
  var lastLatest = null, lastTimeline = null;

  function $(id) { return document.getElementById(id); }
  function m(key, args) { return C.msg(key, args); }
  function fmt() { var l = C.labels(); return (l && l.format) || {decimal: ".", group: ",", date: "{y}-{m}-{d}", currency: "{n} {s}", currency_code: "{n} {s}", months: [], symbols: {}}; }

  /* -------------------------------------------------------- formatting */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  /* "2026-12-01" -> the language's date (28.02.2023, 28 Feb 2023) */
  function fmtDate(iso) {
    var x = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    if (!x) return iso || "";
    var f = fmt(), mon = (f.months || [])[Number(x[2]) - 1] || x[2];
    return (f.date || "{y}-{m}-{d}").replace("{y}", x[1]).replace("{m}", x[2])
      .replace("{d}", x[3]).replace("{D}", String(Number(x[3]))).replace("{mon}", mon);
  }
  /* an RFC 3339 instant -> date and local time */
  function fmtInstant(iso) {
    if (!iso) return "";
    var t = new Date(iso);
    if (isNaN(t.getTime())) return iso;
    var d = t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate());
    return fmtDate(d) + "\u00a0" + pad(t.getHours()) + ":" + pad(t.getMinutes());
  }
  /* "143000.00" -> "143.000,00" (de), "143 000,00" (uk), "143,000.00" (en) */
  function fmtNumber(s) {
    var f = fmt(), v = String(s), neg = v.charAt(0) === "-";
    if (neg) v = v.slice(1);
    var p = v.split("."), i = p[0], out = "";
    while (i.length > 3) { out = (f.group || "") + i.slice(-3) + out; i = i.slice(0, -3); }
    out = i + out;
    return (neg ? "-" : "") + out + (p.length > 1 ? (f.decimal || ".") + p[1] : "");
  }
  function fmtMoney(s, cur) {
    var f = fmt(), n = fmtNumber(String(s).replace(/^-/, "")), neg = String(s).charAt(0) === "-";
    var sym = (f.symbols && f.symbols[cur]) || cur || "";
    var tpl = /^[A-Za-z]+$/.test(sym) ? (f.currency_code || "{n} {s}") : (f.currency || "{n} {s}");
    return (neg ? "-" : "") + tpl.replace("{n}", n).replace("{s}", sym);
  }

  /* ----------------------------------------------------------- schemas */
  function schema(type) {
    if (schemas[type]) return Promise.resolve(schemas[type]);
    return fetch("/console/schemas/" + encodeURIComponent(type) + ".avsc", {credentials: "omit"})
      .then(function (r) { if (!r.ok) throw new Error(type); return r.json(); })
      .then(function (s) { schemas[type] = s; return s; });
  }
  function fullName(s) { return s.name.indexOf(".") >= 0 ? s.name : (s.namespace ? s.namespace + "." : "") + s.name; }
  function typeLabel(type) {
    var s = schemas[type];
    return s ? C.recordLabel(fullName(s), type) : type;
  }
  function nonNull(t) { return Array.isArray(t) ? t.filter(function (x) { return x !== "null"; })[0] : t; }
  /* A short summary of an event: its dates, amounts and enums, with the
   * schema's field labels, in the language's notation. */
  function summary(type, ev) {
    var s = schemas[type], parts = [];
    if (!s) return "";
    var rec = fullName(s);
    s.fields.forEach(function (f) {
      var t = nonNull(f.type), v = ev[f.name], text = null;
      if (v === null || v === undefined || /^(event_id|occurred_at|source)$/.test(f.name) || /_id$/.test(f.name)) return;
      if (t && t.logicalType === "date") text = fmtDate(v);
      else if (t && t.logicalType === "decimal") text = ev.currency ? fmtMoney(v, ev.currency) : fmtNumber(v);
      else if (t && typeof t === "object" && t.type === "enum" && f.name !== "currency")
        text = C.enumLabel(t.name.indexOf(".") >= 0 ? t.name : (t.namespace || s.namespace) + "." + t.name, v);
      else if (typeof v === "string" && f.name !== "currency" && v.length <= 80 &&
               !(t && typeof t === "object")) text = v;
      if (text !== null) parts.push((C.fieldText(rec, f.name, "label") || f.name) + ": " + text);
    });
    return parts.join(" · ");
  }

  /* ----------------------------------------------------------- queries */
  function base() {
    var who = C.who();
    return who.operator ? "/v1/admin/events" : "/v1/admin/orgs/" + encodeURIComponent(who.org) + "/events";
  }
  function readable() {
    var who = C.who();
    if (who.operator) return Array.prototype.map.call($("etype").options, function (o) { return o.value; });
    return ((who.orgInfo && who.orgInfo.read) || []).map(function (r) { return r.type; });
  }
  function mayPublish(type) {
    var who = C.who();
    return !who.operator && who.orgInfo && (who.orgInfo.publish || []).indexOf(type) >= 0;
  }
  /* "Name (id)" for the signed-in organisation, else the id */
  function reporter(src) {
    var who = C.who();
    return src === (who.org || "") && who.orgInfo && who.orgInfo.name ? who.orgInfo.name + " (" + src + ")" : src;
  }
  function note(r) {
    var n = $("hist-note");
    n.textContent = r && r.body && r.body.truncated ? m("ui.console.history.truncated", [String(r.body.scanned)]) : "";
  }
  function loadSchemas(evs) {
    var types = {};
    evs.forEach(function (e) { types[e.type] = 1; });
    return Promise.all(Object.keys(types).map(function (t) { return schema(t).catch(function () { return null; }); }));
  }

  /* ------------------------------------------------------ latest events */
  function fillTypes() {
    var sel = $("hist-type"), keep = sel.value;
    sel.textContent = "";
    sel.appendChild(C.el("option", {value: "", text: m("ui.console.history.all_types")}));
    readable().forEach(function (t) {
      sel.appendChild(C.el("option", {value: t, text: typeLabel(t) + " (" + t + ")"}));
    });
    sel.value = keep;
    if (sel.value !== keep) sel.value = "";
  }
  function loadLatest() {
    var type = $("hist-type").value, q = "?limit=50" + (type ? "&type=" + encodeURIComponent(type) : "");
    C.status(m("ui.console.history.loading"));
    return C.api("GET", base() + q).then(function (r) {
      if (r.status !== 200) { C.status(C.errText(r), true); return; }
      return loadSchemas(r.body.events).then(function () {
        lastLatest = r;
        renderLatest();
        note(r);
        C.status(r.body.events.length ? m("ui.console.history.shown", [String(r.body.events.length)]) : m("ui.console.history.none"));
      });
    });
  }
  function renderLatest() {
    var tb = document.querySelector("#hist-table tbody");
    tb.textContent = "";
    if (!lastLatest) return;
    lastLatest.body.events.forEach(function (e) {
      var b = C.el("button", {type: "button", "class": "link", "data-entity": e.entity,
                              text: e.entity, "aria-label": m("ui.console.history.timeline_of", [e.entity])});
      b.addEventListener("click", function () { $("hist-entity").value = e.entity; loadTimeline(e.entity); });
      tb.appendChild(C.el("tr", {"data-entity": e.entity, "data-type": e.type}, [
        C.el("td", {text: fmtInstant(e.occurred_at || e.stored_at)}),
        C.el("td", {text: typeLabel(e.type)}),
        C.el("th", {scope: "row"}, [b]),
        C.el("td", {"class": "source", text: reporter(e.source)}),
        C.el("td", {text: summary(e.type, e.event)})]));
    });
  }

  /* ---------------------------------------------------------- timeline */
  function loadTimeline(id) {
    C.status(m("ui.console.history.loading"));
    return C.api("GET", base() + "?entity=" + encodeURIComponent(id)).then(function (r) {
      if (r.status !== 200) { C.status(C.errText(r), true); return; }
      return loadSchemas(r.body.events).then(function () {
        lastTimeline = r;
        renderTimeline();
        note(r);
        C.status(r.body.events.length ? m("ui.console.history.versions", [id, String(r.body.events.length)])
                                      : m("ui.console.history.not_found", [id]));
        $("hist-tl-title").focus();
      });
    });
  }
  function renderTimeline() {
    var sec = $("hist-timeline"), tb = document.querySelector("#hist-tl tbody");
    tb.textContent = "";
    if (!lastTimeline) { sec.hidden = true; return; }
    var evs = lastTimeline.body.events, who = C.who(), latest = {};
    sec.hidden = false;
    $("hist-tl-title").textContent = m("ui.console.history.timeline_of", [lastTimeline.body.entity]);
    evs.forEach(function (e, i) { latest[e.type] = i; });
    evs.forEach(function (e, i) {
      var act = C.el("td", {});
      /* the organisation's own entity: edit from its latest version */
      if (latest[e.type] === i && !who.operator && e.source === who.org && mayPublish(e.type)) {
        var b = C.el("button", {type: "button", "class": "hist-edit", "data-type": e.type,
                                text: m("ui.console.history.edit")});
        b.addEventListener("click", function () { edit(e); });
        act.appendChild(b);
      }
      tb.appendChild(C.el("tr", {"data-version": String(i + 1), "data-type": e.type, "data-event": e.event_id}, [
        C.el("th", {scope: "row", text: String(i + 1)}),
        C.el("td", {text: typeLabel(e.type)}),
        C.el("td", {text: fmtInstant(e.occurred_at || e.stored_at)}),
        C.el("td", {"class": "source", text: reporter(e.source)}),
        C.el("td", {text: summary(e.type, e.event)}),
        C.el("td", {"class": "where", text: e.topic + " / " + e.partition + " / " + e.offset}),
        act]));
    });
  }

  /* -------------------------------------------------------------- edit */
  /* Sets the publish form's inputs (named by JSON Pointer) from ev. */
  function fill(form, ptr, v) {
    if (Array.isArray(v)) {
      var fs = form.querySelector('fieldset.array[data-ptr="' + ptr + '"]');
      if (!fs) return;
      var list = fs.querySelector(":scope > div"), add = fs.querySelector(":scope > button.add");
      /* the form starts with one row; rows are added at the end */
      while (list.children.length < v.length) add.click();
      if (!v.length) Array.prototype.slice.call(list.children).forEach(function (r) {
        r.querySelector(":scope > button.remove").click();
      });
      v.forEach(function (x, i) { fill(form, ptr + "/" + i, x); });
      return;
    }
    if (v !== null && typeof v === "object") {
      Object.keys(v).forEach(function (k) { fill(form, ptr + "/" + k, v[k]); });
      return;
    }
    var inp = form.querySelector('[name="' + ptr.replace(/"/g, "") + '"]');
    if (!inp || inp.readOnly) return;
    if (v === null || v === undefined) { inp.value = ""; return; }
    if (inp.type === "checkbox") inp.checked = !!v;
    else if (inp.type === "datetime-local") {
      var d = new Date(v);
      d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      inp.value = isNaN(d.getTime()) ? "" : d.toISOString().slice(0, 19);
    } else if (inp.getAttribute("data-scale") !== null) inp.value = String(v).replace(".", fmt().decimal || ".");
    else inp.value = String(v);
    inp.dispatchEvent(new Event("change"));
  }
  function edit(e) {
    C.show("publish");
    $("etype").value = e.type;
    C.renderForm().then(function () {
      var form = $("pubform");
      var ev = e.event, skip = {event_id: 1, occurred_at: 1, source: 1};
      Object.keys(ev).forEach(function (k) { if (!skip[k]) fill(form, "/" + k, ev[k]); });
      /* a schema with explicit versions: point at the version replaced */
      ["supersedes", "supersedes_event_id"].forEach(function (k) {
        var inp = form.querySelector('[name="/' + k + '"]');
        if (inp) inp.value = e.event_id;
      });
      /* the entity id stays: a new version of the same entity */
      Array.prototype.forEach.call(form.querySelectorAll("input"), function (inp) {
        if (/^\/[a-z_]+_id$/.test(inp.name) && inp.value === e.entity) inp.readOnly = true;
      });
      var ver = form.querySelector('[name="/version"]');
      if (ver && typeof ev.version === "number") ver.value = String(ev.version + 1);
      var p = C.el("p", {"class": "note", id: "hist-editing",
                         text: m("ui.console.history.editing", [e.entity, fmtInstant(e.occurred_at || e.stored_at)])});
      form.insertBefore(p, form.firstChild);
      C.status(m("ui.console.history.editing", [e.entity, fmtInstant(e.occurred_at || e.stored_at)]));
    });
  }

  /* ------------------------------------------------------------ wiring */
  function open() {
    C.show("history");
    C.status("");
    return Promise.all(readable().map(function (t) { return schema(t).catch(function () { return null; }); }))
      .then(function () { fillTypes(); return loadLatest(); });
  }
  function relabel() {
    if ($("page-history").hidden || !C.who()) return;
    fillTypes();
    renderLatest();
    renderTimeline();
    note(lastTimeline || lastLatest);
  }
  document.addEventListener("DOMContentLoaded", function () {
    C = window.pbConsole;
    if (!C) return;
    $("nav-history").addEventListener("click", open);
    $("hist-latest").addEventListener("submit", function (ev) { ev.preventDefault(); loadLatest(); });
    $("hist-search").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var id = $("hist-entity").value.trim();
      if (id) loadTimeline(id);
    });
    $("nav-signout").addEventListener("click", function () {
      lastLatest = lastTimeline = null;
      document.querySelector("#hist-table tbody").textContent = "";
      renderTimeline();
    });
    /* console.js sets <html lang> when the language changes */
    new MutationObserver(relabel).observe(document.documentElement, {attributes: true, attributeFilter: ["lang"]});
  });
})();
