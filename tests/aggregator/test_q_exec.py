"""The Stats API v2 executor (aggregator/q_exec*.c) on the real tallyd
and real SQLite: a realistic spool (tools/gen-spool.c, 3 sites over the
2024-03-31 DST change) drained by `tallyd drain --once`, the sites set to
UTC, Europe/Berlin and Asia/Kolkata (+05:30), then

  * every query shape answered both ways -- rollups (default) and raw
    events (TALLY_FORCE_RAW=1) -- must give identical responses, and the
    rollup shapes must really be answered from rollups (X-Tally-Path);
    a third instance reads raw events from a copy of the database whose
    first day is sealed into column blocks (`tallyd compact --seal-after
    1`; aggregator/db_seal.h), and must answer the same;
  * numbers are checked against tests/aggregator/qx_oracle.py, which
    computes them in Python from the raw tables with zoneinfo buckets;
  * filters, goals and conversion rates, hostile input.
"""

import datetime
import json
import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import ingest_oracle as orc  # noqa: E402
import qx_oracle as qo  # noqa: E402
import tally  # noqa: E402

DAY = 86400000
START_DAY = 19812                     # 2024-03-30; Europe's DST starts 03-31
SITES = {"site0.example": "UTC", "site1.example": "Europe/Berlin",
         "site2.example": "Asia/Kolkata"}


def start(db, spool, env):
    old = dict(os.environ)
    os.environ.update(env)
    try:
        t = tally.Tallyd(spool, workdir=os.path.dirname(db))
        t.db = db
        t.key = KEY[0]
        t.port = tally.free_port()
        t.log = db + f".{t.port}.log"
        return t.start()
    finally:
        os.environ.clear()
        os.environ.update(old)


KEY = [None]


@pytest.fixture(scope="module")
def env():
    work = tempfile.mkdtemp(prefix="tally-qx-")
    db, cli = orc.drained_sites(work, SITES, events=24000, sites=3, days=3,
                                writers=2, seed=11, start_day=START_DAY)
    cli.cli("goals", "add", "--db", db, "--site", "site0.example", "--event", "Signup")
    cli.cli("goals", "add", "--db", db, "--site", "site0.example", "--page", "/p/1*")
    cli.cli("goals", "add", "--db", db, "--site", "site0.example", "--page", "/**")
    KEY[0] = cli.add_key()
    empty1, empty2 = os.path.join(work, "e1"), os.path.join(work, "e2")
    os.makedirs(empty1)
    os.makedirs(empty2)
    fast = start(db, empty1, {"TALLY_API_RATE_PER_MIN": "0"})
    raw = start(db, empty2, {"TALLY_FORCE_RAW": "1",
                                "TALLY_API_RATE_PER_MIN": "0"})
    data = qo.Data(db)
    # the same data with its first day sealed, read by the raw path
    sdir = os.path.join(work, "sealed")
    os.makedirs(os.path.join(sdir, "e3"))
    sdb = os.path.join(sdir, "t.db")
    shutil.copy(db, sdb)
    cli.cli("compact", "--db", sdb, "--seal-after", "1")
    con = orc.connect_ro(sdb)
    sealed = con.execute("SELECT COUNT(*), TOTAL(ev_n) FROM sealed_days").fetchone()
    left = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    con.close()
    assert sealed[0] >= 3 and sealed[1] > 0 and left > 0, (sealed, left)
    assert sealed[1] + left == qo_events(db)
    seal = start(sdb, os.path.join(sdir, "e3"),
                 {"TALLY_FORCE_RAW": "1", "TALLY_API_RATE_PER_MIN": "0"})
    yield {"fast": fast, "raw": raw, "seal": seal, "data": data, "db": db,
           "work": work}
    fast.stop()
    raw.stop()
    seal.stop()
    shutil.rmtree(work, ignore_errors=True)


def qo_events(db):
    con = orc.connect_ro(db)
    n = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    con.close()
    return n


def post(t, body):
    st, h, b = tally.request(t.port, "POST", "/api/v2/query", body,
                             {"Authorization": f"Bearer {KEY[0]}"})
    return st, h.get("x-tally-path"), json.loads(b) if b else None


def iso(day):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


