#!/usr/bin/env python3
"""Fixture history for the replay/report tests, and the expected report
figures computed independently of partnerbus (Python's decimal module).

  history.py gen DIR          writes DIR/<type>.jsonl (the seed examples plus
                              generated events: partnerships 6 -> 36 -> 44,
                              grants, shipments, confirmations)
  history.py expect DIR [--since T] [--until T] --as-of T
                              prints the expected summary.json figures
  history.py compare EXPECTED SUMMARY
                              exits 1 listing every differing figure
"""
import datetime as dt
import decimal
import glob
import json
import os
import random
import sys
import uuid
from collections import defaultdict

D = decimal.Decimal
TYPES = ["funds.granted", "aid.dispatched", "aid.delivered", "partnership.founded"]
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def org(name, kind, city, region, country):
    return {"name": name, "kind": kind, "city": city, "region": region, "country": country}


def nrw(name, kind, city):
    return org(name, kind, city, "Nordrhein-Westfalen", "DE")


def ua(name, city, region):
    return org(name, "MUNICIPALITY", city, region, "UA")


NRW = [nrw("Stadt " + city, "MUNICIPALITY", city)
       for city in ("Köln", "Essen", "Dortmund", "Wuppertal", "Billerbeck")] + [
    nrw("Landschaftsverband Rheinland", "REGIONAL_ASSOCIATION", "Köln"),
    nrw("Kreis Borken", "DISTRICT", "Borken"),
]
UA = [ua(name, city, region) for name, city, region in (
    ("Дніпровська міська рада", "Дніпро", "Dnipropetrowsk"),
    ("Рівненська міська рада", "Рівне", "Riwne"),
    ("Житомирська міська рада", "Житомир", "Zhytomyr"),
    ("Полтавська міська рада", "Полтава", "Poltava"),
    ("Ірпінська міська рада", "Ірпінь", "Kyiv"),
    ("Kryvyi Rih City Council", "Kryvyi Rih", "Dnipropetrowsk"),
)]
GRANTORS = [
    nrw("Staatskanzlei des Landes Nordrhein-Westfalen", "STATE_GOVERNMENT", "Düsseldorf"),
    nrw("Ministerium des Innern des Landes Nordrhein-Westfalen", "STATE_GOVERNMENT", "Düsseldorf"),
    nrw("Engagement Global gGmbH", "INTERMEDIARY", "Düsseldorf"),
]
RECIPIENTS = [
    nrw("Blau-Gelbes Kreuz Deutsch-Ukrainischer Verein e.V.", "NGO", "Köln"),
    nrw("action medeor e.V.", "NGO", "Tönisvorst"),
    org("Kinder in Not e.V.", "NGO", None, None, "DE"),
    org("Libereco – Partnership for Human Rights", "NGO", None, None, "DE"),
    nrw("Universitätsklinikum Essen", "HOSPITAL", "Essen"),
    nrw("Grenzenlose Wärme, \"Dortmund\"", "NGO", "Dortmund"),
]
PROGRAMMES = ["Wiederaufbauprojekte NRW-Dnipropetrowsk (Ukraine)", "NRW hilft der Ukraine", "Humanitäre Hilfe, Winter 2022", None]
DESTS = [("Дніпро", "Dnipropetrowsk"), ("Полтава", "Poltava"), ("Kryvyi Rih", "Dnipropetrowsk"),
         ("Львів", "Lviv"), ("Павлоград", "Dnipropetrowsk"), ("Рівне", "Riwne")]
CATS = ["MEDICAL_SUPPLIES", "MEDICINES", "GENERATORS", "VEHICLES", "FIRE_RESCUE_EQUIPMENT",
        "WATER_SUPPLY", "SHELTER", "FOOD", "HYGIENE"]
