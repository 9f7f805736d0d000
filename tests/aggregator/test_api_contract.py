"""Contract of tallyd's Stats API (q_exec through api_qx.c) on the real
tallyd: every request parameter's errors (400 naming the field), 401, 404
(unknown site, key scoped to another site), 429 with Retry-After, the
realtime visitors endpoint, goals through the API, GET /metrics, and the
response shape (results / meta / query echo)."""

import json
import os
import shutil
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import spoolfmt  # noqa: E402
import tally  # noqa: E402
from tally import request, wait_until  # noqa: E402

SITE = "shop.example"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def ev(ts, vis, name="pageview", path="/", **kw):
    e = {"time_ms": ts, "visitor_id": vis, "site": SITE, "name": name,
         "url": f"https://{SITE}{path}", "referrer": None, "ua": UA}
    e.update(kw)
    return e


@pytest.fixture(scope="module")
def srv():
    work = tempfile.mkdtemp(prefix="tally-contract-")
    spool = os.path.join(work, "spool")
    os.makedirs(spool)
    now = int(time.time() * 1000)
    # realtime: 4 visitors within the last 5 minutes, 2 older ones
    evs = [ev(now - 60000 * i, 100 + i) for i in range(4)]
    evs += [ev(now - 20 * 60000, 200), ev(now - 40 * 60000, 201, path="/buy")]
    evs += [ev(now - 30000, 100, name="Signup")]
    evs.sort(key=lambda e: e["time_ms"])
    spoolfmt.write_segment(spool, evs, pid=4242, created_us=now * 1000, finished=True)
    old = dict(os.environ)
    os.environ.update({"TALLY_API_RATE_PER_MIN": "120"})
    t = tally.Tallyd(spool, workdir=work)
    try:
        t.start()
    finally:
        os.environ.clear()
        os.environ.update(old)
    wait_until(lambda: t.query({"site_id": SITE, "metrics": ["events"],
                                "date_range": "day"})[0] == 200,
               what="the site to appear")
    yield {"t": t, "work": work, "events": evs, "now": now}
    t.stop()
    shutil.rmtree(work, ignore_errors=True)


def q(srv, body, key=None, raw=False):
    return srv["t"].query(body, key=key, raw=raw)