def both(env, body):
    """The response both ways; asserts they are equal.  Returns (status,
    path of the default instance, response)."""
    s1, p1, a = post(env["fast"], body)
    s2, p2, b = post(env["raw"], body)
    s3, p3, c = post(env["seal"], body)
    assert s1 == s2 == s3, (body, a, b, c)
    if s1 == 200:
        assert p2 == p3 == "raw"
        assert a == b, (json.dumps(body), p1)
        assert c == b, ("sealed", json.dumps(body))
    return s1, p1, a


DIMS = [[], ["time:day"], ["time:hour"], ["time:week"], ["time:month"], ["time"],
        ["event:page"], ["event:name"], ["event:hostname"], ["visit:source"],
        ["visit:referrer"], ["visit:channel"], ["visit:entry_page"],
        ["visit:exit_page"], ["visit:utm_source"], ["visit:utm_medium"],
        ["visit:utm_campaign"], ["visit:device"], ["visit:browser"],
        ["visit:browser_version"], ["visit:os"], ["visit:os_version"],
        ["visit:country"], ["visit:country_name"], ["time:day", "event:page"],
        ["time:hour", "visit:source"], ["time:day", "visit:country"]]
METRICS = [["visitors", "visits", "pageviews", "events"],
           ["visitors", "bounce_rate", "visit_duration", "percentage"],
           ["visits", "bounce_rate"], ["pageviews"]]


def refused(dims, metrics):
    """The word Plausible's validation names when it refuses a shape."""
    ev = [d for d in dims if d.startswith("event:")]
    if "percentage" in metrics and not dims:
        return "percentage"
    if set(metrics) & {"bounce_rate", "visit_duration"} and \
            any(d not in ("event:page", "event:hostname") for d in ev):
        return "Session metric"
    if set(metrics) & {"pageviews", "events"} and \
            set(dims) & {"visit:entry_page", "visit:exit_page"} and \
            not (ev and set(ev) <= {"event:page", "event:hostname"}):
        return "Event metric"
    if set(metrics) & {"bounce_rate", "visit_duration"} and "event:hostname" in dims:
        return "hostname"
    return None


def ranges():
    d = START_DAY
    return [[iso(d), iso(d + 2)], [iso(d + 1), iso(d + 1)],
            [f"{iso(d)}T06:00:00Z", f"{iso(d + 1)}T17:59:59Z"]]


@pytest.mark.parametrize("site", sorted(SITES))
def test_rollups_and_raw_events_agree(env, site):
    """Every shape, both ways: identical responses; whole-hour zones use
    the rollups for every unfiltered shape without version visitors."""
    n = 0
    for dims in DIMS:
        for metrics in METRICS:
            for dr in ranges():
                body = {"site_id": site, "metrics": metrics, "date_range": dr,
                        "dimensions": dims, "include": {"total_rows": True}}
                if any(d.startswith("time") for d in dims):
                    body["include"]["time_labels"] = True
                st, path, r = both(env, body)
                n += 1
                why = refused(dims, metrics)
                if why:
                    assert st == 400 and why in r["error"], (body, r)
                    continue
                assert st == 200, (body, r)
                version = any(d.endswith("_version") for d in dims) and \
                    any(m in ("visitors", "percentage") for m in metrics)
                if SITES[site] != "Asia/Kolkata" and not version:
                    assert path == "rollup", body
                if SITES[site] == "Asia/Kolkata":
                    assert path == "raw", body
    assert n == len(DIMS) * len(METRICS) * 3


def test_filters_on_the_breakdown_use_rollups_and_agree(env):
    cases = [
        (["event:page"], ["contains", "event:page", ["/p/1"]]),
        (["event:page"], ["is_not", "event:page", ["/"]]),
        (["visit:source"], ["is", "visit:source", ["Direct / None", "Google"]]),
        (["visit:country"], ["matches", "visit:country", ["^(DE|US)$"]]),
        (["visit:browser_version"], ["is", "visit:browser", ["Chrome"]]),
        (["event:name"], ["contains", "event:name", ["sign"], {"case_sensitive": False}]),
    ]
    for dims, f in cases:
        for metrics in (["visitors", "visits", "pageviews"], ["pageviews", "events"]):
            body = {"site_id": "site1.example", "metrics": metrics,
                    "date_range": ranges()[0], "dimensions": dims, "filters": [f]}
            st, path, r = both(env, body)
            assert st == 200, (body, r)
            version = dims == ["visit:browser_version"] and "visitors" in metrics
            assert path == ("raw" if version else "rollup"), body
    # no breakdown, a filter on one event dimension: rollups when exact
    for dims in ([], ["time:day"], ["time:hour"]):
        for f, metrics, rollup in (
                (["is", "event:page", ["/"]], ["visitors", "pageviews", "events"], True),
                (["contains", "event:page", ["/p/1"]], ["pageviews", "events"], True),
                (["contains", "event:page", ["/p/1"]], ["visitors", "pageviews"], False),
                (["is", "event:name", ["Signup"]], ["visitors", "events"], True),
                (["is", "event:page", ["/"]], ["visitors", "visits"], False)):
            body = {"site_id": "site1.example", "metrics": metrics,
                    "date_range": ranges()[0], "dimensions": dims, "filters": [f]}
            st, path, r = both(env, body)
            assert st == 200 and path == ("rollup" if rollup else "raw"), (body, path)