KINDS = ["CITY", "SOLIDARITY", "PROJECT", "OPERATOR", "INSTITUTIONAL"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def uid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def gen(outdir):
    rng = random.Random(20230228)
    ev = {t: [] for t in TYPES}
    for t in TYPES:
        for f in sorted(glob.glob(os.path.join(SRC, "schemas/examples/valid", t, "*.json"))):
            ev[t].append(json.load(open(f, encoding="utf-8")))
    # partnerships: 6 founded by Feb 2022, 36 by Nov 2023, 44 by 2024 (with
    # the 4 seed examples among them)
    seeds = len(ev["partnership.founded"])
    seed_dates = sorted(e["founded_on"] for e in ev["partnership.founded"])
    plan = []  # (date) of generated partnerships
    before = sum(1 for d in seed_dates if d <= "2022-02-28")
    mid = sum(1 for d in seed_dates if "2022-02-28" < d <= "2023-11-30")
    late = seeds - before - mid
    start = dt.date(2014, 6, 1)
    for i in range(6 - before):
        plan.append(start + dt.timedelta(days=rng.randrange(0, (dt.date(2022, 2, 20) - start).days)))
    a, b = dt.date(2022, 3, 1), dt.date(2023, 11, 30)
    for i in range(30 - mid):
        plan.append(a + dt.timedelta(days=rng.randrange(0, (b - a).days)))
    a, b = dt.date(2023, 12, 1), dt.date(2024, 6, 30)
    for i in range(8 - late):
        plan.append(a + dt.timedelta(days=rng.randrange(0, (b - a).days)))
    for i, d in enumerate(sorted(plan)):
        n, u = rng.choice(NRW), rng.choice(UA)
        ev["partnership.founded"].append({
            "event_id": uid(rng), "occurred_at": iso(dt.datetime(d.year, d.month, d.day, 10, 0)),
            "source": "auslandsgesellschaft", "partnership_id": "P-%03d" % i,
            "kind": rng.choice(KINDS), "nrw_party": n, "ukrainian_party": u,
            "founded_on": d.isoformat(), "areas": rng.sample(["health", "water", "schools", "culture"], 2),
            "note": None})
    # grants, including one exactly at each range boundary used by the tests
    day0 = dt.datetime(2022, 3, 1, 8, 0)
    boundaries = [dt.datetime(2023, 1, 1), dt.datetime(2023, 7, 1)]
    for i in range(40):
        t = boundaries[i] if i < 2 else day0 + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 800))
        amt = D(rng.randrange(100, 50000000)) / 100
        ev["funds.granted"].append({
            "event_id": uid(rng), "occurred_at": iso(t), "source": "staatskanzlei-nrw",
            "grant_id": "G-%03d" % i, "grantor": rng.choice(GRANTORS), "recipient": rng.choice(RECIPIENTS),
            "programme": rng.choice(PROGRAMMES), "purpose": "Zweck; \"Hilfe\", Nr. %d\nzweite Zeile" % i,
            "amount": "%.2f" % amt, "currency": "EUR", "recurrence": rng.choice(["ONCE", "ONCE", "MONTHLY"]),
            "granted_on": t.date().isoformat(), "note": None})
    # amendments: three grants are reported again later with a corrected
    # amount (as a poller publishes a changed spreadsheet row); the report
    # must count each grant once, with its latest amount
    for i in (5, 6, 7):
        g = dict(ev["funds.granted"][i])
        t = parse_time(g["occurred_at"]) + dt.timedelta(days=30)
        g.update({"event_id": uid(rng), "occurred_at": iso(t.replace(tzinfo=None)),
                  "amount": "%.2f" % (D(g["amount"]) + D("1000.00")),
                  "note": "Betrag korrigiert"})
        ev["funds.granted"].append(g)
    # a conflict: another organisation reports one of the State's grants again
    # with EUR 1.00; the report must keep the owner's figure and list it
    g = dict(ev["funds.granted"][8])
    t = parse_time(g["occurred_at"]) + dt.timedelta(days=60)
    g.update({"event_id": "6f0c2a1e-8d3b-4c55-9a7e-0b1d2c3e4f50", "occurred_at": iso(t.replace(tzinfo=None)),
              "source": "blau-gelbes-kreuz", "amount": "1.00", "note": "overwrite attempt"})
    ev["funds.granted"].append(g)
    # shipments and confirmations
    for i in range(80):
        t = boundaries[i] if i < 2 else dt.datetime(2022, 12, 1, 6, 0) + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 560))
        city, oblast = rng.choice(DESTS)
        items = []
        for k in range(rng.randrange(1, 4)):
            items.append({"category": rng.choice(CATS), "description": "Güter %d/%d" % (i, k),
                          "quantity": rng.randrange(1, 400), "unit": rng.choice([None, "pallets", "boxes"])})
        val = None if rng.random() < 0.15 else "%.2f" % (D(rng.randrange(1000, 30000000)) / 100)
        kg = None if rng.random() < 0.2 else "%.1f" % (D(rng.randrange(100, 400000)) / 10)
        sid = "S-%03d" % i
        ev["aid.dispatched"].append({
            "event_id": uid(rng), "occurred_at": iso(t), "source": "blau-gelbes-kreuz", "shipment_id": sid,
            "sender": rng.choice(RECIPIENTS), "destination": {"facility": None, "city": city, "oblast": oblast, "country": "UA"},
            "dispatched_on": t.date().isoformat(), "transport": "40-t-Lkw", "items": items,
            "declared_value": val, "currency": "EUR", "gross_weight_kg": kg, "note": None})
        if rng.random() < 0.7:
            t2 = t + dt.timedelta(days=rng.randrange(2, 12), minutes=7)
            ev["aid.delivered"].append({
                "event_id": uid(rng), "occurred_at": iso(t2), "source": "dnipro-oblast-administration",
                "shipment_id": sid, "recipient": rng.choice(UA), "delivered_on": t2.date().isoformat(),
                "condition": rng.choice(["COMPLETE", "COMPLETE", "PARTIAL", "DAMAGED"]), "note": None})
    os.makedirs(outdir, exist_ok=True)
    for t in TYPES:
        lst = sorted(ev[t], key=lambda e: e["occurred_at"])
        # local disorder (at most 4 places), as publishers deliver it
        for i in range(0, len(lst) - 3, 7):
            lst[i], lst[i + 3] = lst[i + 3], lst[i]
        with open(os.path.join(outdir, t + ".jsonl"), "w", encoding="utf-8") as f:
            for e in lst:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")


