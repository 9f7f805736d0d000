"""The walking skeleton, end to end on the real parts: beacons posted to the
real NGINX with our module show up in tallyd's Stats API.

The expected numbers are computed here from what was posted (the oracle),
never copied from a run: visitors are distinct (site, User-Agent) pairs --
all requests come from 127.0.0.1, so the User-Agent is what tells visitors
apart -- counted per UTC day and summed."""

import os
import sqlite3
import time

import pytest

import tally

UAS = [f"Mozilla/5.0 (X11; Linux x86_64; rv:{100 + i}.0) Gecko/20100101 "
       f"Firefox/{100 + i}.0" for i in range(7)]


def post(edge, site, name, path, ua, props=None):
    body = {"name": name, "url": f"https://{site}{path}", "domain": site,
            "referrer": "https://www.google.com/"}
    if props:
        body["props"] = props
    st, _, data = edge.post(body, headers={"User-Agent": ua})
    assert st == 202, (st, data)


def expected(posted, site):
    days = {}
    for (s, name, ua, day) in posted:
        if s == site:
            days.setdefault(day, set()).add(ua)
    return {
        "visitors": sum(len(v) for v in days.values()),
        "pageviews": sum(1 for p in posted if p[0] == site
                         and p[1] == "pageview"),
        "events": sum(1 for p in posted if p[0] == site),
    }


def test_beacons_reach_the_stats_api(stack):
    edge, agg = stack
    posted = []
    plan = [("alpha.example", 5, 3), ("beta.example", 3, 1)]
    for site, n_ua, n_custom in plan:
        for i, ua in enumerate(UAS[:n_ua]):
            for path in ["/", f"/page/{i}"][: 1 + i % 2]:
                post(edge, site, "pageview", path, ua)
                posted.append((site, "pageview", ua, time.gmtime().tm_yday))
        for j in range(n_custom):
            post(edge, site, "Signup", "/signup", UAS[j],
                 props={"plan": "pro" if j % 2 else "free"})
            posted.append((site, "Signup", UAS[j], time.gmtime().tm_yday))

    for site, _, _ in plan:
        want = expected(posted, site)
        metrics = ["visitors", "pageviews", "events"]

        def counts():
            st, data = agg.query({"site_id": site, "metrics": metrics,
                                  "date_range": "day"})
            if st != 200:
                return None
            got = dict(zip(metrics, data["results"][0]["metrics"]))
            return got if got == want else None

        tally.wait_until(counts, timeout=15, what=f"{site} counts {want}")

        # the same numbers for a custom range covering today; "7d" is the
        # seven days before today (as in Plausible), so today's events are
        # not in it
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for rng in [[today, today]]:
            st, data = agg.query({"site_id": site, "metrics": metrics,
                                  "date_range": rng})
            assert st == 200, data
            assert dict(zip(metrics, data["results"][0]["metrics"])) == want
            assert data["query"]["site_id"] == site
            assert "meta" in data
        st, data = agg.query({"site_id": site, "metrics": metrics,
                              "date_range": "7d"})
        assert st == 200 and data["results"][0]["metrics"] == [0, 0, 0]


def test_no_raw_ip_anywhere(stack):
    edge, agg = stack
    for i in range(5):
        post(edge, "ip.example", "pageview", f"/p{i}", UAS[i])

    def drained():
        st, data = agg.query({"site_id": "ip.example",
                              "metrics": ["pageviews"], "date_range": "day"})
        return st == 200 and data["results"][0]["metrics"] == [5]

    tally.wait_until(drained, timeout=15, what="5 pageviews drained")
    agg.stop()  # checkpoint the WAL into the database file
    blobs = [tally.spool_bytes(edge.spool)]
    for name in os.listdir(agg.dir):
        p = os.path.join(agg.dir, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                blobs.append(f.read())
    # NGINX's own info-level lines name the client ("client 127.0.0.1
    # closed keepalive connection"); the lines Tally writes must not
    blobs.append("\n".join(l for l in edge.read_error_log().splitlines()
                           if "tally" in l.lower()).encode())
    blobs.append(agg.read_log().encode())
    for blob in blobs:
        assert b"127.0.0.1" not in blob
        assert bytes([127, 0, 0, 1]) not in blob


def test_bad_query_is_400_with_error(stack):
    _, agg = stack
    for q in [{"site_id": "x.example", "metrics": ["nope"], "date_range": "day"},
              {"site_id": "x.example", "metrics": ["visitors"],
               "date_range": "fortnight"}]:
        st, data = agg.query(q)
        assert st == 400
        assert isinstance(data.get("error"), str) and data["error"]


def test_query_needs_a_valid_key(stack):
    _, agg = stack
    q = {"site_id": "x.example", "metrics": ["visitors"], "date_range": "day"}
    st, _ = agg.query(q, key="")
    assert st == 401
    st, _ = agg.query(q, key="tly_not-a-real-key")
    assert st == 401
