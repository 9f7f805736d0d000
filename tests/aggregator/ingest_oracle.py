"""An independent oracle for tallyd's rollups: sessionizes the raw events
table in Python (30 minutes of inactivity end a visit), derives every
visit's attributes from its first pageview, and computes every rollup
number -- per dimension value, per hour and per day -- straight from raw
events.  Also helpers to build the spool generator and dump tables.

Only reads the database (opened read-only)."""

import collections
import json
import os
import sqlite3
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.environ.get("TALLY_BIN", os.path.join(ROOT, "build"))
TALLYD = os.path.join(BIN_DIR, "tallyd")
HOUR = 3600000
DAY = 86400000
IDLE = 30 * 60000

# dims.h
TOTAL, PAGE, HOSTNAME, NAME, PROP = 0, 1, 2, 3, 4
ENTRY, EXIT = 5, 6
ATTR_COLS = ["source", "referrer", "channel", "utm_medium", "utm_source",
             "utm_campaign", "utm_content", "utm_term", "country", "browser",
             "browser_version", "os", "os_version", "device"]
# visit dims 7..20 as (attr index for k1, attr index for k2 or None)
VISIT_ATTR_DIMS = {7: (0, None), 8: (1, None), 9: (2, None), 10: (3, None),
                   11: (4, None), 12: (5, None), 13: (6, None),
                   14: (7, None), 15: (8, None), 16: (9, None),
                   17: (9, 10), 18: (11, None), 19: (11, 12),
                   20: (13, None)}
METRICS = ["visitors_hour", "visitors_new", "visits", "pageviews", "events",
           "bounces", "duration"]


def gen_spool_bin():
    """build/gen-spool (the Makefile builds it); compiled here against
    build/libspool.a when the Makefile has not."""
    p = os.path.join(BIN_DIR, "gen-spool")
    if os.path.exists(p):
        return p
    src = os.path.join(ROOT, "tools", "gen-spool.c")
    lib = os.path.join(BIN_DIR, "libspool.a")
    out = os.path.join(BIN_DIR, "gen-spool-test")
    if (not os.path.exists(out)
            or os.path.getmtime(out) < os.path.getmtime(src)):
        subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-I", ROOT,
                        "-o", out + ".tmp", src, lib, "-lm"], check=True)
        os.replace(out + ".tmp", out)
    return out


def gen_spool(out, **kw):
    args = [gen_spool_bin(), "--out", out]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    r = subprocess.run(args, check=True, capture_output=True, text=True)
    return int(r.stdout.split()[1])


def drain_once(spool, db, *extra, check=True):
    r = subprocess.run([TALLYD, "drain", "--once", "--spool", spool,
                        "--db", db, *extra], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"tallyd drain failed ({r.returncode}): {r.stderr}")
    return r


def drained_sites(work, sites_tz, **gen):
    """A spool generated into work/spool (gen: gen_spool's options),
    drained once into work/t.db, and the sites of sites_tz (domain ->
    IANA zone) added.  Returns (db, cli): cli a tally.Tallyd used only
    for its CLI on that database."""
    import tally
    spool = os.path.join(work, "spool")
    gen_spool(spool, **gen)
    db = os.path.join(work, "t.db")
    drain_once(spool, db)
    cli = tally.Tallyd(spool, workdir=work)
    cli.db = db
    for site, tz in sites_tz.items():
        cli.cli("sites", "add", "--db", db, site, "--timezone", tz)
    return db, cli


