"""Sealed days (aggregator/db_seal.c, schema v4) on the real tallyd and
real SQLite.  One generated spool is drained into a database; a copy has
its finished days sealed by `tallyd compact --seal-after 1`.  Then every
operation that writes raw rows is done to both, and the sealed copy must
end up with exactly the rows of the plain one:

  * late events of sealed days (a second spool) unseal those days first:
    the events, visits and rollup tables become byte-for-byte those of the
    plain database (so unsealing restores the rows exactly, and sequence
    numbers continue where the sealed rows ended);
  * sealing keeps every event and visit: rows + blocks == the plain rows;
  * purge, site deletion and raw retention act on sealed days as on rows.
"""

import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import ingest_oracle as orc  # noqa: E402
import tally  # noqa: E402

START_DAY = 19800
SITES = {"site0.example": "UTC", "site1.example": "Europe/Berlin"}
TABLES = {
    "events": "SELECT * FROM events ORDER BY site_id, ts, seq",
    "visits": "SELECT * FROM visits ORDER BY id",
    "rollup_hourly": "SELECT * FROM rollup_hourly ORDER BY site_id, dim, hour, k1, k2",
    "strings": "SELECT * FROM strings ORDER BY id",
    "attrs": "SELECT * FROM attrs ORDER BY id",
}


