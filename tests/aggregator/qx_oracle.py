"""An independent oracle for the Stats API executor (aggregator/q_exec*.c):
reads the raw events and visits tables (read-only) and computes, in
Python, the numbers docs/api.md defines -- visitors as visitor identities
(visitor id, UTC day) counted in the bucket of their first matching event
of that day (time:hour: distinct identities per hour), visits of an event
value counted where the value first appears in the visit, visit
dimensions and session metrics by visit start -- with site-local buckets
from Python's zoneinfo (not tallyd's TZif reader)."""

import collections
import json
import datetime
import sqlite3
from zoneinfo import ZoneInfo

DAY = 86400000

EVENT_DIMS = {"event:page": "page", "event:name": "name",
              "event:hostname": "host"}
VISIT_DIMS = {"visit:source": "source", "visit:country": "country",
              "visit:entry_page": "entry", "visit:exit_page": "exit",
              "visit:device": "device"}


class Data:
    def __init__(self, db):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        S = dict(con.execute("SELECT id, s FROM strings"))
        S[0] = ""
        self.sites = {d: (i, tz) for i, d, tz in
                      con.execute("SELECT id, domain, timezone FROM sites")}
        attrs = {r[0]: r[1:] for r in con.execute(
            "SELECT id, source, country, device FROM attrs")}
        self.visits = {}
        for (vid, site, vis, st, en, entry, ex, aid, pv, ev, b) in con.execute(
                "SELECT id, site_id, visitor_id, start_ts, end_ts,"
                " entry_page_id, exit_page_id, attrs_id, pageviews, events,"
                " bounce FROM visits"):
            a = attrs.get(aid, (0, 0, 0))
            self.visits[vid] = dict(
                id=vid, site=site, visitor=vis, start=st, end=en,
                entry=S[entry], exit=S[ex], source=S[a[0]] or "Direct / None",
                country=S[a[1]] or "(not set)", device=S[a[2]] or "(not set)",
                pageviews=pv, events=ev, bounce=b)
        self.events = []
        for (site, ts, vis, vid, n, p, h, pr) in con.execute(
                "SELECT site_id, ts, visitor_id, visit_id, name_id,"
                " pathname_id, hostname_id, props_id FROM events"
                " ORDER BY site_id, ts, seq"):
            props = json.loads(S[pr]) if pr else {}
            self.events.append(dict(site=site, ts=ts, visitor=vis, visit=vid,
                                    name=S[n], page=S[p], host=S[h],
                                    props=props, v=self.visits[vid]))
        con.close()


def local(ts_ms, tz):
    return datetime.datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(tz))


def bucket(kind, ts_ms, tz, first_day):
    d = local(ts_ms, tz)
    if kind == "time:hour":
        return d.strftime("%Y-%m-%d %H:00:00")
    day = d.date()
    if kind == "time:week":
        mon = day - datetime.timedelta(days=day.weekday())
        return max(mon, first_day).isoformat()
    if kind == "time:month":
        return day.replace(day=1).isoformat()
    return day.isoformat()


def hour_instance(ts_ms, tz):
    off = int(local(ts_ms, tz).utcoffset().total_seconds())
    s = ts_ms // 1000
    return (s + off) // 3600 * 3600 - off


def rnd(x):
    return int(x + 0.5)