def connect_ro(path):
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def oracle(con):
    """Returns (hourly, daily_visitors, visits):
    hourly[(site, dim, hour, k1, k2)] = {metric: value} for every metric
    but visitors_new; daily_visitors[(site, dim, day, k1, k2)] = distinct
    visitors; visits = list of oracle visits (dicts)."""
    strings = {s: i for i, s in con.execute("SELECT id, s FROM strings")}
    pv_id = strings.get("pageview", -1)
    attrs = {r[0]: r[1:] for r in con.execute(
        "SELECT id, " + ", ".join(ATTR_COLS) + " FROM attrs")}
    attrs[0] = (0,) * 14
    props_cache = {}

    def props(pid):
        if pid == 0:
            return []
        if pid not in props_cache:
            text = con.execute("SELECT s FROM strings WHERE id = ?",
                               (pid,)).fetchone()[0]
            out = []
            for k, v in json.loads(text).items():
                if v is None:
                    continue
                vs = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                out.append((strings[k], strings[vs] if vs else 0))
            props_cache[pid] = out
        return props_cache[pid]

    hourly = collections.defaultdict(lambda: collections.Counter())
    hour_vis = collections.defaultdict(set)
    day_vis = collections.defaultdict(set)
    visits = []
    rows = con.execute(
        "SELECT site_id, ts, seq, visitor_id, visit_id, name_id, pathname_id,"
        " hostname_id, attrs_id, props_id, flags FROM events"
        " ORDER BY site_id, visitor_id, ts, seq")
    cur = None

    def close(v):
        if v is None:
            return
        visits.append(v)

    for (site, ts, seq, vis, visit_id, name, path, host, aid, pid,
         flags) in rows:
        pv = name == pv_id
        if cur is None or cur["site"] != site or cur["visitor"] != vis \
                or ts - cur["last"] > IDLE:
            close(cur)
            cur = {"site": site, "visitor": vis, "first": ts, "last": ts,
                   "events": [], "ids": set()}
        cur["last"] = ts
        cur["events"].append((ts, seq, name, path, aid, pv, flags))
        cur["ids"].add(visit_id)
        hour = ts // HOUR
        values = [(TOTAL, 0, 0), (PAGE, path, 0), (HOSTNAME, host, 0),
                  (NAME, name, 0)] + [(PROP, k, v) for k, v in props(pid)]
        seen = cur.setdefault("seen", set())
        for dim, k1, k2 in values:
            key = (site, dim, hour, k1, k2)
            c = hourly[key]
            c["events"] += 1
            c["pageviews"] += pv
            if dim != TOTAL and (dim, k1, k2) not in seen:
                seen.add((dim, k1, k2))
                c["visits"] += 1
            hour_vis[key].add(vis)
            day_vis[(site, dim, ts // DAY, k1, k2)].add(vis)
    close(cur)

    for v in visits:
        evs = v["events"]
        pvs = [e for e in evs if e[5]]
        first = min(pvs or evs, key=lambda e: (e[0], e[1]))
        last = max(pvs or evs, key=lambda e: (e[0], e[1]))
        start = min(e[0] for e in evs)
        end = max(e[0] for e in evs)
        interactive = sum(1 for e in evs if not e[5] and not (e[6] & 1))
        v.update(entry=first[3], exit=last[3], attrs=first[4],
                 pageviews=len(pvs), nevents=len(evs),
                 bounce=int(len(pvs) == 1 and interactive == 0),
                 duration=end // 1000 - start // 1000, start=start, end=end)
        hour = start // HOUR
        m = {"visits": 1, "bounces": v["bounce"], "duration": v["duration"]}
        c = hourly[(v["site"], TOTAL, hour, 0, 0)]
        for k, x in m.items():
            c[k] += x
        m.update(pageviews=v["pageviews"], events=v["nevents"])
        a = attrs[v["attrs"]]
        keys = {ENTRY: (v["entry"], 0), EXIT: (v["exit"], 0)}
        for dim, (i, j) in VISIT_ATTR_DIMS.items():
            keys[dim] = (a[i], a[j] if j is not None else 0)
        for dim, (k1, k2) in keys.items():
            key = (v["site"], dim, hour, k1, k2)
            c = hourly[key]
            for k, x in m.items():
                c[k] += x
            hour_vis[key].add(v["visitor"])
            day_vis[(v["site"], dim, start // DAY, k1, k2)].add(v["visitor"])
    for key, s in hour_vis.items():
        hourly[key]["visitors_hour"] = len(s)
    daily = {k: len(s) for k, s in day_vis.items()}
    return hourly, daily, visits


def rollups(con):
    """rollup_hourly as {(site, dim, hour, k1, k2): {metric: value}}."""
    out = {}
    for r in con.execute("SELECT site_id, dim, hour, k1, k2, "
                         + ", ".join(METRICS) + " FROM rollup_hourly"):
        out[tuple(r[:5])] = dict(zip(METRICS, r[5:]))
    return out


def compare(con):
    """Asserts every rollup number equals the oracle's; returns the number
    of values compared."""
    hourly, daily, visits = oracle(con)
    got = rollups(con)
    n = 0
    problems = []
    keys = set(got) | {k for k, c in hourly.items() if any(c.values())}
    for key in sorted(keys):
        want = hourly.get(key, {})
        have = got.get(key, {})
        for m in METRICS:
            if m == "visitors_new":
                continue
            n += 1
            if want.get(m, 0) != have.get(m, 0):
                problems.append((key, m, want.get(m, 0), have.get(m, 0)))
    # visitors: visitors_new summed over each day's hours == distinct per day
    per_day = collections.Counter()
    for (site, dim, hour, k1, k2), c in got.items():
        per_day[(site, dim, hour // 24, k1, k2)] += c["visitors_new"]
    for key in set(per_day) | set(daily):
        n += 1
        if per_day.get(key, 0) != daily.get(key, 0):
            problems.append((key, "visitors/day", daily.get(key, 0),
                             per_day.get(key, 0)))
    # the visits table and events.visit_id agree with the oracle's visits
    stored = {r[0]: r[1:] for r in con.execute(
        "SELECT id, site_id, visitor_id, start_ts, end_ts, entry_page_id,"
        " exit_page_id, attrs_id, pageviews, events, bounce FROM visits")}
    for v in visits:
        n += 1
        if len(v["ids"]) != 1:
            problems.append(("visit ids", v["site"], v["visitor"], v["start"],
                             sorted(v["ids"])))
            continue
        vid = next(iter(v["ids"]))
        want = (v["site"], v["visitor"], v["start"], v["end"], v["entry"],
                v["exit"], v["attrs"], v["pageviews"], v["nevents"], v["bounce"])
        if stored.get(vid) != want:
            problems.append(("visit", vid, want, stored.get(vid)))
    if len(stored) != len(visits):
        problems.append(("visit count", len(visits), len(stored)))
    assert not problems, f"{len(problems)} mismatches, first: {problems[:8]}"
    return n


def dump(con):
    """Every table tallyd's ingest writes, strings resolved, as sorted
    lists -- for comparing two databases row by row."""
    s = dict(con.execute("SELECT id, s FROM strings"))
    s[0] = ""
    site = dict(con.execute("SELECT id, domain FROM sites"))
    attrs = {r[0]: tuple(s[x] for x in r[1:]) for r in con.execute(
        "SELECT id, " + ", ".join(ATTR_COLS) + " FROM attrs")}
    attrs[0] = ("",) * 14
    out = {}
    out["events"] = sorted(
        (site[r[0]], r[1], r[2], r[3], r[4], s[r[5]], s[r[6]], s[r[7]],
         attrs[r[8]], s[r[9]], s[r[10]], r[11])
        for r in con.execute("SELECT site_id, ts, seq, visitor_id, visit_id,"
                             " name_id, pathname_id, hostname_id, attrs_id,"
                             " props_id, revenue_id, flags FROM events"))
    out["visits"] = sorted(
        (r[0], site[r[1]], r[2], r[3], r[4], s[r[5]], s[r[6]], attrs[r[7]],
         r[8], r[9], r[10])
        for r in con.execute("SELECT id, site_id, visitor_id, start_ts, end_ts,"
                             " entry_page_id, exit_page_id, attrs_id,"
                             " pageviews, events, bounce FROM visits"))
    out["rollup_hourly"] = sorted(
        (site[r[0]], r[1], r[2], s[r[3]], s[r[4]], *r[5:])
        for r in con.execute("SELECT site_id, dim, hour, k1, k2, "
                             + ", ".join(METRICS) + " FROM rollup_hourly"))
    return out