BASE = {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"}

ERRORS = [
    ({"metrics": ["visitors"], "date_range": "7d"}, "site_id"),
    ({"site_id": SITE, "date_range": "7d"}, "metrics"),
    ({"site_id": SITE, "metrics": ["visitors"]}, "date_range"),
    (dict(BASE, metrics=[]), "metrics"),
    (dict(BASE, metrics=["visitors", "visitors"]), "metrics"),
    (dict(BASE, metrics=["nope"]), "metrics"),
    (dict(BASE, date_range="3w"), "date_range"),
    (dict(BASE, date_range=["2024-02-30", "2024-03-01"]), "date_range"),
    (dict(BASE, date_range=["2024-03-02", "2024-03-01"]), "date_range"),
    (dict(BASE, date_range=["2024-03-01T00:00:00", "2024-03-02T00:00:00"]), "date_range"),
    (dict(BASE, dimensions=["visit:nope"]), "dimensions"),
    (dict(BASE, dimensions=["time:day", "time:hour"]), "dimensions"),
    (dict(BASE, dimensions=["visit:city"]), "dimensions"),
    (dict(BASE, filters=[["is", "time:day", ["x"]]]), "filters"),
    (dict(BASE, filters=[["equals", "event:page", ["/"]]]), "filters"),
    (dict(BASE, filters=[["is", "event:page", "/"]]), "filters"),
    (dict(BASE, filters=[["matches", "event:page", ["("]]]), "filters"),
    (dict(BASE, filters=[["is", "visit:country", ["Germany"]]]), "filters"),
    (dict(BASE, filters=[["contains", "event:page", ["x"]]] * 51), "filters"),
    (dict(BASE, order_by=[["pageviews", "desc"]]), "order_by"),
    (dict(BASE, order_by=[["visitors", "up"]]), "order_by"),
    (dict(BASE, include={"time_labels": True}), "time_labels"),
    (dict(BASE, include={"nope": True}), "include"),
    (dict(BASE, pagination={"limit": 0}), "pagination"),
    (dict(BASE, pagination={"limit": 10001}), "pagination"),
    (dict(BASE, pagination={"offset": -1}), "pagination"),
    (dict(BASE, interval="day"), "interval"),
    (dict(BASE, metrics=["conversion_rate"]), "conversion_rate"),
    (dict(BASE, metrics=["time_on_page"], dimensions=["event:page"]), "time_on_page"),
    (dict(BASE, metrics=["scroll_depth"], dimensions=["event:page"]), "scroll_depth"),
    (dict(BASE, include={"comparisons": {"mode": "previous_period"}}), "comparisons"),
    (dict(BASE, dimensions=["visit:entry_page_hostname"]), "hostname"),
]


@pytest.mark.parametrize("body,field", ERRORS)
def test_bad_queries_are_400_naming_the_field(srv, body, field):
    st, r = q(srv, body)
    assert st == 400, r
    assert set(r) == {"error"} and field in r["error"], r


def test_malformed_bodies_are_400(srv):
    for raw in ["", "{", "[]", "null", '{"site_id": "a", "site_id": "b"}']:
        st, h, body = request(srv["t"].port, "POST", "/api/v2/query", raw,
                              {"Authorization": f"Bearer {srv['t'].key}"})
        assert st == 400 and "error" in json.loads(body), raw


def test_auth_401_and_404(srv):
    assert q(srv, BASE, key="")[0] == 401
    assert q(srv, BASE, key="tly_" + "A" * 43)[0] == 401
    st, r = q(srv, dict(BASE, site_id="unknown.example"))
    assert st == 404 and "error" in r
    t = srv["t"]
    t.cli("sites", "add", "--db", t.db, "other.example")
    r = t.cli("keys", "add", "--db", t.db, "--name", "scoped")
    key = r.stdout.strip().splitlines()[-1].strip()
    kid = [ln.split()[0] for ln in t.cli("keys", "list", "--db", t.db).stdout.splitlines()
           if "scoped" in ln][0]
    t.cli("sites", "scope-key", "--db", t.db, "--key-id", kid, "other.example")
    assert q(srv, BASE, key=key)[0] == 404                 # outside its scope
    assert q(srv, dict(BASE, site_id="other.example"), key=key)[0] == 200
    assert q(srv, BASE)[0] == 200                          # unscoped key
    # keys add --site scopes at creation; an unknown site creates no key
    r = t.cli("keys", "add", "--db", t.db, "--name", "k2", "--site", "other.example")
    key2 = r.stdout.strip().splitlines()[-1].strip()
    assert q(srv, BASE, key=key2)[0] == 404
    assert q(srv, dict(BASE, site_id="other.example"), key=key2)[0] == 200
    before = t.cli("keys", "list", "--db", t.db).stdout
    r = t.cli("keys", "add", "--db", t.db, "--name", "k3", "--site", "zzz.example",
              check=False)
    assert r.returncode != 0 and "zzz.example" in r.stderr
    assert t.cli("keys", "list", "--db", t.db).stdout == before


def test_rate_limit_429_with_retry_after(srv):
    t = srv["t"]
    r = t.cli("keys", "add", "--db", t.db, "--name", "burst")
    key = r.stdout.strip().splitlines()[-1].strip()
    codes = []
    for _ in range(130):
        st, h, body = request(t.port, "POST", "/api/v2/query", BASE,
                              {"Authorization": f"Bearer {key}"})
        codes.append(st)
        if st == 429:
            assert int(h["retry-after"]) >= 1
            assert "per minute" in json.loads(body)["error"]
            break
    assert codes[-1] == 429 and codes.count(200) >= 100, codes
    assert q(srv, BASE)[0] == 200                  # other keys are unaffected


def test_response_shape_and_echo(srv):
    body = {"site_id": SITE, "metrics": ["visitors", "pageviews"],
            "date_range": "day", "dimensions": ["time:hour"],
            "include": {"time_labels": True, "total_rows": True}}
    st, raw = q(srv, body, raw=True)
    assert st == 200
    r = json.loads(raw)
    assert list(r) == ["results", "meta", "query"]
    assert list(r["query"]) == ["site_id", "metrics", "date_range", "filters",
                                "dimensions", "order_by", "include", "pagination"]
    assert len(r["meta"]["time_labels"]) == 24
    assert r["meta"]["total_rows"] == len(r["results"])
    for row in r["results"]:
        assert list(row) == ["dimensions", "metrics"]
        assert row["dimensions"][0] in r["meta"]["time_labels"]
    evs = [e for e in srv["events"]]
    today = {e["time_ms"] // 86400000 for e in evs}
    if len(today) == 1:     # not run across UTC midnight
        pv = sum(row["metrics"][1] for row in r["results"])
        assert pv == sum(e["name"] == "pageview" for e in evs)


def test_realtime_visitors(srv):
    t = srv["t"]
    now = int(time.time() * 1000)
    want = len({(e["visitor_id"], e["time_ms"] // 86400000) for e in srv["events"]
                if now - 300000 <= e["time_ms"] <= now})
    st, h, body = request(t.port, "GET",
                          f"/api/v1/stats/realtime/visitors?site_id={SITE}",
                          headers={"Authorization": f"Bearer {t.key}"})
    assert st == 200 and json.loads(body) == want and want >= 3
    # the v2 "realtime" range counts the same distinct visitors
    st, r = q(srv, {"site_id": SITE, "metrics": ["visitors"], "date_range": "realtime"})
    assert st == 200 and r["results"][0]["metrics"][0] == want
    st, _, _ = request(t.port, "GET", "/api/v1/stats/realtime/visitors?site_id=x.example",
                       headers={"Authorization": f"Bearer {t.key}"})
    assert st == 404
    st, _, _ = request(t.port, "GET", f"/api/v1/stats/realtime/visitors?site_id={SITE}")
    assert st == 401


def test_goals_api_and_goal_queries(srv):
    t = srv["t"]
    h = {"Authorization": f"Bearer {t.key}", "Content-Type": "application/json"}
    st, _, b = request(t.port, "PUT", "/api/v1/sites/goals",
                       {"site_id": SITE, "goal_type": "event", "event_name": "Signup"}, h)
    assert st == 201, b
    gid = json.loads(b)["id"]
    st, _, b = request(t.port, "PUT", "/api/v1/sites/goals",
                       {"site_id": SITE, "goal_type": "page", "page_path": "/buy"}, h)
    assert st == 201
    st, _, b = request(t.port, "PUT", "/api/v1/sites/goals",
                       {"site_id": SITE, "goal_type": "event", "event_name": "Signup"}, h)
    assert st == 200 and json.loads(b)["id"] == gid
    for bad in ({"site_id": SITE, "goal_type": "click", "event_name": "x"},
                {"site_id": SITE, "goal_type": "page", "page_path": "no-slash"},
                {"site_id": SITE, "goal_type": "event"}):
        st, _, b = request(t.port, "PUT", "/api/v1/sites/goals", bad, h)
        assert st == 400, (bad, b)
    st, _, b = request(t.port, "GET", f"/api/v1/sites/goals?site_id={SITE}", headers=h)
    goals = json.loads(b)["goals"]
    assert {(g["goal_type"], g.get("event_name") or g.get("page_path")) for g in goals} \
        == {("event", "Signup"), ("page", "/buy")}
    st, r = q(srv, {"site_id": SITE, "metrics": ["visitors", "events", "conversion_rate"],
                    "date_range": "day", "dimensions": ["event:goal"]})
    assert st == 200, r
    evs = srv["events"]
    total = len({(e["visitor_id"], e["time_ms"] // 86400000) for e in evs})
    got = {row["dimensions"][0]: row["metrics"] for row in r["results"]}
    days = {e["time_ms"] // 86400000 for e in evs}
    if len(days) == 1:
        assert got["Signup"][:2] == [1, 1]
        assert got["Visit /buy"][:2] == [1, 1]
        assert abs(got["Signup"][2] - round(100 / total, 2)) < 0.006
    st, _, b = request(t.port, "DELETE", "/api/v1/sites/goals",
                       {"site_id": SITE, "goal_id": gid}, h)
    assert st == 200
    st, _, b = request(t.port, "DELETE", "/api/v1/sites/goals",
                       {"site_id": SITE, "goal_id": gid}, h)
    assert st == 404
    st, _, b = request(t.port, "GET", "/api/v1/sites/goals?site_id=nope.example", headers=h)
    assert st == 404


def test_metrics_endpoint(srv):
    t = srv["t"]
    assert q(srv, BASE)[0] == 200
    st, h, body = request(t.port, "GET", "/metrics")
    text = body.decode()
    assert st == 200 and h["content-type"].startswith("text/plain")
    assert "tally_db_size_bytes " in text
    size = int(next(ln.split()[1] for ln in text.splitlines()
                    if ln.startswith("tally_db_size_bytes ")))
    assert size > 0
    assert 'tally_query_duration_seconds_bucket{path="' in text
    assert 'tally_queries_total{code="200"}' in text
    assert "tally_drain_lag_seconds" in text