def rows(db, sql):
    con = orc.connect_ro(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def one(db, sql):
    return rows(db, sql)[0][0]


def tables(db):
    return {t: rows(db, q) for t, q in TABLES.items()}


def compact(db, after="1"):
    r = subprocess.run([orc.TALLYD, "compact", "--db", db, "--seal-after", after],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def pair():
    work = tempfile.mkdtemp(prefix="tally-seal-")
    db, cli = orc.drained_sites(work, SITES, events=6000, sites=2, days=5,
                                writers=2, seed=31, start_day=START_DAY)
    sdb = os.path.join(work, "s.db")
    shutil.copy(db, sdb)
    compact(sdb)
    yield {"work": work, "db": db, "sdb": sdb, "cli": cli}
    shutil.rmtree(work, ignore_errors=True)


def test_sealing_keeps_every_event_and_visit(pair):
    db, sdb = pair["db"], pair["sdb"]
    days = rows(sdb, "SELECT site_id, day, ev_n, vi_n FROM sealed_days ORDER BY 1, 2")
    assert len(days) >= 6, days             # 2 sites x the finished days
    hwm = one(sdb, "SELECT v FROM meta WHERE k = 'hwm_ms'")
    for site, day, ev_n, vi_n in days:
        # only days that ended at least --seal-after (1) day before hwm
        assert (day + 2) * 86400000 <= hwm
        assert ev_n == one(db, f"SELECT COUNT(*) FROM events WHERE site_id = {site}"
                               f" AND ts / 86400000 = {day}")
        assert one(sdb, f"SELECT COUNT(*) FROM events WHERE site_id = {site}"
                        f" AND ts / 86400000 = {day}") == 0
        # the visits sealed with the day: start and end in it
        assert vi_n == one(db, f"SELECT COUNT(*) FROM visits WHERE site_id = {site}"
                               f" AND start_ts / 86400000 = {day}"
                               f" AND end_ts / 86400000 = {day}")
    n_plain = one(db, "SELECT COUNT(*) FROM events")
    assert one(sdb, "SELECT COUNT(*) FROM events") \
        + one(sdb, "SELECT SUM(ev_n) FROM sealed_days") == n_plain
    assert one(sdb, "SELECT COUNT(*) FROM visits") \
        + one(sdb, "SELECT SUM(vi_n) FROM sealed_days") \
        == one(db, "SELECT COUNT(*) FROM visits")
    # smaller: the sealed days' blocks take a fraction of their rows
    blk = one(sdb, "SELECT SUM(length(data)) FROM sealed_cols")
    # one row per column of each sealed day
    assert one(sdb, "SELECT COUNT(*) FROM sealed_cols") == 24 * len(days)
    assert blk < 30 * one(sdb, "SELECT SUM(ev_n) FROM sealed_days")
    # a second compact finds nothing more to seal
    compact(sdb)
    assert rows(sdb, "SELECT site_id, day, ev_n, vi_n FROM sealed_days ORDER BY 1, 2") == days


def test_late_events_unseal_days_exactly(pair):
    db, sdb, work = pair["db"], pair["sdb"], pair["work"]
    assert one(sdb, "SELECT COUNT(*) FROM sealed_days") > 0
    # late events on every day, sealed ones included
    late = os.path.join(work, "late")
    orc.gen_spool(late, events=3000, sites=2, days=5, writers=1, seed=77,
                  start_day=START_DAY)
    shutil.copytree(late, late + "2")
    orc.drain_once(late, db)
    orc.drain_once(late + "2", sdb)
    # every sealed day got late events, so none is left sealed ...
    assert one(sdb, "SELECT COUNT(*) FROM sealed_days") == 0
    # ... and both databases hold exactly the same rows
    a, b = tables(db), tables(sdb)
    for t in TABLES:
        assert a[t] == b[t], t
    # sealing again seals the same days
    compact(sdb)
    assert one(sdb, "SELECT COUNT(*) FROM sealed_days") > 0


def test_purge_and_site_deletion_on_sealed_days(pair):
    db, sdb = pair["db"], pair["sdb"]
    before = (datetime.date(1970, 1, 1)
              + datetime.timedelta(days=START_DAY + 2)).isoformat()
    for d in (db, sdb):
        r = subprocess.run([orc.TALLYD, "purge", "--db", d, "--site",
                            "site0.example", "--before", before],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    # the purge unsealed site0 and left the same rows as on the plain copy
    assert one(sdb, "SELECT COUNT(*) FROM sealed_days WHERE site_id ="
                    " (SELECT id FROM sites WHERE domain = 'site0.example')") == 0
    s0 = one(db, "SELECT id FROM sites WHERE domain = 'site0.example'")
    for t in ("events", "visits", "rollup_hourly"):
        a = [r for r in rows(db, TABLES[t]) if r[0 if t != "visits" else 1] == s0]
        b = [r for r in rows(sdb, TABLES[t]) if r[0 if t != "visits" else 1] == s0]
        assert a and a == b, t
    # deleting site1 drops its blocks too
    assert one(sdb, "SELECT COUNT(*) FROM sealed_days") > 0
    r = subprocess.run([orc.TALLYD, "sites", "delete", "--db", sdb,
                        "site1.example"], capture_output=True, text=True)
    ev = one(db, "SELECT COUNT(*) FROM events e JOIN sites s ON s.id = e.site_id"
                 " WHERE s.domain = 'site1.example'")
    vi = one(db, "SELECT COUNT(*) FROM visits e JOIN sites s ON s.id = e.site_id"
                 " WHERE s.domain = 'site1.example'")
    assert f"{ev} raw events, {vi} visits" in r.stderr, (r.stderr, ev, vi)
    r = subprocess.run([orc.TALLYD, "sites", "delete", "--db", sdb,
                        "site1.example", "--yes"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert one(sdb, "SELECT COUNT(*) FROM sealed_days") == 0
    assert one(sdb, "SELECT COUNT(*) FROM events WHERE site_id NOT IN"
                    " (SELECT id FROM sites)") == 0


def test_retention_drops_sealed_days(pair):
    db, sdb, work = pair["db"], pair["sdb"], pair["work"]
    hwm = one(sdb, "SELECT v FROM meta WHERE k = 'hwm_ms'")
    keep_from = (hwm // 86400000 - 2) * 86400000     # pipeline_retain's bound
    empty = os.path.join(work, "empty")
    os.makedirs(empty)
    for d in (db, sdb):
        t = tally.Tallyd(empty, workdir=work, extra_args=["--retain-raw", "1"])
        t.db = d
        t.key = None
        t.port = tally.free_port()
        t.log = d + ".log"
        t.start()
        deadline = time.monotonic() + 60
        try:
            while one(d, f"SELECT COUNT(*) FROM events WHERE ts < {keep_from}") \
                    + one(d, f"SELECT COUNT(*) FROM sealed_days"
                             f" WHERE day < {keep_from // 86400000}"):
                assert time.monotonic() < deadline, "retention did not run"
                time.sleep(0.1)
        finally:
            t.stop()
    # the rows left are the same, but for days still sealed (at or after
    # the bound), which hold the same number of events
    left = rows(sdb, "SELECT site_id, day, ev_n FROM sealed_days")
    assert all(day >= keep_from // 86400000 for _, day, _ in left), left
    sealed = {(site, day) for site, day, _ in left}
    for site, day, n in left:
        assert n == one(db, f"SELECT COUNT(*) FROM events WHERE site_id = {site}"
                            f" AND ts / 86400000 = {day}")
    a = [r for r in rows(db, TABLES["events"]) if (r[0], r[1] // 86400000) not in sealed]
    assert a and a == rows(sdb, TABLES["events"])


def test_serve_seals_in_idle_time_and_answers_the_same(pair):
    """serve seals finished days while idle (here --seal-after 1), and the
    Stats API answers the same from blocks as from rows: the plain
    database read through the raw path is the reference."""
    db, work = pair["db"], pair["work"]
    live = os.path.join(work, "live.db")
    shutil.copy(db, live)
    empty = os.path.join(work, "empty2")
    os.makedirs(empty)
    ref = tally.Tallyd(empty, workdir=work)
    ref.db, ref.port, ref.log = db, tally.free_port(), db + ".ref.log"
    ref.start()
    srv = tally.Tallyd(empty, workdir=work, extra_args=["--seal-after", "1"])
    srv.db, srv.port, srv.log = live, tally.free_port(), live + ".log"
    srv.start()
    try:
        tally.wait_until(lambda: one(live, "SELECT COUNT(*) FROM sealed_days")
                         == one(pair["sdb"], "SELECT COUNT(*) FROM sealed_days"),
                         what="idle-time sealing", timeout=60)
        day = lambda d: (datetime.date(1970, 1, 1)
                         + datetime.timedelta(days=d)).isoformat()
        dr = [day(START_DAY), day(START_DAY + 5)]
        bodies = []
        for site in SITES:
            for dims, filters in (([], [["is", "visit:source", ["Direct / None"]]]),
                                  (["event:page"], [["contains", "event:page", ["/p"]]]),
                                  (["time:day"], [["is_not", "visit:country", ["DE"]]]),
                                  (["visit:browser"], [["is", "event:name", ["pageview"]]])):
                m = ["visitors", "visits", "pageviews", "events"]
                if not dims or not dims[0].startswith("event:"):
                    m += ["bounce_rate", "visit_duration"]
                bodies.append({"site_id": site, "metrics": m, "date_range": dr,
                               "dimensions": dims, "filters": filters})
        for b in bodies:
            outs = []
            for t in (ref, srv):
                st, h, body = tally.request(t.port, "POST", "/api/v2/query", b,
                                            {"Authorization": f"Bearer {t.key}"})
                assert st == 200, body
                outs.append(json.loads(body)["results"])
            assert outs[0] == outs[1] and outs[0], b
    finally:
        srv.stop()
        ref.stop()


def test_unseal_command_restores_the_rows(pair):
    db, sdb = pair["db"], pair["sdb"]
    r = subprocess.run([orc.TALLYD, "unseal", "--db", sdb, "nosuch.example"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "no site 'nosuch.example'" in r.stderr
    r = subprocess.run([orc.TALLYD, "unseal", "--db", sdb, "site0.example"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s0 = one(sdb, "SELECT id FROM sites WHERE domain = 'site0.example'")
    left = one(sdb, "SELECT COUNT(*) FROM sealed_days")
    assert left > 0 and one(sdb, f"SELECT COUNT(*) FROM sealed_days WHERE site_id = {s0}") == 0
    r = subprocess.run([orc.TALLYD, "unseal", "--db", sdb], capture_output=True, text=True)
    assert r.returncode == 0 and f"{left} days back to rows" in r.stderr, r.stderr
    assert one(sdb, "SELECT COUNT(*) FROM sealed_days") == 0
    assert one(sdb, "SELECT COUNT(*) FROM sealed_cols") == 0
    a, b = tables(db), tables(sdb)
    for t in TABLES:
        assert a[t] == b[t], t