def window(site, dr):
    """[frm, to) in UTC ms of a date range of site (dates are local)."""
    tz = qo.ZoneInfo(SITES[site])
    if "T" in dr[0]:
        f = datetime.datetime.fromisoformat(dr[0].replace("Z", "+00:00"))
        t = datetime.datetime.fromisoformat(dr[1].replace("Z", "+00:00"))
        return int(f.timestamp() * 1000), int(t.timestamp() * 1000) + 1000
    f = datetime.datetime.fromisoformat(dr[0]).replace(tzinfo=tz)
    t = datetime.datetime.fromisoformat(dr[1]).replace(tzinfo=tz) + datetime.timedelta(days=1)
    return int(f.timestamp() * 1000), int(t.timestamp() * 1000)


ORACLE_DIMS = [[], ["time:day"], ["time:hour"], ["event:page"], ["event:name"],
               ["visit:source"], ["visit:country"], ["visit:entry_page"],
               ["time:day", "visit:source"], ["event:page", "visit:source"]]


@pytest.mark.parametrize("site", sorted(SITES))
def test_numbers_match_the_oracle(env, site):
    """Unfiltered (rollup path where possible) against Python over raw rows,
    in the site's zone: Berlin's 23-hour DST day, Kolkata's +05:30 days."""
    data = env["data"]
    for dims in ORACLE_DIMS:
        for dr in ranges()[:2]:
            metrics = ["visitors", "visits", "pageviews", "events"]
            if not any(d.startswith("event") for d in dims) or dims == ["event:page"]:
                metrics += ["bounce_rate", "visit_duration"]
            if "visit:entry_page" in dims:
                metrics = [m for m in metrics if m not in ("pageviews", "events")]
            body = {"site_id": site, "metrics": metrics, "date_range": dr,
                    "dimensions": dims}
            st, _, r = post(env["fast"], body)
            assert st == 200, r
            frm, to = window(site, dr)
            want = qo.query(data, site, frm, to, dims, metrics,
                            first_day=datetime.date.fromisoformat(dr[0]))
            got = qo.answer(r)
            assert got == want, (site, dims, dr, sorted(set(got) ^ set(want))[:5],
                                 [(k, got.get(k), want.get(k)) for k in want
                                  if got.get(k) != want.get(k)][:5])
    # the DST day really has 23 hours in Berlin, and 24 in Kolkata
    body = {"site_id": site, "metrics": ["pageviews"], "date_range": [iso(START_DAY + 1)] * 2,
            "dimensions": ["time:hour"], "include": {"time_labels": True}}
    st, _, r = post(env["fast"], body)
    assert len(r["meta"]["time_labels"]) == (23 if SITES[site] == "Europe/Berlin" else 24)


FILTERS = [
    ([["is", "event:page", ["/"]]], lambda e: e["page"] == "/", None),
    ([["contains", "event:page", ["/P/1"], {"case_sensitive": False}]],
     lambda e: "/p/1" in e["page"].lower(), None),
    ([["matches", "event:page", ["^/p/[0-9]$"]]],
     lambda e: __import__("re").search("^/p/[0-9]$", e["page"]) is not None, None),
    ([["is_not", "event:name", ["pageview"]]], lambda e: e["name"] != "pageview", None),
    ([["is", "visit:source", ["Direct / None"]]], None,
     lambda v: v["source"] == "Direct / None"),
    ([["is", "visit:country", ["DE", "FR"]], ["contains", "event:page", ["/p/"]]],
     lambda e: "/p/" in e["page"], lambda v: v["country"] in ("DE", "FR")),
    ([["or", [["is", "event:name", ["Signup"]], ["is", "visit:device", ["Mobile"]]]]],
     lambda e: e["name"] == "Signup" or e["v"]["device"] == "Mobile", None),
    ([["not", ["contains", "event:page", ["1"]]]], lambda e: "1" not in e["page"], None),
]