def parse_time(s):
    if len(s) == 10:
        return dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def load(d, since=None, until=None):
    out = {}
    for t in TYPES:
        lst = []
        for line in open(os.path.join(d, t + ".jsonl"), encoding="utf-8"):
            e = json.loads(line)
            at = parse_time(e["occurred_at"])
            if since and at < since:
                continue
            if until and at >= until:
                continue
            lst.append(e)
        out[t] = lst
    return out


def money(m):
    return {k: "%.2f" % v for k, v in sorted(m.items())}


ENTITY = {"funds.granted": "grant_id", "aid.dispatched": "shipment_id",
          "partnership.founded": "partnership_id"}


def latest_per_entity(ev):
    """Each grant / shipment dispatch / partnership once: its latest
    version by occurred_at (ties: the larger event_id, as the replay merge
    orders them), among the versions from its owner: the source of its
    first version in that order. Versions from another source are
    conflicts. Returns (older versions dropped, conflicts)."""
    dropped, conflicts = 0, []
    for t, key in ENTITY.items():
        best, owner, kept = {}, {}, []
        for e in sorted(ev[t], key=lambda e: (e["occurred_at"], e["event_id"])):
            k = e[key]
            owner.setdefault(k, e["source"])
            if e["source"] != owner[k]:
                conflicts.append({"type": t, "entity": k, "owner": owner[k], "source": e["source"],
                                  "event_id": e["event_id"], "occurred_at": e["occurred_at"]})
                continue
            kept.append(e)
            if k not in best or (e["occurred_at"], e["event_id"]) >= (best[k]["occurred_at"], best[k]["event_id"]):
                best[k] = e
        dropped += len(kept) - len(best)
        ev[t] = list(best.values())
    return dropped, conflicts