def query(data, site, frm, to, dims, metrics, ev_filter=None, vi_filter=None,
          first_day=None):
    """{tuple(dimension labels): [metric values]} for the range [frm, to)
    (UTC ms).  ev_filter(event) filters events (and visits having a
    matching event); vi_filter(visit) filters visits (and their events)."""
    sid, tz = data.sites[site]
    tdim = next((d for d in dims if d.startswith("time")), None)
    hourmode = tdim == "time:hour"
    has_ev = any(d in EVENT_DIMS or d.startswith("event:props:") for d in dims)
    has_vi = any(d in VISIT_DIMS for d in dims)
    vi_rows = has_vi and not has_ev

    def keys_ev(e):
        return tuple(e[EVENT_DIMS[d]] if d in EVENT_DIMS else
                     e["props"].get(d[12:], "(none)") if d.startswith("event:props:") else
                     e["v"][VISIT_DIMS[d]] if d in VISIT_DIMS else None
                     for d in dims)

    def keys_vi(v):
        return tuple(v["entry"] if d == "event:page" else
                     v[VISIT_DIMS[d]] if d in VISIT_DIMS else None
                     for d in dims)

    def ok_ev(e):
        return (ev_filter is None or ev_filter(e)) and \
               (vi_filter is None or vi_filter(e["v"]))

    def put_time(k, ts):
        if tdim is None:
            return k
        i = dims.index(tdim)
        return k[:i] + (bucket(tdim, ts, tz, first_day),) + k[i + 1:]

    acc = collections.defaultdict(collections.Counter)
    day0 = frm // DAY * DAY
    need_ev_visits = has_ev and "visits" in metrics
    seen, seen_visit = set(), set()
    lo = day0 - DAY if need_ev_visits else (frm if hourmode else day0)
    ev_metrics = [m for m in metrics if m in ("visitors", "pageviews", "events")
                  or (m == "visits" and has_ev)]
    if not vi_rows:
        for e in data.events:
            if e["site"] != sid or not lo <= e["ts"] < to or not ok_ev(e):
                continue
            inr = e["ts"] >= frm
            k0 = keys_ev(e)
            k = put_time(k0, e["ts"])
            if inr:
                acc[k]["ev_pv"] += e["name"] == "pageview"
                acc[k]["ev_ev"] += 1
            ident = (k0, e["visitor"], hour_instance(e["ts"], tz) if hourmode
                     else e["ts"] // DAY)
            if ident not in seen:
                seen.add(ident)
                if inr:
                    acc[k]["ev_visitors"] += 1
            if need_ev_visits and (k0, e["visit"]) not in seen_visit:
                seen_visit.add((k0, e["visit"]))
                if inr:
                    acc[k]["ev_visits"] += 1
        if not ev_metrics:
            acc.clear()
    need_vi = vi_rows or any(m in ("bounce_rate", "visit_duration") or
                             (m == "visits" and not has_ev) for m in metrics)
    if need_vi:
        matching = None
        if ev_filter is not None:
            matching = {e["visit"] for e in data.events if e["site"] == sid
                        and day0 <= e["ts"] < to + 2 * DAY and ok_ev(e)}
        first = {}
        seen = set()
        for v in data.visits.values():
            if v["site"] != sid or not day0 <= v["start"] < to:
                continue
            if vi_filter is not None and not vi_filter(v):
                continue
            if matching is not None and v["id"] not in matching:
                continue
            inr = v["start"] >= frm
            k0 = keys_vi(v)
            k = put_time(k0, v["start"])
            if inr:
                a = acc[k]
                a["vi_visits"] += 1
                a["vi_bounces"] += v["bounce"]
                a["vi_duration"] += v["end"] // 1000 - v["start"] // 1000
                a["vi_pv"] += v["pageviews"]
                a["vi_ev"] += v["events"]
            if hourmode:
                ident = (k0, v["visitor"], hour_instance(v["start"], tz))
                if ident not in seen and inr:
                    acc[k]["vi_visitors"] += 1
                seen.add(ident)
            else:
                ident = (k0, v["visitor"], v["start"] // DAY)
                first[ident] = min(first.get(ident, v["start"]), v["start"])
        for (k0, _, _), st in first.items():
            if st >= frm:
                acc[put_time(k0, st)]["vi_visitors"] += 1
    if not dims and not acc:
        acc[()] = collections.Counter()
    out = {}
    for k, a in acc.items():
        row = []
        for m in metrics:
            if m == "visitors":
                row.append(a["vi_visitors"] if vi_rows else a["ev_visitors"])
            elif m == "visits":
                row.append(a["ev_visits"] if has_ev else a["vi_visits"])
            elif m == "pageviews":
                row.append(a["vi_pv"] if vi_rows else a["ev_pv"])
            elif m == "events":
                row.append(a["vi_ev"] if vi_rows else a["ev_ev"])
            elif m == "bounce_rate":
                row.append(rnd(100 * a["vi_bounces"] / a["vi_visits"]) if a["vi_visits"] else 0)
            elif m == "visit_duration":
                row.append(rnd(a["vi_duration"] / a["vi_visits"]) if a["vi_visits"] else 0)
        out[tuple(x for x in k)] = row
    return out


def answer(resp):
    return {tuple(r["dimensions"]): r["metrics"] for r in resp["results"]}