@pytest.mark.parametrize("i", range(len(FILTERS)))
def test_filtered_queries_match_the_oracle(env, i):
    filters, evf, vif = FILTERS[i]
    data = env["data"]
    site = "site1.example"
    for dims in ([], ["time:day"], ["event:page"], ["visit:source"], ["time:hour"]):
        metrics = ["visitors", "pageviews", "events", "visits"]
        if dims != ["event:page"]:
            metrics += ["bounce_rate", "visit_duration"]
        dr = ranges()[0]
        body = {"site_id": site, "metrics": metrics, "date_range": dr,
                "dimensions": dims, "filters": filters}
        st, path, r = both(env, body)
        assert st == 200, r
        frm, to = window(site, dr)
        want = qo.query(data, site, frm, to, dims, metrics, ev_filter=evf,
                        vi_filter=vif)
        got = qo.answer(r)
        if dims:
            want = {k: v for k, v in want.items() if any(v)}
            got = {k: v for k, v in got.items() if any(v)}
        assert got == want, (filters, dims, [(k, got.get(k), want.get(k))
                                             for k in set(got) | set(want)
                                             if got.get(k) != want.get(k)][:5])


def test_property_breakdowns_and_filters(env):
    data = env["data"]
    site = "site0.example"
    dr = ranges()[0]
    frm, to = window(site, dr)
    metrics = ["visitors", "visits", "pageviews", "events"]
    for dims, filters, evf in (
            (["event:props:plan"], [], None),
            (["event:props:file", "time:day"], [], None),
            (["event:name"], [["is", "event:props:plan", ["pro"]]],
             lambda e: e["props"].get("plan") == "pro"),
            (["event:props:plan"], [["is_not", "event:props:plan", ["(none)"]]],
             lambda e: "plan" in e["props"]),
            ([], [["matches", "event:props:file", ["tally-[12]"]]],
             lambda e: __import__("re").search("tally-[12]", e["props"].get("file", "")))):
        body = {"site_id": site, "metrics": metrics, "date_range": dr,
                "dimensions": dims, "filters": filters}
        st, path, r = both(env, body)
        assert st == 200 and path == "raw", r
        want = qo.query(data, site, frm, to, dims, metrics, ev_filter=evf,
                        first_day=datetime.date.fromisoformat(dr[0]))
        assert qo.answer(r) == want, (dims, filters)


def test_goals_and_conversion_rates(env):
    data = env["data"]
    site = "site0.example"
    dr = ranges()[0]
    frm, to = window(site, dr)
    body = {"site_id": site, "metrics": ["visitors", "events", "conversion_rate"],
            "date_range": dr, "dimensions": ["event:goal"]}
    st, _, r = both(env, body)
    assert st == 200, r
    got = qo.answer(r)
    total = qo.query(data, site, frm, to, [], ["visitors"])[()][0]

    def conv(pred):
        return qo.query(data, site, frm, to, [], ["visitors", "events"], ev_filter=pred)[()]
    signup = conv(lambda e: e["name"] == "Signup")
    p1 = conv(lambda e: e["name"] == "pageview" and e["page"].startswith("/p/1")
              and "/" not in e["page"][4:])
    allp = conv(lambda e: e["name"] == "pageview")
    want = {}
    for name, (v, n) in (("Signup", signup), ("Visit /p/1*", p1), ("Visit /**", allp)):
        if n:
            want[(name,)] = [v, n, round(100 * v / total, 2)]
    assert {k: v[:2] for k, v in got.items()} == {k: v[:2] for k, v in want.items()}
    assert len(want) == 3
    for k, v in want.items():
        assert abs(got[k][2] - v[2]) <= 0.01, (k, got[k], v)
    # goal filters naming only custom-event goals: the rollups answer
    # (the event name's rows), page goals need the raw events
    for flt, dims, rollup in (
            (["is", "event:goal", ["Signup"]], ["event:goal"], True),
            (["contains", "event:goal", ["ignu"]], ["time:day", "event:goal"], True),
            (["is", "event:goal", ["Signup", "Visit /p/1*"]], ["event:goal"], False)):
        body = {"site_id": site, "date_range": dr, "dimensions": dims,
                "metrics": ["visitors", "events", "visits", "conversion_rate"],
                "filters": [flt]}
        st, path, r = both(env, body)
        assert st == 200 and path == ("rollup" if rollup else "raw"), (body, path, r)
        if dims == ["event:goal"] and rollup:
            assert r["results"][0]["dimensions"] == ["Signup"]
            assert r["results"][0]["metrics"][:2] == list(signup), r
    # a goal filter + group conversion rate by source
    body = {"site_id": site, "metrics": ["visitors", "group_conversion_rate"],
            "date_range": dr, "dimensions": ["visit:source"],
            "filters": [["is", "event:goal", ["Signup"]]]}
    st, _, r = both(env, body)
    assert st == 200, r
    base = qo.query(data, site, frm, to, ["visit:source"], ["visitors"])
    conv_src = qo.query(data, site, frm, to, ["visit:source"], ["visitors"],
                        ev_filter=lambda e: e["name"] == "Signup")
    for row in r["results"]:
        k = tuple(row["dimensions"])
        v, rate = row["metrics"]
        assert v == conv_src[k][0]
        assert abs(rate - 100 * v / base[k][0]) <= 0.006