def expect(d, since, until, as_of):
    ev = load(d, since, until)
    superseded, conflicts = latest_per_entity(ev)
    counts = {t: len(ev[t]) for t in TYPES}
    r = {"events": {"funds.granted": counts["funds.granted"], "aid.dispatched": counts["aid.dispatched"],
                    "aid.delivered": counts["aid.delivered"], "partnership.founded": counts["partnership.founded"],
                    "other": 0, "duplicates_skipped": 0, "superseded": superseded,
                    "conflicts": len(conflicts)},
         "conflicts": conflicts}
    # funds
    total = defaultdict(D)
    groups = {k: defaultdict(lambda: [0, defaultdict(D)]) for k in ("programme", "grantor", "recipient", "month")}
    for e in ev["funds.granted"]:
        a = D(e["amount"])
        total[e["currency"]] += a
        keys = {"programme": e["programme"] or "(no programme)", "grantor": e["grantor"]["name"],
                "recipient": e["recipient"]["name"], "month": e["granted_on"][:7]}
        for k, v in keys.items():
            groups[k][v][0] += 1
            groups[k][v][1][e["currency"]] += a

    def rows(g, name, cname, extra=None):
        out = []
        for key in sorted(g, key=lambda s: s.encode()):
            row = {name: key, cname: g[key][0], "amount": money(g[key][1])}
            out.append(row)
        return out
    r["funds"] = {"grants": len(ev["funds.granted"]), "total": money(total),
                  "by_programme": rows(groups["programme"], "programme", "grants"),
                  "by_grantor": rows(groups["grantor"], "grantor", "grants"),
                  "by_recipient": rows(groups["recipient"], "recipient", "grants"),
                  "by_month": rows(groups["month"], "month", "grants")}
    # aid

    def aidrow():
        return {"n": 0, "val": defaultdict(D), "undecl": 0, "kg": D(0), "unk": 0, "lines": 0, "qty": defaultdict(D)}

    def add(a, e):
        a["n"] += 1
        if e["declared_value"] is None:
            a["undecl"] += 1
        else:
            a["val"][e["currency"]] += D(e["declared_value"])
        if e["gross_weight_kg"] is None:
            a["unk"] += 1
        else:
            a["kg"] += D(e["gross_weight_kg"])

    def aidout(a, lines=False):
        o = {"declared_value": money(a["val"]), "undeclared_value": a["undecl"],
             "gross_weight_kg": "%.1f" % a["kg"], "unknown_weight": a["unk"]}
        if lines:
            o["item_lines"] = a["lines"]
            o["quantity"] = {k: "%d" % v for k, v in sorted(a["qty"].items())}
        return o
    tot = aidrow()
    g = {k: defaultdict(aidrow) for k in ("oblast", "city", "category", "month")}
    for e in ev["aid.dispatched"]:
        add(tot, e)
        add(g["oblast"][e["destination"]["oblast"]], e)
        add(g["city"][(e["destination"]["city"], e["destination"]["oblast"])], e)
        add(g["month"][e["dispatched_on"][:7]], e)
        seen = set()
        for it in e["items"]:
            c = g["category"][it["category"]]
            c["lines"] += 1
            c["qty"][it["unit"] or ""] += it["quantity"]
            if it["category"] not in seen:
                seen.add(it["category"])
                add(c, e)
    enc = lambda s: s.encode()
    r["aid"] = dict({"shipments": tot["n"]}, **{k: v for k, v in aidout(tot).items()})
    r["aid"]["by_oblast"] = [dict({"oblast": k, "shipments": g["oblast"][k]["n"]}, **aidout(g["oblast"][k]))
                             for k in sorted(g["oblast"], key=enc)]
    r["aid"]["by_city"] = [dict({"city": k[0], "oblast": k[1], "shipments": g["city"][k]["n"]}, **aidout(g["city"][k]))
                           for k in sorted(g["city"], key=lambda k: (k[0].encode(), k[1].encode()))]
    r["aid"]["by_category"] = [dict({"category": k, "shipments": g["category"][k]["n"]}, **aidout(g["category"][k], True))
                               for k in sorted(g["category"], key=enc)]
    r["aid"]["by_month"] = [dict({"month": k, "shipments": g["month"][k]["n"]}, **aidout(g["month"][k]))
                            for k in sorted(g["month"], key=enc)]
    # deliveries
    disp = {}
    for e in ev["aid.dispatched"]:
        disp.setdefault(e["shipment_id"], e)
    conf = {}
    for e in ev["aid.delivered"]:
        conf.setdefault(e["shipment_id"], e)
    asof_day = parse_time(as_of).date()
    unconf = []
    cond = {"COMPLETE": 0, "PARTIAL": 0, "DAMAGED": 0}
    for sid, e in disp.items():
        if sid in conf:
            cond[conf[sid]["condition"]] += 1
        else:
            age = (asof_day - dt.date.fromisoformat(e["dispatched_on"])).days
            unconf.append({"shipment_id": sid, "dispatched_on": e["dispatched_on"],
                           "destination_city": e["destination"]["city"],
                           "destination_oblast": e["destination"]["oblast"], "age_days": age})
    unconf.sort(key=lambda u: (-u["age_days"], u["shipment_id"].encode()))
    r["deliveries"] = {"dispatched": len(disp), "confirmed": sum(1 for s in disp if s in conf),
                       "unconfirmed": len(unconf), "by_condition": cond,
                       "confirmed_without_dispatch": sum(1 for s in conf if s not in disp),
                       "unconfirmed_shipments": unconf}
    # partnerships
    pk = defaultdict(int)
    pn = defaultdict(int)
    pu = defaultdict(int)
    pm = defaultdict(int)
    for e in ev["partnership.founded"]:
        pk[e["kind"]] += 1
        pn[e["nrw_party"]["name"]] += 1
        pu[e["ukrainian_party"]["name"]] += 1
        pm[e["founded_on"][:7]] += 1
    cum, c = [], 0
    for m in sorted(pm):
        c += pm[m]
        cum.append({"month": m, "founded": pm[m], "cumulative": c})
    r["partnerships"] = {"total": len(ev["partnership.founded"]),
                         "by_kind": [{"kind": k, "partnerships": pk[k]} for k in sorted(pk)],
                         "by_nrw_party": [{"party": k, "partnerships": pn[k]} for k in sorted(pn, key=enc)],
                         "by_ukrainian_party": [{"party": k, "partnerships": pu[k]} for k in sorted(pu, key=enc)],
                         "cumulative": cum}
    return r


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append("%s/%s: expected %r, got %r" % (path, k, a.get(k, "<missing>"), b.get(k, "<missing>")))
            else:
                diff(a[k], b[k], path + "/" + k, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append("%s: expected %d entries, got %d" % (path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s/%d" % (path, i), out)
    elif a != b or type(a) != type(b):
        out.append("%s: expected %r, got %r" % (path, a, b))


def main():
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif sys.argv[1] == "expect":
        args = sys.argv[3:]
        opt = dict(zip(args[::2], args[1::2]))
        since = parse_time(opt["--since"]) if "--since" in opt else None
        until = parse_time(opt["--until"]) if "--until" in opt else None
        json.dump(expect(sys.argv[2], since, until, opt["--as-of"]), sys.stdout, ensure_ascii=False, indent=1)
    elif sys.argv[1] == "compare":
        exp = json.load(open(sys.argv[2], encoding="utf-8"))
        got = json.load(open(sys.argv[3], encoding="utf-8"))
        got.pop("report", None)
        out = []
        diff(exp, got, "", out)
        for line in out[:40]:
            print(line, file=sys.stderr)
        if out:
            print("%d figure(s) differ" % len(out), file=sys.stderr)
            sys.exit(1)
        print("all %d figures equal" % count(exp))


def count(x):
    if isinstance(x, dict):
        return sum(count(v) for v in x.values())
    if isinstance(x, list):
        return sum(count(v) for v in x)
    return 1


if __name__ == "__main__":
    main()
