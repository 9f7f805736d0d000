"""Daily and monthly rollups (schema v3; aggregator/db_compact.c, the
tier triggers in db_schema.c, the executor's span split in
q_exec_rollup.c) on the real tallyd and real SQLite:

  * after `tallyd compact`, rollup_daily equals rollup_hourly summed per
    UTC day and rollup_monthly equals rollup_daily summed per month
    (SQL over the finer table is the oracle), exactly over the bounds;
  * late events into compacted days and a purge that rebuilds compacted
    days keep that equality (the triggers);
  * queries whose ranges cover whole months, whole days and partial days
    in UTC and in a whole-hour zone answer exactly what the raw events
    answer (TALLY_FORCE_RAW=1 is the oracle).
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
import tally  # noqa: E402

START_DAY = 19768                 # 2024-02-15
DAYS = 50                         # to 2024-04-04
SITES = {"site0.example": "UTC", "site1.example": "America/New_York"}

M = "visitors_new, visits, pageviews, events, bounces, duration"


def q(db, sql, *args):
    con = orc.connect_ro(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def mismatches(db):
    """Rows where a coarse table differs from the sums of the finer one,
    both ways, below the bounds."""
    daily = (f"SELECT site_id, dim, hour / 24, k1, k2, SUM(visitors_new),"
             f" SUM(visits), SUM(pageviews), SUM(events), SUM(bounces),"
             f" SUM(duration) FROM rollup_hourly WHERE hour < (SELECT v FROM"
             f" meta WHERE k = 'rollup_daily_h') GROUP BY 1, 2, 3, 4, 5"
             f" HAVING SUM(visitors_new) OR SUM(visits) OR SUM(pageviews)"
             f" OR SUM(events) OR SUM(bounces) OR SUM(duration)")
    dtab = f"SELECT site_id, dim, day, k1, k2, {M} FROM rollup_daily"
    month = "CAST(unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400 AS INTEGER)"
    monthly = (f"SELECT site_id, dim, {month}, k1, k2, SUM(visitors_new),"
               f" SUM(visits), SUM(pageviews), SUM(events), SUM(bounces),"
               f" SUM(duration) FROM rollup_daily WHERE day < (SELECT v FROM"
               f" meta WHERE k = 'rollup_monthly_d') GROUP BY 1, 2, 3, 4, 5"
               f" HAVING SUM(visitors_new) OR SUM(visits) OR SUM(pageviews)"
               f" OR SUM(events) OR SUM(bounces) OR SUM(duration)")
    mtab = f"SELECT site_id, dim, month, k1, k2, {M} FROM rollup_monthly"
    n = 0
    for a, b in ((daily, dtab), (dtab, daily), (monthly, mtab), (mtab, monthly)):
        n += q(db, f"SELECT COUNT(*) FROM ({a} EXCEPT {b})")[0][0]
    return n


def bounds(db):
    return dict(q(db, "SELECT k, v FROM meta WHERE k LIKE 'rollup_%'"))


def iso(day):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


@pytest.fixture(scope="module")
def env():
    work = tempfile.mkdtemp(prefix="tally-tiers-")
    db, cli = orc.drained_sites(work, SITES, events=30000, sites=2, days=DAYS,
                                writers=2, seed=23, start_day=START_DAY)
    yield {"work": work, "db": db, "cli": cli}
    shutil.rmtree(work, ignore_errors=True)


def test_compact_fills_the_coarse_tables_exactly(env):
    db, cli = env["db"], env["cli"]
    assert bounds(db) == {"rollup_daily_h": 0, "rollup_monthly_d": 0}
    assert q(db, "SELECT COUNT(*) FROM rollup_daily")[0][0] == 0
    cli.cli("compact", "--db", db)
    hwm = q(db, "SELECT v FROM meta WHERE k = 'hwm_ms'")[0][0]
    b = bounds(db)
    # every day before the day before the newest event's, and the whole
    # months among them (February and March 2024)
    assert b["rollup_daily_h"] == (hwm // 86400000 - 1) * 24
    assert b["rollup_monthly_d"] == 19814          # 2024-04-01
    assert q(db, "SELECT COUNT(DISTINCT month) FROM rollup_monthly")[0][0] == 2
    assert q(db, "SELECT COUNT(*) FROM rollup_daily")[0][0] > 1000
    assert mismatches(db) == 0
    # idempotent: nothing more to do
    cli.cli("compact", "--db", db)
    assert bounds(db) == b and mismatches(db) == 0


def test_late_events_and_purges_keep_the_tiers_exact(env):
    """On a copy: late events (more than a day behind the newest) may
    over-count visitors in the rollups themselves (docs/storage.md), which
    the query test below must not see."""
    work, cli = env["work"], env["cli"]
    db = os.path.join(work, "late.db")
    for ext in ("", "-wal"):
        if os.path.exists(env["db"] + ext):
            shutil.copyfile(env["db"] + ext, db + ext)
    before = q(db, "SELECT SUM(events) FROM rollup_monthly WHERE dim = 0")[0][0]
    # late events into compacted days (new and existing hourly rows)
    late = os.path.join(work, "late")
    n = orc.gen_spool(late, events=3000, sites=2, days=3, writers=1, seed=29,
                      start_day=START_DAY + 10)
    orc.drain_once(late, db)
    assert mismatches(db) == 0
    after = q(db, "SELECT SUM(events) FROM rollup_monthly WHERE dim = 0")[0][0]
    stored = q(db, "SELECT COUNT(*) FROM events WHERE ts >= ? AND ts < ?",
               (START_DAY + 10) * 86400000, (START_DAY + 13) * 86400000)[0][0]
    assert 0 < after - before <= n and stored > 0
    # a purge rebuilds the visits and rollups of the days it touched
    r = cli.cli("purge", "--db", db, "--site", "site0.example", "--path", "/p/1",
                check=False)
    assert r.returncode == 0, r.stderr
    assert mismatches(db) == 0
    assert q(db, "SELECT COUNT(*) FROM rollup_daily r JOIN strings s ON s.id = r.k1"
                 " WHERE r.dim = 1 AND r.site_id = (SELECT id FROM sites WHERE"
                 " domain = 'site0.example') AND s.s LIKE '/p/1%'")[0][0] == 0


def start(db, spool, env, key):
    old = dict(os.environ)
    os.environ.update(env)
    try:
        t = tally.Tallyd(spool, workdir=os.path.dirname(db))
        t.db = db
        t.key = key
        t.port = tally.free_port()
        t.log = db + f".{t.port}.log"
        return t.start()
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_queries_over_the_tiers_equal_raw_events(env):
    db, cli, work = env["db"], env["cli"], env["work"]
    key = cli.add_key()
    e1, e2 = os.path.join(work, "e1"), os.path.join(work, "e2")
    os.makedirs(e1)
    os.makedirs(e2)
    fast = start(db, e1, {"TALLY_API_RATE_PER_MIN": "0"}, key)
    raw = start(db, e2, {"TALLY_FORCE_RAW": "1", "TALLY_API_RATE_PER_MIN": "0"}, key)
    try:
        d = START_DAY
        ranges = [[iso(d), iso(d + DAYS - 1)],            # months + days
                  ["2024-03-01", "2024-03-31"],           # one whole month
                  [iso(d + 3), iso(d + 40)],              # days, a month, days
                  [f"{iso(d + 5)}T07:00:00Z", f"{iso(d + 33)}T16:59:59Z"]]
        shapes = [([], ["visitors", "visits", "pageviews", "events",
                        "bounce_rate", "visit_duration"]),
                  (["time:day"], ["visitors", "pageviews"]),
                  (["time:month"], ["visitors", "visits"]),
                  (["event:page"], ["visitors", "pageviews", "bounce_rate"]),
                  (["visit:entry_page"], ["visits", "bounce_rate"]),
                  (["visit:source"], ["visitors", "visit_duration"]),
                  (["visit:country"], ["visitors", "percentage"]),
                  (["event:name"], ["visitors", "events"])]
        n = 0
        for site in SITES:
            for dr in ranges:
                for dims, metrics in shapes:
                    body = {"site_id": site, "metrics": metrics,
                            "date_range": dr, "dimensions": dims}
                    h = {"Authorization": f"Bearer {key}"}
                    s1, h1, a = tally.request(fast.port, "POST", "/api/v2/query", body, h)
                    s2, _, b = tally.request(raw.port, "POST", "/api/v2/query", body, h)
                    assert s1 == 200 and s2 == 200, (body, a, b)
                    assert h1.get("x-tally-path") == "rollup", body
                    assert json.loads(a) == json.loads(b), (site, dr, dims)
                    n += 1
        assert n == 2 * 4 * 8
    finally:
        fast.stop()
        raw.stop()