def test_pagination_order_and_meta(env):
    site = "site0.example"
    body = {"site_id": site, "metrics": ["pageviews", "visitors"],
            "date_range": ranges()[0], "dimensions": ["event:page"],
            "order_by": [["visitors", "asc"], ["event:page", "desc"]],
            "include": {"total_rows": True}}
    st, _, full = both(env, body)
    rows = full["results"]
    assert full["meta"]["total_rows"] == len(rows) > 20
    keys = [(r["metrics"][1], r["dimensions"][0]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (k[0], [-ord(c) for c in k[1]]))
    body["pagination"] = {"limit": 7, "offset": 5}
    st, _, page = both(env, body)
    assert page["results"] == rows[5:12]
    assert page["query"]["pagination"] == {"limit": 7, "offset": 5}


def test_hostile_input_gives_400_or_correct_results(env):
    site = "site0.example"
    dr = ranges()[0]
    evil = ["'; DROP TABLE events; --", "%", "_", "\" OR 1=1 --", "\\", "/p/1%"]
    for op in ("is", "contains", "is_not"):
        body = {"site_id": site, "metrics": ["pageviews"], "date_range": dr,
                "filters": [[op, "event:page", evil]]}
        st, _, r = both(env, body)
        assert st == 200, r
        want = qo.query(env["data"], site, *window(site, dr), [], ["pageviews"],
                        ev_filter=(lambda e: e["page"] in evil) if op == "is" else
                        (lambda e: any(x in e["page"] for x in evil)) if op == "contains"
                        else (lambda e: e["page"] not in evil))
        assert qo.answer(r) == want
    # the tables are still there
    st, _, r = post(env["fast"], {"site_id": site, "metrics": ["events"], "date_range": dr})
    assert st == 200 and r["results"][0]["metrics"][0] > 0
    # the largest filter list the parser allows runs, and correctly
    clauses = [f"/nope/{i}" for i in range(99)] + ["/"]
    filters = [["contains", "event:page", clauses]] * 50
    body = {"site_id": site, "metrics": ["pageviews"], "date_range": dr, "filters": filters}
    st, _, r = both(env, body)
    want = qo.query(env["data"], site, *window(site, dr), [], ["pageviews"],
                    ev_filter=lambda e: "/" in e["page"])
    assert st == 200 and qo.answer(r) == want
    # invalid or too costly regexes: 400 naming the problem, never a crash
    for pat in ["(", "a{99999}", "(?<=x)y", "\\1"]:
        body = {"site_id": site, "metrics": ["pageviews"], "date_range": dr,
                "filters": [["matches", "event:page", [pat]]]}
        st, _, r = both(env, body)
        assert st == 400 and "error" in r, (pat, r)
    body = {"site_id": site, "metrics": ["pageviews"], "date_range": dr,
            "filters": [["matches", "event:page", ["^(a|aa)+$"]]]}
    st, _, r = both(env, body)
    assert st in (200, 400)
    assert env["fast"].health() and env["raw"].health() and env["seal"].health()
