/* partnerbus web console (docs/console.md). Served by partnerbus admin with
 * Content-Security-Policy default-src 'self': no inline script, no other
 * host. The token lives in sessionStorage and goes out only as a Bearer
 * header; there are no cookies. */
"use strict";

(function () {
  var L = null;       /* the labels of the current language */
  var LEN = null;     /* English, the fallback */
  var who = null;
  var schemas = {};

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (k) { if (k) e.appendChild(k); });
    return e;
  }

  /* ----------------------------------------------------------- labels */
  function msg(key, args) {
    var s = (L && L.messages && L.messages[key]) ||
            (LEN && LEN.messages && LEN.messages[key]) || key;
    (args || []).forEach(function (a, i) { s = s.split("{" + i + "}").join(a); });
    return s;
  }
  function pick(get) {
    var v = L ? get(L) : null;
    if (v == null && LEN) v = get(LEN);
    return v;
  }
  function enumLabel(full, sym) {
    return pick(function (l) { return l.enums && l.enums[full] && l.enums[full][sym]; }) || sym;
  }
  function fieldText(full, name, what) {
    return pick(function (l) {
      var r = l.records && l.records[full];
      return r && r.fields && r.fields[name] && r.fields[name][what];
    });
  }
  function recordLabel(full, fallback) {
    return pick(function (l) { return l.records && l.records[full] && l.records[full].label; }) || fallback;
  }
  function getJSON(url) {
    return fetch(url, {credentials: "omit"}).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }
  function chooseLang() {
    var s = sessionStorage.getItem("pb.lang");
    if (s) return s;
    var prefs = navigator.languages || [navigator.language || "en"];
    for (var i = 0; i < prefs.length; i++) {
      var p = String(prefs[i]).slice(0, 2).toLowerCase();
      if (p === "de" || p === "uk" || p === "en") return p;
    }
    return "en";
  }
  function setLang(lang) {
    return getJSON("/console/labels/" + lang + ".json").then(function (l) {
      L = l;
      sessionStorage.setItem("pb.lang", lang);
      document.documentElement.lang = lang;
      $("lang").value = lang;
      document.title = "partnerbus – " + msg("ui.console.title");
      Array.prototype.forEach.call(document.querySelectorAll("[data-t]"), function (e) {
        e.textContent = msg(e.getAttribute("data-t"));
      });
      if (who) { renderWho(); if (!$("page-publish").hidden) renderForm(); if (!$("page-subs").hidden) loadSubs(); }
    });
  }

  /* -------------------------------------------------------------- API */
  function api(method, path, body) {
    var h = {"Authorization": "Bearer " + sessionStorage.getItem("pb.token")};
    if (body !== undefined) h["Content-Type"] = "application/json";
    return fetch(path, {method: method, headers: h, credentials: "omit",
                        cache: "no-store",
                        body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.text().then(function (t) {
          var j = null;
          try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
          return {status: r.status, body: j};
        });
      });
  }
  function status(text, bad) {
    $("status").textContent = text || "";
    $("status").className = bad ? "bad" : "";
  }

  /* ------------------------------------------------------------ pages */
  function show(page) {
    ["signin", "home", "publish", "subs", "history"].forEach(function (p) {
      $("page-" + p).hidden = p !== page;
    });
    $("nav").hidden = page === "signin";
    $("main").focus();
  }

  function signIn(token) {
    sessionStorage.setItem("pb.token", token);
    return api("GET", "/v1/admin/whoami").then(function (r) {
      if (r.status !== 200) {
        sessionStorage.removeItem("pb.token");
        status(msg("ui.console.sign_in_failed"), true);
        show("signin");
        return;
      }
      who = r.body;
      if (!who.operator) {
        return api("GET", "/v1/admin/orgs/" + encodeURIComponent(who.org)).then(function (o) {
          who.orgInfo = o.status === 200 ? o.body : null;
          status("");
          renderWho();
          show("home");
        });
      }
      status("");
      renderWho();
      show("home");
    });
  }

  function renderWho() {
    var dl = $("who");
    dl.textContent = "";
    function row(k, v) { dl.appendChild(el("dt", {text: msg(k)})); dl.appendChild(el("dd", {text: v})); }
    if (who.operator) {
      row("ui.console.organisation", msg("ui.console.operator"));
      row("ui.console.may", msg("ui.console.may_all"));
    } else {
      var o = who.orgInfo || {};
      row("ui.console.organisation", (o.name || who.org) + " (" + who.org + ")");
      row("ui.console.may_publish", (o.publish || []).join(", ") || msg("ui.none"));
      row("ui.console.may_read", (o.read || []).map(function (r) {
        return r.type + (r.where ? " [" + r.where + "]" : "");
      }).join(", ") || msg("ui.none"));
      row("ui.console.may_manage", msg("ui.console.may_manage_text"));
    }
    row("ui.console.token", who.token || "");
  }

  /* ------------------------------------------------------ subscriptions */
  function loadSubs() {
    var tb = document.querySelector("#subs tbody");
    if (who.operator) { tb.textContent = ""; status(msg("ui.console.subs_operator")); return; }
    var base = "/v1/admin/orgs/" + encodeURIComponent(who.org) + "/subscriptions";
    api("GET", base).then(function (r) {
      tb.textContent = "";
      if (r.status !== 200) { status(errText(r), true); return; }
      if (!r.body.subscriptions.length) status(msg("ui.console.no_subs"));
      r.body.subscriptions.forEach(function (s) {
        var health = el("td", {text: "…"});
        var act = s.state === "suspended" ? "resume" : "suspend";
        var b = el("button", {type: "button", "data-sub": s.id, text: msg("ui.console." + act)});
        b.addEventListener("click", function () {
          api("POST", base + "/" + encodeURIComponent(s.id) + "/" + act, {}).then(function (x) {
            status(x.status < 300 ? msg("ui.console.done") : errText(x), x.status >= 300);
            loadSubs();
          });
        });
        tb.appendChild(el("tr", {"data-sub": s.id}, [
          el("th", {scope: "row", text: s.name || s.id}),
          el("td", {text: (s.topics || []).join(", ")}),
          el("td", {"class": "state", text: msg("ui.console.state_" + s.state)}),
          health, el("td", {}, [b])]));
        api("GET", base + "/" + encodeURIComponent(s.id) + "/status").then(function (st) {
          var h = st.status === 200 && st.body ? st.body.state : "UNKNOWN";
          health.textContent = msg("ui.console.health_" + h) === "ui.console.health_" + h ? h : msg("ui.console.health_" + h);
        });
      });
    });
  }
  function errText(r) {
    if (r.body && r.body.errors && r.body.errors.length)
      return r.body.errors.map(function (e) { return e.message; }).join("; ");
    return msg("ui.console.error") + " " + r.status;
  }

  /* ------------------------------------------------------------ publish */
  function typeName(t) { return t.type || t; }
  function nonNull(t) {
    if (Array.isArray(t)) {
      var r = t.filter(function (x) { return x !== "null"; });
      return {t: r[0], optional: t.length > r.length};
    }
    return {t: t, optional: false};
  }
  var named = {};
  function resolve(t, ns) {
    if (typeof t === "string" && named[t]) return named[t];
    if (typeof t === "string" && named[ns + "." + t]) return named[ns + "." + t];
    if (t && typeof t === "object" && (t.type === "record" || t.type === "enum")) {
      var full = t.name.indexOf(".") >= 0 ? t.name : (t.namespace || ns) + "." + t.name;
      t.fullName = full;
      named[full] = t;
    }
    return t;
  }
  var seq = 0;
  /* Builds the input(s) of one field; returns {node, get()} where get()
   * returns the JSON value or throws {ptr, message}. */
  function field(name, type, ns, recFull, ptr, optional, doc) {
    var id = "f" + (++seq);
    var t = resolve(type, ns);
    var label = fieldText(recFull, name, "label") || name;
    var help = fieldText(recFull, name, "help") || doc || "";
    var lab = el("label", {"for": id, text: label + (optional ? " (" + msg("ui.console.optional") + ")" : "")});
    var helpN = help ? el("p", {"class": "help", id: id + "-h", text: help}) : null;
    var errN = el("p", {"class": "err", id: id + "-e"});
    var wrap = el("div", {"class": "field", "data-ptr": ptr});
    var input, get;
    if (name === "event_id") {
      input = el("input", {id: id, type: "text", readonly: "readonly"});
      input.value = crypto.randomUUID ? crypto.randomUUID() : uuid();
      get = function () { return input.value; };
    } else if (name === "source" && ptr === "/source" && who && who.org) {
      /* the gateway sets it to the caller's organisation anyway */
      input = el("input", {id: id, type: "text", readonly: "readonly"});
      input.value = who.org;
      get = function () { return input.value; };
    } else if (t && t.type === "record") {
      var fs = el("fieldset", {"class": "group", "data-ptr": ptr});
      fs.appendChild(el("legend", {text: label + (optional ? " (" + msg("ui.console.optional") + ")" : "")}));
      if (helpN) fs.appendChild(helpN);
      var sub = record(t, t.namespace || ns, ptr);
      fs.appendChild(sub.node);
      return {node: fs, get: sub.get, optional: optional};
    } else if (t && t.type === "array") {
      var fsA = el("fieldset", {"class": "array", "data-ptr": ptr});
      fsA.appendChild(el("legend", {text: label}));
      if (helpN) fsA.appendChild(helpN);
      var list = el("div", {});
      var rows = [];
      var add = el("button", {type: "button", "class": "add", text: msg("ui.console.add")});
      function addRow() {
        var r = {};
        var i = rows.length;
        r.f = field(String(i), t.items, ns, recFull + "[]", ptr + "/" + i, false, "");
        var lg = r.f.node.querySelector("legend");
        if (lg) lg.textContent = label + " " + (i + 1);
        var rm = el("button", {type: "button", "class": "remove", text: msg("ui.console.remove")});
        r.node = el("div", {"class": "row"}, [r.f.node, rm]);
        rm.addEventListener("click", function () {
          list.removeChild(r.node);
          rows.splice(rows.indexOf(r), 1);
        });
        rows.push(r);
        list.appendChild(r.node);
      }
      add.addEventListener("click", addRow);
      addRow();
      fsA.appendChild(list);
      fsA.appendChild(add);
      fsA.appendChild(errN);
      return {node: fsA, optional: optional, get: function () {
        return rows.map(function (r) { return r.f.get(); });
      }};
    } else if (t && t.type === "enum") {
      input = el("select", {id: id});
      if (optional) input.appendChild(el("option", {value: "", text: "—"}));
      t.symbols.forEach(function (s) {
        input.appendChild(el("option", {value: s, text: enumLabel(t.fullName, s)}));
      });
      get = function () { return input.value || null; };
    } else {
      var lt = t && t.logicalType;
      var base = typeName(t);
      if (lt === "date") {
        input = el("input", {id: id, type: "date"});
        get = function () { return input.value || null; };
      } else if (lt === "timestamp-millis") {
        input = el("input", {id: id, type: "datetime-local", step: "1"});
        var now = new Date();
        now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
        input.value = now.toISOString().slice(0, 19);
        get = function () { return input.value ? new Date(input.value).toISOString() : null; };
      } else if (lt === "decimal") {
        input = el("input", {id: id, type: "text", inputmode: "decimal", "data-scale": t.scale});
        get = function () {
          if (!input.value.trim()) return null;
          var v = parseDecimal(input.value, t.scale || 0);
          if (v === null) throw {ptr: ptr, message: msg("ui.console.bad_decimal")};
          return v;
        };
      } else if (base === "int" || base === "long") {
        input = el("input", {id: id, type: "number", step: "1"});
        get = function () { return input.value === "" ? null : Number(input.value); };
      } else if (base === "boolean") {
        input = el("input", {id: id, type: "checkbox"});
        get = function () { return input.checked; };
      } else {
        input = el("input", {id: id, type: "text"});
        get = function () { return input.value === "" ? null : input.value; };
      }
    }
    if (!optional) input.setAttribute("required", "required");
    var desc = (helpN ? id + "-h " : "") + id + "-e";
    input.setAttribute("aria-describedby", desc);
    input.setAttribute("name", ptr);
    wrap.appendChild(lab);
    wrap.appendChild(input);
    if (helpN) wrap.appendChild(helpN);
    wrap.appendChild(errN);
    return {node: wrap, optional: optional, get: function () {
      var v = get();
      if (v === null && !optional) throw {ptr: ptr, message: msg("ui.console.required")};
      return v;
    }};
  }
  function record(t, ns, ptr) {
    var node = el("div", {"class": "record"});
    var fs = t.fields.map(function (f) {
      var nn = nonNull(f.type);
      var x = field(f.name, nn.t, ns, t.fullName, ptr + "/" + f.name,
                    nn.optional || f["default"] !== undefined, f.doc);
      x.name = f.name;
      x.nullable = nn.optional;
      node.appendChild(x.node);
      return x;
    });
    return {node: node, get: function () {
      var o = {};
      var errs = [];
      fs.forEach(function (x) {
        try {
          var v = x.get();
          /* a field with a default but no null: left out, the default applies */
          if (v !== null || x.nullable) o[x.name] = v;
        } catch (e) {
          if (e.errs) errs = errs.concat(e.errs); else errs.push(e);
        }
      });
      if (errs.length) throw {errs: errs};
      return o;
    }};
  }
  /* "143.000,00" (de), "143 000,00" (uk), "143,000.00" (en) -> "143000.00" */
  function parseDecimal(s, scale) {
    var f = (L && L.format) || {decimal: ".", group: ","};
    var v = s.trim().replace(/[\s\u00a0\u202f]/g, "");
    if (f.group && f.group.trim()) v = v.split(f.group).join("");
    if (f.decimal !== ".") v = v.split(f.decimal).join(".");
    if (!/^-?[0-9]+(\.[0-9]+)?$/.test(v)) return null;
    var parts = v.split(".");
    var frac = parts[1] || "";
    if (frac.length > scale) return null;
    while (frac.length < scale) frac += "0";
    return scale ? parts[0] + "." + frac : parts[0];
  }
  function uuid() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  var current = null;
  function renderForm() {
    var type = $("etype").value;
    var form = $("pubform");
    form.textContent = "";
    $("pubresult").textContent = "";
    var p = schemas[type] ? Promise.resolve(schemas[type]) :
      getJSON("/console/schemas/" + type + ".avsc").then(function (s) { schemas[type] = s; return s; });
    return p.then(function (s) {
      named = {};
      var t = resolve(JSON.parse(JSON.stringify(s)), s.namespace);
      current = record(t, t.namespace, "");
      form.appendChild(el("p", {"class": "help", text: recordLabel(t.fullName, t.name)}));
      form.appendChild(current.node);
      form.appendChild(el("button", {type: "submit", id: "publish-btn", text: msg("ui.console.publish")}));
    });
  }
  function showErrors(errs) {
    Array.prototype.forEach.call(document.querySelectorAll("#pubform .err"), function (e) { e.textContent = ""; });
    Array.prototype.forEach.call(document.querySelectorAll("#pubform [aria-invalid]"), function (e) { e.removeAttribute("aria-invalid"); });
    var first = null;
    errs.forEach(function (e) {
      /* the deepest field whose pointer is a prefix of the error's */
      var ptr = e.ptr || e.pointer || "";
      var target = null;
      while (!target && ptr !== null) {
        target = document.querySelector('#pubform [data-ptr="' + ptr.replace(/"/g, "") + '"]');
        if (!target) ptr = ptr.indexOf("/") >= 0 ? ptr.slice(0, ptr.lastIndexOf("/")) : null;
      }
      if (!target) { status(e.message, true); return; }
      var m = target.querySelector(".err");
      if (m) m.textContent = e.message;
      var inp = target.querySelector("input,select");
      if (inp) { inp.setAttribute("aria-invalid", "true"); first = first || inp; }
    });
    if (first) first.focus();
  }
  function publish(ev) {
    ev.preventDefault();
    var data;
    try { data = current.get(); } catch (e) {
      showErrors(e.errs || [e]);
      status(msg("ui.console.invalid"), true);
      return;
    }
    showErrors([]);
    var type = $("etype").value;
    api("POST", "/v1/console/events/" + encodeURIComponent(type), data).then(function (r) {
      if (r.status >= 200 && r.status < 300) {
        var b = r.body || {};
        var where = [b.topic, b.partition, b.offset].filter(function (x) { return x !== undefined; }).join(" / ");
        $("pubresult").textContent = msg("ui.console.stored", [where]);
        status(msg("ui.console.stored", [where]));
      } else {
        showErrors(((r.body && r.body.errors) || []).map(function (e) {
          return {ptr: e.pointer, message: e.message};
        }));
        status(errText(r), true);
      }
    });
  }

  /* the helpers history.js (the History page) uses */
  window.pbConsole = {msg: msg, el: el, api: api, status: status, errText: errText,
    show: show, renderForm: renderForm, recordLabel: recordLabel, enumLabel: enumLabel,
    fieldText: fieldText, who: function () { return who; }, labels: function () { return L; }};

  /* ------------------------------------------------------------ wiring */
  document.addEventListener("DOMContentLoaded", function () {
    $("lang").addEventListener("change", function () { setLang($("lang").value); });
    $("signin").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var t = $("token").value.trim();
      $("token").value = "";
      if (t) signIn(t);
    });
    $("nav-home").addEventListener("click", function () { show("home"); });
    $("nav-publish").addEventListener("click", function () { show("publish"); renderForm(); });
    $("nav-subs").addEventListener("click", function () { status(""); show("subs"); loadSubs(); });
    $("nav-signout").addEventListener("click", function () {
      sessionStorage.removeItem("pb.token"); who = null; status(""); show("signin");
    });
    $("etype").addEventListener("change", renderForm);
    $("pubform").addEventListener("submit", publish);
    getJSON("/console/types.json").then(function (types) {
      types.forEach(function (t) { $("etype").appendChild(el("option", {value: t, text: t})); });
      return getJSON("/console/labels/en.json");
    }).then(function (en) {
      LEN = en;
      return setLang(chooseLang());
    }).then(function () {
      if (sessionStorage.getItem("pb.token")) signIn(sessionStorage.getItem("pb.token"));
      else show("signin");
    });
  });
})();
