"""tallyd's ingestion checked against an oracle: realistic spools
(tools/gen-spool.c: several sites, days, writers, sessions, UTM,
referrers, custom events with props) drained by the real tallyd, then
every rollup number (per dimension value, per hour, per day), every visit
and every visit id compared with what Python computes from the raw events
table (tests/aggregator/ingest_oracle.py).  Plus the v1 -> v2 migration,
backup, retention and the Stats API answering from rollups."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ingest_oracle as orc  # noqa: E402
import spoolfmt  # noqa: E402


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix="tally-ingest-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("seed,sites,days,writers,events", [
    (1, 3, 3, 4, 40000),
    (7, 5, 2, 2, 25000),
])
def test_rollups_match_raw_events(work, seed, sites, days, writers, events):
    spool = os.path.join(work, "spool")
    n = orc.gen_spool(spool, events=events, sites=sites, days=days,
                      writers=writers, seed=seed)
    db = os.path.join(work, "t.db")
    # small transactions: visits and rollups grow across many commits
    orc.drain_once(spool, db, "--batch-events", "3000")
    con = orc.connect_ro(db)
    stored = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    # every generated event is stored, except bots when UA data is loaded
    assert 0.95 * n <= stored <= n
    compared = orc.compare(con)
    assert compared > 10000
    # the spool is consumed and deleted
    assert not [f for f in os.listdir(spool) if f.endswith(".tsp")]
    con.close()


V1_DDL = """
CREATE TABLE sites(id INTEGER PRIMARY KEY, domain TEXT NOT NULL UNIQUE,
  timezone TEXT NOT NULL DEFAULT 'UTC');
CREATE TABLE strings(id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE);
CREATE TABLE events(site_id INTEGER NOT NULL, ts INTEGER NOT NULL,
  seq INTEGER NOT NULL, visitor_id INTEGER NOT NULL, name_id INTEGER NOT NULL,
  pathname_id INTEGER NOT NULL, hostname_id INTEGER NOT NULL,
  referrer_id INTEGER, ua_id INTEGER, props_id INTEGER, revenue_id INTEGER,
  PRIMARY KEY(site_id, ts, seq)) WITHOUT ROWID;
