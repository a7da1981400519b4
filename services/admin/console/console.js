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

  /* A labelled field with its help (if any) and error line, as
   * showErrors() finds them: the label and help texts are the labels
   * label and label + "_help". */
  function formField(id, ptr, tag, attrs, label, help) {
    var a = {id: id, "aria-describedby": (help ? id + "-h " : "") + id + "-e"};
    Object.keys(attrs).forEach(function (k) { a[k] = attrs[k]; });
    return el("div", {"class": "field", "data-ptr": ptr}, [
      el("label", {"for": id, "data-t": label}),
      el(tag, a),
      help ? el("p", {"class": "help", id: id + "-h", "data-t": label + "_help"}) : null,
      el("p", {"class": "err", id: id + "-e"})]);
  }

  /* The subscription form's fields in order (the topics come after the
   * first): id after "sub-", JSON Pointer, element, attributes, label,
   * whether it has a help text. */
  var SUB_FIELDS = [
    ["name", "/name", "input", {type: "text"}, "ui.console.name", false],
    ["endpoint", "/endpoint", "input", {type: "url"}, "ui.console.sub_endpoint", true],
    ["where", "/where", "textarea", {rows: "2"}, "ui.console.sub_where", true],
    ["include", "/projection/include", "textarea", {rows: "2"}, "ui.console.sub_include", true],
    ["exclude", "/projection/exclude", "textarea", {rows: "2"}, "ui.console.sub_exclude", true],
    ["agreement", "/agreement", "input", {type: "text"}, "ui.console.sub_agreement", true],
    ["batch", "/batch_size", "input", {type: "number", min: "1", max: "1000"}, "ui.console.sub_batch", false],
    ["rate", "/rate_limit_per_s", "input", {type: "number", min: "0"}, "ui.console.sub_rate", true],
    ["retry", "/retry/max_elapsed_s", "input", {type: "number", min: "1"}, "ui.console.sub_retry", true],
    ["bearer", "/bearer", "input", {type: "password", autocomplete: "off"}, "ui.console.sub_bearer", true]
  ];
  function buildSubForm() {
    var topics = $("sub-topics"), save = $("sub-save").parentNode;
    SUB_FIELDS.forEach(function (f, i) {
      topics.parentNode.insertBefore(formField("sub-" + f[0], f[1], f[2], f[3], f[4], f[5]), i ? save : topics);
    });
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
      if (who) {
        renderWho();
        if (visible("publish")) renderForm();
        if (visible("subs")) loadSubs();
        if (visible("tokens")) loadTokens();
        if (visible("orgs")) loadOrgs();
        if (visible("audit")) loadAudit();
      }
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
  function visible(p) { return $("page-" + p) && !$("page-" + p).hidden; }
  var PAGES = ["signin", "home", "publish", "subs", "history", "tokens", "orgs", "audit"];
  function show(page) {
    PAGES.forEach(function (p) {
      if ($("page-" + p)) $("page-" + p).hidden = p !== page;
    });
    $("nav").hidden = page === "signin";
    $("nav-orgs").hidden = !(who && who.operator);
    ["nav-subs", "nav-tokens", "nav-audit"].forEach(function (n) { $(n).hidden = !manager(); });
    $("nav-publish").hidden = !!(who && who.role === "subscriber");
    $("orgctx-l").hidden = !(who && who.operator) || ["subs", "tokens"].indexOf(page) < 0;
    $("main").focus();
  }
  /* the organisation whose subscriptions and tokens are shown: the
   * caller's own, or the one the operator picked */
  var ctxInfo = null;
  function ctxOrg() { return who && who.operator ? $("orgctx").value : who && who.org; }
  function loadOrgCtx() {
    if (!who || !who.operator) return Promise.resolve();
    return api("GET", "/v1/admin/orgs").then(function (r) {
      var sel = $("orgctx"), keep = sel.value;
      sel.textContent = "";
      sel.appendChild(el("option", {value: "", text: "—"}));
      ((r.body && r.body.orgs) || []).forEach(function (o) {
        sel.appendChild(el("option", {value: o.id, text: o.name + " (" + o.id + ")"}));
        if (o.id === keep) ctxInfo = o;
      });
      sel.value = keep;
      orgList = (r.body && r.body.orgs) || [];
    });
  }
  var orgList = [];

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
      if (!who.operator && who.role && who.role !== "org-admin") {
        /* a publisher (or subscriber) token: whoami says what its
         * organisation may do; it may publish, not manage */
        who.orgInfo = {name: who.org_name, publish: who.publish || [], read: who.read || []};
        status("");
        renderWho();
        show("home");
        return;
      }
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
      return loadOrgCtx();
    });
  }

  /* the operator or an org-admin token (the others only publish) */
  function manager() { return !!who && (who.operator || !who.role || who.role === "org-admin"); }
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
      row("ui.console.may_manage", msg(manager() ? "ui.console.may_manage_text" : "ui.console.may_manage_none"));
    }
    row("ui.console.token", who.token || "");
  }

  /* ------------------------------------------------------ subscriptions */
  function has(key) { return msg(key) !== key; }
  function lines(v) {
    return v.split("\n").map(function (x) { return x.trim(); }).filter(function (x) { return x; });
  }
  function base(org) { return "/v1/admin/orgs/" + encodeURIComponent(org || ctxOrg()); }
  function subBase() { return base() + "/subscriptions"; }
  var subs = {};        /* id -> subscription, as listed */
  var subEditing = null; /* the subscription being edited, or null: a new one */
  var subOpen = null;    /* id whose details are shown */
  var subTimer = null;
  function loadSubs() {
    var tb = document.querySelector("#subs tbody");
    $("subform").hidden = true;
    if (!ctxOrg()) { tb.textContent = ""; status(msg("ui.console.subs_operator")); return Promise.resolve(); }
    return api("GET", subBase()).then(function (r) {
      tb.textContent = "";
      subs = {};
      if (r.status !== 200) { status(errText(r), true); return; }
      if (!r.body.subscriptions.length) status(msg("ui.console.no_subs"));
      r.body.subscriptions.forEach(function (s) {
        subs[s.id] = s;
        var act = s.state === "suspended" ? "resume" : "suspend";
        var b = el("button", {type: "button", "class": "act", "data-sub": s.id, text: msg("ui.console." + act)});
        b.addEventListener("click", function () {
          api("POST", subBase() + "/" + encodeURIComponent(s.id) + "/" + act, {}).then(function (x) {
            status(x.status < 300 ? msg("ui.console.done") : errText(x), x.status >= 300);
            loadSubs();
          });
        });
        var ed = el("button", {type: "button", "class": "edit remove", text: msg("ui.console.sub_edit")});
        ed.addEventListener("click", function () { editSub(s); });
        var dt = el("button", {type: "button", "class": "details remove", "aria-expanded": String(subOpen === s.id),
                               text: msg("ui.console.sub_details")});
        dt.addEventListener("click", function () { subOpen = subOpen === s.id ? null : s.id; loadSubs(); });
        tb.appendChild(el("tr", {"data-sub": s.id}, [
          el("th", {scope: "row", text: s.name || s.id}),
          el("td", {text: (s.topics || []).join(", ")}),
          el("td", {"class": "state", text: msg("ui.console.state_" + s.state)}),
          el("td", {"class": "health", text: "…"}),
          el("td", {"class": "acts"}, [b, ed, dt])]));
      });
      $("subdetail").hidden = !subOpen || !subs[subOpen];
      if (subOpen && subs[subOpen]) renderSubDetail(subs[subOpen]);
      return refreshHealth();
    });
  }
  function healthText(h) { return has("ui.console.health_" + h) ? msg("ui.console.health_" + h) : h; }
  /* the health of every listed subscription; the open one's details too */
  function refreshHealth() {
    return Promise.all(Object.keys(subs).map(function (id) {
      return api("GET", subBase() + "/" + encodeURIComponent(id) + "/status").then(function (st) {
        var row = document.querySelector('#subs tr[data-sub="' + id + '"] .health');
        var h = st.status === 200 && st.body ? st.body.state : "UNKNOWN";
        if (row) { row.textContent = healthText(h); row.setAttribute("data-state", h); }
        if (id === subOpen && st.status === 200) renderStatus(st.body);
      });
    }));
  }
  function startSubTimer() {
    stopSubTimer();
    subTimer = setInterval(function () {
      if ($("page-subs").hidden) { stopSubTimer(); return; }
      refreshHealth();
    }, 2000);
  }
  function stopSubTimer() { if (subTimer) clearInterval(subTimer); subTimer = null; }

  function renderSubDetail(s) {
    $("subdetail-h").textContent = msg("ui.console.sub_details") + ": " + (s.name || s.id);
    var dl = $("sub-conf");
    dl.textContent = "";
    function row(k, v) { dl.appendChild(el("dt", {text: msg(k)})); dl.appendChild(el("dd", {text: v})); }
    row("ui.console.sub_endpoint", s.endpoint || "");
    row("ui.console.sub_where", [].concat(s.where || []).join(" AND ") || msg("ui.none"));
    var pj = s.projection || {};
    row("ui.console.sub_include", (pj.include || []).join(", ") || msg("ui.console.sub_all_fields"));
    row("ui.console.sub_exclude", (pj.exclude || []).join(", ") || msg("ui.none"));
    row("ui.console.sub_retransmit_last", s.retransmit && s.retransmit.from ? fmtTime(s.retransmit.from) : msg("ui.none"));
  }
  function renderStatus(st) {
    var dl = $("sub-status");
    dl.textContent = "";
    function row(k, v) { dl.appendChild(el("dt", {text: msg(k)})); dl.appendChild(el("dd", {text: v})); }
    row("ui.console.health", healthText(st.state));
    if (st.lag_events !== undefined) row("ui.console.sub_lag", msg("ui.console.sub_lag_text", [fmtNumber(st.lag_events), fmtNumber(st.lag_seconds || 0)]));
    if (st.delivered !== undefined) row("ui.console.sub_delivered", fmtNumber(st.delivered));
    if (st.failed !== undefined) row("ui.console.sub_failed", fmtNumber(st.failed));
    row("ui.console.sub_last_delivery", st.last_delivery_at ? fmtTime(st.last_delivery_at) : msg("ui.none"));
    row("ui.console.sub_status_at", st.updated_at ? fmtTime(st.updated_at) : msg("ui.console.sub_no_status"));
    fillTable("sub-errors", st.errors, function (e) {
      return [fmtTime(e.at), e.status ? String(e.status) : "—", e.message || ""];
    });
    fillTable("sub-dead", st.dead_letters, function (d) {
      return [fmtTime(d.at), d.event_id || "", (d.topic || "") + " / " + fmtNumber(d.partition) + " / " + fmtNumber(d.offset), d.reason || ""];
    });
  }
  /* rows of a table from a list; a "none" row when there is none */
  function fillTable(id, list, cells) {
    var tb = document.querySelector("#" + id + " tbody");
    var n = document.querySelectorAll("#" + id + " thead th").length;
    tb.textContent = "";
    if (!list || !list.length) {
      tb.appendChild(el("tr", {}, [el("td", {colspan: String(n), text: msg("ui.none")})]));
      return;
    }
    list.forEach(function (x) {
      tb.appendChild(el("tr", {}, cells(x).map(function (c) { return el("td", {text: c}); })));
    });
  }
  function retransmit(ev) {
    ev.preventDefault();
    var d = $("rt-from").value;
    if (!subOpen || !d) { status(msg("ui.console.required"), true); return; }
    api("POST", subBase() + "/" + encodeURIComponent(subOpen) + "/retransmit",
        {from: d + "T00:00:00.000Z"}).then(function (r) {
      status(r.status < 300 ? msg("ui.console.sub_retransmitted", [fmtDate(d)]) : errText(r), r.status >= 300);
      loadSubs();
    });
  }

  /* the form: a new subscription, or the one being edited */
  function subTopics() {
    var box = $("sub-topics");
    box.textContent = "";
    box.appendChild(el("legend", {text: msg("ui.console.topics")}));
    var types = [];
    if (who.orgInfo) types = (who.orgInfo.read || []).map(function (r) { return r.type; });
    else if (ctxInfo) types = (ctxInfo.read || []).map(function (r) { return r.type; });
    types.forEach(function (t, i) {
      var id = "sub-topic-" + i;
      box.appendChild(el("div", {"class": "check"}, [
        el("input", {type: "checkbox", id: id, value: t, name: "topic"}),
        el("label", {"for": id, text: t})]));
    });
    if (!types.length) box.appendChild(el("p", {"class": "help", text: msg("ui.console.sub_no_read")}));
    box.appendChild(el("p", {"class": "err", id: "sub-topics-e"}));
  }
  function newSub() {
    subEditing = null;
    subForm({});
  }
  function editSub(s) {
    subEditing = s;
    subForm(s);
  }
  function subForm(s) {
    $("sub-secret").hidden = true;
    subTopics();
    $("subform-h").textContent = s.id ? msg("ui.console.sub_edit") + ": " + (s.name || s.id) : msg("ui.console.sub_new");
    $("sub-name").value = s.name || "";
    $("sub-name").readOnly = !!s.id;
    Array.prototype.forEach.call(document.querySelectorAll("#sub-topics input"), function (c) {
      c.checked = (s.topics || []).indexOf(c.value) >= 0;
    });
    $("sub-endpoint").value = s.endpoint || "";
    $("sub-where").value = [].concat(s.where || []).join("\n");
    $("sub-include").value = ((s.projection || {}).include || []).join("\n");
    $("sub-exclude").value = ((s.projection || {}).exclude || []).join("\n");
    $("sub-agreement").value = s.agreement || "";
    $("sub-batch").value = s.batch_size || 1;
    $("sub-rate").value = s.rate_limit_per_s || 0;
    $("sub-retry").value = (s.retry && s.retry.max_elapsed_s) || 3600;
    $("sub-bearer").value = "";
    clearErrors($("subform"));
    $("subform").hidden = false;
    $("sub-name").focus();
  }
  function subBody() {
    var b = {};
    b.name = $("sub-name").value.trim();
    b.topics = Array.prototype.filter.call(document.querySelectorAll("#sub-topics input"), function (c) {
      return c.checked;
    }).map(function (c) { return c.value; });
    b.endpoint = $("sub-endpoint").value.trim();
    var w = lines($("sub-where").value);
    b.where = w.length === 0 ? null : w.length === 1 ? w[0] : w;
    var pj = {}, inc = lines($("sub-include").value), exc = lines($("sub-exclude").value);
    if (inc.length) pj.include = inc;
    if (exc.length) pj.exclude = exc;
    b.projection = pj;
    b.agreement = $("sub-agreement").value.trim() || null;
    b.batch_size = Number($("sub-batch").value || 1);
    b.rate_limit_per_s = Number($("sub-rate").value || 0);
    b.retry = {max_elapsed_s: Number($("sub-retry").value || 3600)};
    if ($("sub-bearer").value) b.bearer = $("sub-bearer").value;
    return b;
  }
  function saveSub(ev) {
    ev.preventDefault();
    var b = subBody(), req, orig = subEditing;
    var errs = [];
    if (!orig && !b.name) errs.push({pointer: "/name", message: msg("ui.console.required")});
    if (!b.topics.length) errs.push({pointer: "/topics", message: msg("ui.console.required")});
    if (!b.endpoint) errs.push({pointer: "/endpoint", message: msg("ui.console.required")});
    if (errs.length) { showErrors($("subform"), errs); status(msg("ui.console.invalid"), true); return; }
    if (!orig) {
      /* a new one: what is not set is left to the defaults */
      if (b.where === null) delete b.where;
      if (!b.projection.include && !b.projection.exclude) delete b.projection;
      if (b.agreement === null) delete b.agreement;
      req = api("POST", subBase(), b);
    } else {
      /* only what changed (a changed endpoint is verified again) */
      var cur = {topics: orig.topics, endpoint: orig.endpoint, where: orig.where === undefined ? null : orig.where,
                 projection: orig.projection || {}, agreement: orig.agreement || null,
                 batch_size: orig.batch_size, rate_limit_per_s: orig.rate_limit_per_s, retry: orig.retry};
      var patch = {};
      Object.keys(cur).forEach(function (k) {
        if (JSON.stringify(cur[k]) !== JSON.stringify(b[k])) patch[k] = b[k];
      });
      if (b.bearer) patch.bearer = b.bearer;
      if (!Object.keys(patch).length) { status(msg("ui.console.sub_unchanged")); $("subform").hidden = true; return; }
      req = api("PATCH", subBase() + "/" + encodeURIComponent(orig.id), patch);
    }
    status(msg("ui.console.sub_saving"));
    req.then(function (r) {
      if (r.status >= 300) {
        showErrors($("subform"), (r.body && r.body.errors) || []);
        status(errText(r), true);
        return;
      }
      var secret = r.body && r.body.secret && r.body.secret !== "***" ? r.body.secret : null;
      loadSubs().then(function () {
        status(msg("ui.console.sub_saved", [b.name || (orig && orig.name) || ""]));
        if (secret) {
          $("sub-secret-v").value = secret;
          $("sub-secret").hidden = false;
          $("sub-secret-v").focus();
        }
      });
    });
  }

  /* ------------------------------------------------------------- tokens */
  function loadTokens() {
    var tb = document.querySelector("#tokens tbody");
    if (!ctxOrg()) { tb.textContent = ""; status(msg("ui.console.subs_operator")); return Promise.resolve(); }
    return api("GET", base() + "/tokens").then(function (r) {
      tb.textContent = "";
      if (r.status !== 200) { status(errText(r), true); return; }
      r.body.tokens.forEach(function (t) {
        var cell = el("td", {});
        if (!t.revoked_at) {
          /* two steps: the first click asks, the second revokes */
          var b = el("button", {type: "button", "class": "revoke", text: msg("ui.console.tok_revoke")});
          b.addEventListener("click", function () {
            if (b.getAttribute("data-armed") !== "1") {
              b.setAttribute("data-armed", "1");
              b.textContent = msg("ui.console.tok_revoke_confirm", [t.name]);
              return;
            }
            api("DELETE", base() + "/tokens/" + encodeURIComponent(t.id)).then(function (x) {
              status(x.status < 300 ? msg("ui.console.tok_revoked", [t.name]) : errText(x), x.status >= 300);
              loadTokens();
            });
          });
          cell.appendChild(b);
        }
        tb.appendChild(el("tr", {"data-token": t.id, "data-name": t.name}, [
          el("th", {scope: "row", text: t.name}),
          el("td", {text: has("ui.console.role_" + t.role) ? msg("ui.console.role_" + t.role) : t.role}),
          el("td", {"class": "mono", text: t.prefix + "…"}),
          el("td", {"class": "created", text: fmtTime(t.created_at)}),
          el("td", {text: t.last_used_at ? fmtTime(t.last_used_at) : msg("ui.console.tok_never")}),
          el("td", {"class": "state", text: t.revoked_at ? msg("ui.console.tok_revoked_at", [fmtTime(t.revoked_at)]) : msg("ui.console.state_active")}),
          cell]));
      });
    });
  }
  function issueToken(ev) {
    ev.preventDefault();
    var b = {name: $("tok-name").value.trim(), role: $("tok-role").value};
    $("tok-once").hidden = true;
    if (!b.name) { showErrors($("tokform"), [{pointer: "/name", message: msg("ui.console.required")}]); return; }
    clearErrors($("tokform"));
    api("POST", base() + "/tokens", b).then(function (r) {
      if (r.status >= 300) { showErrors($("tokform"), (r.body && r.body.errors) || []); status(errText(r), true); return; }
      $("tok-name").value = "";
      loadTokens().then(function () {
        status(msg("ui.console.tok_issued", [b.name]));
        $("tok-once-v").value = r.body.token;
        $("tok-once").hidden = false;
        $("tok-once-v").focus();
        $("tok-once-v").select();
      });
    });
  }
  function copyToken() {
    var v = $("tok-once-v");
    v.focus();
    v.select();
    var done = function () { status(msg("ui.console.copied")); };
    if (navigator.clipboard && navigator.clipboard.writeText)
      navigator.clipboard.writeText(v.value).then(done, function () { status(msg("ui.console.copy_by_hand")); });
    else status(msg("ui.console.copy_by_hand"));
  }
  /* ------------------------------------------------- operator: orgs */
  var allTypes = [];
  var orgEditing = null;
  function readText(r) { return r.type + (r.where ? " [" + [].concat(r.where).join(" && ") + "]" : ""); }
  function loadOrgs() {
    return loadOrgCtx().then(function () {
      var tb = document.querySelector("#orgs tbody");
      tb.textContent = "";
      orgList.forEach(function (o) {
        var ed = el("button", {type: "button", "class": "edit remove", text: msg("ui.console.org_permissions")});
        ed.addEventListener("click", function () { orgForm(o); });
        var act = o.disabled ? "enable" : "disable";
        var dis = el("button", {type: "button", "class": "act", text: msg("ui.console.org_" + act)});
        dis.addEventListener("click", function () {
          api("POST", base(o.id) + "/" + act, {}).then(function (x) {
            status(x.status < 300 ? msg("ui.console.done") : errText(x), x.status >= 300);
            loadOrgs();
          });
        });
        tb.appendChild(el("tr", {"data-org": o.id}, [
          el("th", {scope: "row", text: o.id}),
          el("td", {text: o.name}),
          el("td", {text: has("ui.console.kind_" + o.kind) ? msg("ui.console.kind_" + o.kind) : o.kind}),
          el("td", {"class": "publish", text: (o.publish || []).join(", ") || msg("ui.none")}),
          el("td", {"class": "read", text: (o.read || []).map(readText).join(", ") || msg("ui.none")}),
          el("td", {"class": "state", text: msg(o.disabled ? "ui.console.org_disabled" : "ui.console.state_active")}),
          el("td", {"class": "acts"}, [ed, dis])]));
      });
    });
  }
  function orgForm(o) {
    orgEditing = o;
    o = o || {};
    clearErrors($("orgform"));
    $("orgform-h").textContent = o.id ? msg("ui.console.org_permissions") + ": " + o.id : msg("ui.console.org_new");
    $("org-id").value = o.id || "";
    $("org-id").readOnly = !!o.id;
    $("org-name").value = o.name || "";
    $("org-kind").value = o.kind || "ngo";
    var pub = $("org-publish"), rd = $("org-read");
    pub.textContent = "";
    rd.textContent = "";
    pub.appendChild(el("legend", {text: msg("ui.console.may_publish")}));
    rd.appendChild(el("legend", {text: msg("ui.console.may_read")}));
    rd.appendChild(el("p", {"class": "help", text: msg("ui.console.org_read_help")}));
    var reads = {};
    (o.read || []).forEach(function (r) { reads[r.type] = r; });
    allTypes.forEach(function (t, i) {
      var c = el("input", {type: "checkbox", id: "org-pub-" + i, value: t});
      c.checked = (o.publish || []).indexOf(t) >= 0;
      pub.appendChild(el("div", {"class": "check"}, [c, el("label", {"for": "org-pub-" + i, text: t})]));
      var rc = el("input", {type: "checkbox", id: "org-read-" + i, value: t});
      rc.checked = !!reads[t];
      var w = el("input", {type: "text", id: "org-where-" + i, "data-type": t, "aria-describedby": "org-where-" + i + "-e"});
      w.value = reads[t] && reads[t].where ? [].concat(reads[t].where).join(" && ") : "";
      rd.appendChild(el("div", {"class": "check", "data-ptr": "/read/" + t}, [rc, el("label", {"for": "org-read-" + i, text: t}),
        el("span", {"class": "check", "data-ptr": "/read/" + t + "/where"}, [
          el("label", {"for": "org-where-" + i, "class": "sub", text: msg("ui.console.sub_where")}), w,
          el("span", {"class": "err", id: "org-where-" + i + "-e"})])]));
    });
    pub.appendChild(el("p", {"class": "err"}));
    rd.appendChild(el("p", {"class": "err"}));
    $("orgform").hidden = false;
    (o.id ? $("org-name") : $("org-id")).focus();
  }
  function saveOrg(ev) {
    ev.preventDefault();
    var b = {name: $("org-name").value.trim(), kind: $("org-kind").value,
             publish: Array.prototype.filter.call(document.querySelectorAll("#org-publish input"), function (c) {
               return c.checked; }).map(function (c) { return c.value; }),
             read: []};
    allTypes.forEach(function (t, i) {
      if (!$("org-read-" + i).checked) return;
      var w = $("org-where-" + i).value.trim(), r = {type: t};
      /* several conditions (all must hold): "a && b" */
      if (w) r.where = w.indexOf(" && ") >= 0 ? w.split(" && ").map(function (x) { return x.trim(); }) : w;
      b.read.push(r);
    });
    var req;
    if (orgEditing) req = api("PATCH", base(orgEditing.id), b);
    else { b.id = $("org-id").value.trim(); req = api("POST", "/v1/admin/orgs", b); }
    req.then(function (r) {
      if (r.status >= 300) {
        /* /read/N points at the Nth entry sent: at its type's row */
        var errs = ((r.body && r.body.errors) || []).map(function (e) {
          var m = /^\/read\/([0-9]+)(.*)$/.exec(e.pointer || "");
          if (m && b.read[Number(m[1])]) return {pointer: "/read/" + b.read[Number(m[1])].type + m[2], message: e.message};
          return e;
        });
        showErrors($("orgform"), errs);
        status(errText(r), true);
        return;
      }
      $("orgform").hidden = true;
      loadOrgs().then(function () { status(msg("ui.console.org_saved", [b.name])); });
    });
  }

  /* ----------------------------------------------- audit log, paged */
  var AUDIT_PAGE = 20;
  var auditPage = 0;
  function loadAudit() {
    var q = "?limit=" + ((auditPage + 1) * AUDIT_PAGE + 1);
    if (who.operator && $("audit-org").value) q += "&org=" + encodeURIComponent($("audit-org").value);
    return api("GET", "/v1/admin/audit" + q).then(function (r) {
      var tb = document.querySelector("#audit tbody");
      tb.textContent = "";
      if (r.status !== 200) { status(errText(r), true); return; }
      /* newest first: this page is a slice of the newest entries */
      var all = r.body.entries || [];
      var rows = all.slice(auditPage * AUDIT_PAGE, (auditPage + 1) * AUDIT_PAGE);
      rows.forEach(function (e) {
        var actor = (e.actor_org ? e.actor_org : msg("ui.console.operator_short")) + " / " + (e.actor_token || "");
        var act = has("ui.console.action_" + e.action) ? msg("ui.console.action_" + e.action) : e.action;
        tb.appendChild(el("tr", {"data-at": e.at || "", "data-action": e.action || ""}, [
          el("td", {text: fmtTime(e.at)}),
          el("td", {text: actor}),
          el("td", {text: act}),
          el("td", {text: (has("ui.console.obj_" + e.object_type) ? msg("ui.console.obj_" + e.object_type) : e.object_type || "") +
                          " " + (e.object_id || "")}),
          el("td", {text: e.org || "—"}),
          el("td", {"class": e.result === "ok" ? "" : "bad",
                    text: msg(e.result === "ok" ? "ui.console.audit_ok" : "ui.console.audit_refused") + " (" + e.status + ")"})]));
      });
      if (!rows.length) tb.appendChild(el("tr", {}, [el("td", {colspan: "6", text: msg("ui.none")})]));
      $("audit-newer").disabled = auditPage === 0;
      $("audit-older").disabled = all.length <= (auditPage + 1) * AUDIT_PAGE ||
        (auditPage + 2) * AUDIT_PAGE + 1 > 10000;
      $("audit-page").textContent = msg("ui.console.audit_page", [fmtNumber(auditPage + 1)]);
    });
  }

  /* --------------------------------------------------- error messages */
  /* The error code of an answer (admin's or the gateway's) in the
   * language shown when the console knows it; the details as sent. */
  function errText(r) {
    var b = r.body || {};
    var detail = (b.errors && b.errors.length)
      ? b.errors.map(function (e) { return (e.pointer ? e.pointer + ": " : "") + e.message; }).join("; ")
      : (b.message || "");
    var key = "ui.console.err_" + (b.error || "");
    if (b.error && has(key)) return msg(key) + (detail ? " (" + detail + ")" : "");
    return detail || (msg("ui.console.error") + " " + r.status);
  }
  /* A schema violation the gateway reported, in the language shown, by
   * its code (docs/gateway.md, "Error codes"), with the params the
   * sentence takes in this order; an unknown code: the English message. */
  var FIELD_ERR_ARGS = {
    type_mismatch: ["expected", "got"], integer_range: ["min", "max"],
    decimal_invalid: ["precision", "scale"],
    decimal_integer_digits: ["max_integer_digits"],
    decimal_fraction_digits: ["scale"], base64_size: ["bytes"],
    enum_unknown: ["allowed"], too_deep: ["max_depth"],
    key_too_long: ["max_bytes"], source_mismatch: ["organisation"]
  };
  function fieldErrText(e) {
    var key = "ui.console.field_err_" + (e.code || "");
    if (!e.code || !/^[a-z0-9_]+$/.test(e.code) || !has(key)) return e.message || "";
    var p = e.params || {};
    return msg(key, (FIELD_ERR_ARGS[e.code] || []).map(function (n) {
      var v = p[n];
      if (Array.isArray(v)) return v.join(", ") + (p.more ? ", …" : "");
      if (v === undefined || v === null) return "?";
      if (typeof v === "number" || n === "min" || n === "max") return fmtNumber(v);
      return String(v);
    }));
  }
  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".err"), function (e) { e.textContent = ""; });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (e) { e.removeAttribute("aria-invalid"); });
  }
  /* each error at the deepest field whose data-ptr is a prefix of its
   * JSON Pointer (errors of no field: the status line) */
  function showErrors(form, errs) {
    clearErrors(form);
    var first = null;
    errs.forEach(function (e) {
      var ptr = e.ptr || e.pointer || "";
      var target = null;
      while (!target && ptr !== null) {
        target = form.querySelector('[data-ptr="' + ptr.replace(/"/g, "") + '"]');
        if (!target) ptr = ptr.indexOf("/") >= 0 ? ptr.slice(0, ptr.lastIndexOf("/")) : null;
      }
      var t = fieldErrText(e);
      /* the message as the gateway sent it stays beside the translation */
      var orig = e.message && t !== e.message ? " (" + e.message + ")" : "";
      if (!target) { status(t + orig, true); return; }
      var m = target.querySelector(".err");
      if (m) {
        if (m.textContent) m.appendChild(document.createTextNode("; "));
        m.appendChild(document.createTextNode(t));
        if (orig) m.appendChild(el("span", {"class": "orig", lang: "en", text: orig}));
      }
      var inp = target.querySelector("input,select,textarea");
      if (inp) { inp.setAttribute("aria-invalid", "true"); first = first || inp; }
    });
    if (first) first.focus();
  }

  /* ------------------------------------------------ locale formatting */
  /* the rules of schemas/labels/{lang}.json "format" (as the report) */
  function fmt() { return (L && L.format) || (LEN && LEN.format) || {}; }
  function expand(pat, vals) {
    return pat.replace(/\{([A-Za-z]+)\}/g, function (all, k) { return vals[k] !== undefined ? vals[k] : all; });
  }
  function digits(v) {
    var s = String(v), f = fmt();
    var neg = s.charAt(0) === "-";
    if (neg || s.charAt(0) === "+") s = s.slice(1);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(s)) return null;
    var p = s.split(".");
    var g = p[0].replace(/\B(?=([0-9]{3})+(?![0-9]))/g, f.group === undefined ? "," : f.group);
    return {neg: neg, text: g + (p.length > 1 ? (f.decimal || ".") + p[1] : "")};
  }
  function fmtNumber(v) {
    if (v === null || v === undefined || v === "") return "—";
    var d = digits(v);
    return d ? (d.neg ? "-" : "") + d.text : String(v);
  }
  function fmtMoney(v, cur) {
    var d = digits(v), f = fmt();
    if (!d) return String(v);
    var sym = (f.symbols && f.symbols[cur]) || cur;
    var pat = /^[A-Z]/.test(sym) ? (f.currency_code || "{s} {n}") : (f.currency || "{s}{n}");
    return (d.neg ? "-" : "") + expand(pat, {n: d.text, s: sym});
  }
  function fmtDate(iso) {
    var m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})/.exec(iso || "");
    if (!m) return iso || "";
    var f = fmt(), mo = Number(m[2]);
    return expand(f.date || "{y}-{m}-{d}", {d: m[3], D: String(Number(m[3])), m: m[2], y: m[1],
      mon: (f.months || [])[mo - 1] || m[2], month: (f.months_long || [])[mo - 1] || m[2]});
  }
  /* an RFC 3339 UTC time: the date in the language's format, hh:mm:ss UTC */
  function fmtTime(ts) {
    if (!ts) return "—";
    var m = /T([0-9]{2}:[0-9]{2}:[0-9]{2})/.exec(ts);
    return msg("ui.console.time_utc", [fmtDate(ts), m ? m[1] : ""]);
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
    var input, get, preview = null;
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
        /* what was understood, in the language's notation (with the
         * record's currency when it has one): "= 143.000,00 €" */
        preview = el("p", {"class": "help preview", id: id + "-p"});
        wrap.updatePreview = function () {
          var v = input.value.trim() ? parseDecimal(input.value, t.scale || 0) : null;
          var cur = wrap.currency ? wrap.currency() : "";
          preview.textContent = v === null ? "" : "= " + (cur ? fmtMoney(v, cur) : fmtNumber(v));
        };
        input.addEventListener("input", wrap.updatePreview);
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
    var desc = (preview ? id + "-p " : "") + (helpN ? id + "-h " : "") + id + "-e";
    input.setAttribute("aria-describedby", desc);
    input.setAttribute("name", ptr);
    wrap.appendChild(lab);
    wrap.appendChild(input);
    if (preview) wrap.appendChild(preview);
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
    /* amounts beside a currency: their preview names it */
    var cur = fs.filter(function (x) { return x.name === "currency"; })[0];
    var sel = cur && cur.node.querySelector("select");
    if (sel) fs.forEach(function (x) {
      if (!x.node.updatePreview) return;
      x.node.currency = function () { return sel.value; };
      sel.addEventListener("change", x.node.updatePreview);
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
  function publish(ev) {
    ev.preventDefault();
    var data;
    try { data = current.get(); } catch (e) {
      showErrors($("pubform"), e.errs || [e]);
      status(msg("ui.console.invalid"), true);
      return;
    }
    clearErrors($("pubform"));
    var type = $("etype").value;
    api("POST", "/v1/console/events/" + encodeURIComponent(type), data).then(function (r) {
      if (r.status >= 200 && r.status < 300) {
        var b = r.body || {};
        var where = [b.topic, b.partition, b.offset].filter(function (x) { return x !== undefined; }).join(" / ");
        $("pubresult").textContent = msg("ui.console.stored", [where]);
        status(msg("ui.console.stored", [where]));
      } else {
        showErrors($("pubform"), (r.body && r.body.errors) || []);
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
    buildSubForm();
    $("lang").addEventListener("change", function () { setLang($("lang").value); });
    $("signin").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var t = $("token").value.trim();
      $("token").value = "";
      if (t) signIn(t);
    });
    $("nav-home").addEventListener("click", function () { show("home"); });
    $("nav-publish").addEventListener("click", function () { show("publish"); renderForm(); });
    $("nav-subs").addEventListener("click", function () {
      /* a signing secret is shown once: not again when coming back */
      $("sub-secret-v").value = ""; $("sub-secret").hidden = true;
      status(""); show("subs"); loadOrgCtx().then(loadSubs); startSubTimer();
    });
    $("orgctx").addEventListener("change", function () {
      ctxInfo = null;
      orgList.forEach(function (o) { if (o.id === $("orgctx").value) ctxInfo = o; });
      status("");
      if (visible("subs")) loadSubs();
      if (visible("tokens")) loadTokens();
    });
    $("sub-new").addEventListener("click", function () {
      if (!ctxOrg()) { status(msg("ui.console.subs_operator"), true); return; }
      newSub();
    });
    $("nav-tokens").addEventListener("click", function () {
      $("tok-once-v").value = ""; $("tok-once").hidden = true;
      status(""); show("tokens"); loadOrgCtx().then(loadTokens);
    });
    $("tokform").addEventListener("submit", issueToken);
    $("tok-copy").addEventListener("click", copyToken);
    $("nav-orgs").addEventListener("click", function () {
      status(""); $("orgform").hidden = true; show("orgs"); loadOrgs();
    });
    $("org-new").addEventListener("click", function () { orgForm(null); });
    $("org-cancel").addEventListener("click", function () { $("orgform").hidden = true; status(""); });
    $("orgform").addEventListener("submit", saveOrg);
    $("nav-audit").addEventListener("click", function () {
      status(""); auditPage = 0; show("audit");
      $("audit-org-f").hidden = !who.operator;
      loadOrgCtx().then(function () {
        if (who.operator) {
          var sel = $("audit-org"), keep = sel.value;
          sel.textContent = "";
          sel.appendChild(el("option", {value: "", text: msg("ui.console.audit_all")}));
          orgList.forEach(function (o) { sel.appendChild(el("option", {value: o.id, text: o.id})); });
          sel.value = keep;
        }
        loadAudit();
      });
    });
    $("audit-org").addEventListener("change", function () { auditPage = 0; loadAudit(); });
    $("audit-newer").addEventListener("click", function () { if (auditPage > 0) { auditPage--; loadAudit(); } });
    $("audit-older").addEventListener("click", function () { auditPage++; loadAudit(); });
    $("sub-cancel").addEventListener("click", function () { $("subform").hidden = true; status(""); });
    $("subform").addEventListener("submit", saveSub);
    $("retransmit").addEventListener("submit", retransmit);
    $("nav-signout").addEventListener("click", function () {
      $("tok-once-v").value = ""; $("tok-once").hidden = true;
      $("sub-secret-v").value = ""; $("sub-secret").hidden = true;
      sessionStorage.removeItem("pb.token"); who = null; ctxInfo = null; stopSubTimer();
      $("orgctx").value = ""; status(""); show("signin");
    });
    $("etype").addEventListener("change", renderForm);
    $("pubform").addEventListener("submit", publish);
    getJSON("/console/types.json").then(function (types) {
      allTypes = types;
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