CREATE TABLE spool_pos(segment TEXT PRIMARY KEY, "offset" INTEGER NOT NULL,
  finished INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE api_keys(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, revoked INTEGER);
CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(k, v) VALUES('event_seq', 0);
PRAGMA user_version = 1;
"""


def test_migration_from_v1(work):
    """A database written by the foundation (schema v1, built here with
    its DDL) is migrated on start: its events get visits and rollups like
    drained ones, its keys and positions survive, new spool events follow."""
    db = os.path.join(work, "v1.db")
    con = sqlite3.connect(db)
    con.executescript(V1_DDL)
    ids = {}

    def sid(s):
        if s is None:
            return None
        if s not in ids:
            con.execute("INSERT INTO strings(s) VALUES(?)", (s,))
            ids[s] = con.execute("SELECT last_insert_rowid()").fetchone()[0]
        return ids[s]

    con.execute("INSERT INTO sites(domain) VALUES('old.example')")
    con.execute("INSERT INTO api_keys(hash, name, created) VALUES(x'00', 'k', 1)")
    con.execute("INSERT INTO spool_pos VALUES('seg-gone', 10, 1)")
    t0 = 19800 * orc.DAY + 9 * orc.HOUR
    rows = [  # (ts, visitor, name, path, referrer, props)
        (t0, 1, "pageview", "/", "https://news.ycombinator.com/", None),
        (t0 + 60000, 1, "pageview", "/docs", "https://old.example/", None),
        (t0 + 90000, 1, "Signup", "/docs", None, '{"plan":"pro"}'),
        (t0 + 120000, 2, "pageview", "/", None, None),
        (t0 + 3 * orc.HOUR, 1, "pageview", "/", None, None),
        (t0 + orc.DAY, 3, "pageview", "/pricing", None, None),
    ]
    for i, (ts, vis, name, path, ref, props) in enumerate(rows):
        con.execute("INSERT INTO events VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    (ts, i, vis, sid(name), sid(path), sid("old.example"),
                     sid(ref), sid("Mozilla/5.0 (X11; Linux x86_64; rv:121.0)"
                                   " Gecko/20100101 Firefox/121.0"), sid(props)))
    con.execute("UPDATE meta SET v = ? WHERE k = 'event_seq'", (len(rows),))
    con.commit()
    con.close()

    spool = os.path.join(work, "spool")
    orc.gen_spool(spool, events=3000, sites=1, days=1, writers=1,
                  start_day=19802)
    r = orc.drain_once(spool, db)
    assert "converted 6 v1 events" in r.stderr
    con = orc.connect_ro(db)
    # v1 -> v2 (enriched events, visits, hourly rollups) -> v3 (daily and
    # monthly rollups, empty until compacted)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 4
    assert con.execute("SELECT COUNT(*) FROM sqlite_master WHERE name ="
                       " 'events_v1'").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM rollup_daily").fetchone()[0] == 0
    assert con.execute("SELECT name FROM api_keys").fetchall() == [("k",)]
    site = con.execute("SELECT id FROM sites WHERE domain = 'old.example'"
                       ).fetchone()[0]
    assert con.execute("SELECT COUNT(*) FROM events WHERE site_id = ?",
                       (site,)).fetchone()[0] == 6
    # visitor 1: a 3-event visit (the signup makes it no bounce) and, 3 h
    # later, a bounce; visitors 2 and 3 one bounce each
    v = con.execute("SELECT visitor_id, pageviews, events, bounce FROM visits"
                    " WHERE site_id = ? ORDER BY start_ts", (site,)).fetchall()
    assert v == [(1, 2, 3, 0), (2, 1, 1, 1), (1, 1, 1, 1), (3, 1, 1, 1)]
    orc.compare(con)
    total = con.execute("SELECT SUM(visits), SUM(pageviews), SUM(bounces)"
                        " FROM rollup_hourly WHERE site_id = ? AND dim = 0",
                        (site,)).fetchone()
    assert total == (4, 5, 3)
    con.close()


def test_backup_is_a_consistent_copy(work):
    spool = os.path.join(work, "spool")
    orc.gen_spool(spool, events=5000, sites=2, days=1, writers=2)
    db = os.path.join(work, "t.db")
    orc.drain_once(spool, db)
    out = os.path.join(work, "copy.db")
    r = subprocess.run([orc.TALLYD, "backup", "--db", db, out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = orc.connect_ro(db), orc.connect_ro(out)
    assert orc.dump(a) == orc.dump(b)
    assert b.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # it never overwrites
    r = subprocess.run([orc.TALLYD, "backup", "--db", db, out],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "exists" in r.stderr
    r = subprocess.run([orc.TALLYD, "backup", "--db", db],
                       capture_output=True, text=True)
    assert r.returncode == 2


def test_retention_deletes_raw_events_keeps_rollups(work):
    spool = os.path.join(work, "spool")
    # old data: 2024 -- far more than 5 days ago
    orc.gen_spool(spool, events=8000, sites=1, days=5, writers=1)
    db = os.path.join(work, "t.db")
    orc.drain_once(spool, db)
    con = orc.connect_ro(db)
    before = orc.rollups(con)
    n = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    hwm = con.execute("SELECT v FROM meta WHERE k = 'hwm_ms'").fetchone()[0]
    con.close()
    assert n > 0
    r = orc.drain_once(spool, db, "--retain-raw", "5")
    con = orc.connect_ro(db)
    # the replay window (the day before the newest event's day onwards)
    # is never deleted; everything older is
    keep_from = (hwm // orc.DAY - 2) * orc.DAY
    left = con.execute("SELECT COUNT(*), MIN(ts) FROM events").fetchone()
    assert left[0] < n
    assert left[1] >= keep_from
    assert con.execute("SELECT COUNT(*) FROM visits WHERE end_ts < ?",
                       (keep_from,)).fetchone()[0] == 0
    assert orc.rollups(con) == before
    assert "retention: deleted" in r.stderr


def test_drain_once_logs_progress(work):
    spool = os.path.join(work, "spool")
    os.mkdir(spool)
    evs = [{"time_ms": 19800 * orc.DAY + i * 1000, "visitor_id": 5,
            "site": "x.example", "name": "pageview",
            "url": f"https://x.example/p{i}?utm_source=Newsletter",
            "country": "DE"} for i in range(5)]
    spoolfmt.write_segment(spool, evs, 777777, 1, per_record=2, finished=True)
    db = os.path.join(work, "t.db")
    r = orc.drain_once(spool, db)
    assert "stored 5 events" in r.stderr
    assert "behind: 0 segments, 0 bytes" in r.stderr
    con = orc.connect_ro(db)
    assert con.execute("SELECT pageviews, events, bounce FROM visits"
                       ).fetchall() == [(5, 5, 0)]
    # the visit's attributes: tagged source, country
    src = con.execute(
        "SELECT s.s FROM visits v JOIN attrs a ON a.id = v.attrs_id"
        " JOIN strings s ON s.id = a.utm_source").fetchone()[0]
    assert src == "Newsletter"
    cc = con.execute(
        "SELECT s.s FROM visits v JOIN attrs a ON a.id = v.attrs_id"
        " JOIN strings s ON s.id = a.country").fetchone()[0]
    assert cc == "DE"
    orc.compare(con)
