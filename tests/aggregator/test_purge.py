"""Erasure (`tallyd purge`, `tallyd sites delete`) against the real tallyd
and SQLite: generated spools drained by `tallyd drain --once`, then after
every purge every rollup number, every visit and every visit id compared
with the independent oracle over the raw events that remain
(tests/aggregator/ingest_oracle.py); the other site's rows compared
before and after; SIGKILL at random moments of a long purge leaves the
old or the new database, never a mix; a running `tallyd serve` keeps its
live days."""

import hashlib
import os
import random
import shutil
import signal
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
import spoolfmt  # noqa: E402
import tally  # noqa: E402

DAY = orc.DAY
SECRET = "/private/alice-4711"   # a path only site0 ever saw


def tallyd(*args):
    return subprocess.run([orc.TALLYD, *args], capture_output=True, text=True)


def copy_db(src, dst):
    """A consistent copy through SQLite's backup API (WAL included)."""
    a = orc.connect_ro(src)
    b = sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()


def dump_db(path):
    """orc.dump of the database at path, its connection closed again (an
    open connection is "another process" to a purge of the live days)."""
    con = orc.connect_ro(path)
    try:
        return orc.dump(con)
    finally:
        con.close()


def compare_db(path):
    con = orc.connect_ro(path)
    try:
        return orc.compare(con)
    finally:
        con.close()


def digest(path):
    """SHA-256 over every row of the tables a purge touches, in key order:
    equal digests = equal databases, row for row, dictionary included."""
    h = hashlib.sha256()
    con = orc.connect_ro(path)
    try:
        for q in ("SELECT * FROM events ORDER BY site_id, ts, seq",
                  "SELECT * FROM visits ORDER BY id",
                  "SELECT * FROM rollup_hourly ORDER BY site_id, dim, hour,"
                  " k1, k2",
                  "SELECT * FROM strings ORDER BY id",
                  "SELECT * FROM attrs ORDER BY id",
                  "SELECT * FROM meta ORDER BY k",
                  "SELECT * FROM sites ORDER BY id"):
            h.update(q.encode())
            for row in con.execute(q):
                h.update(repr(row).encode())
    finally:
        con.close()
    return h.hexdigest()


def site_id(con, domain):
    return con.execute("SELECT id FROM sites WHERE domain = ?",
                       (domain,)).fetchone()[0]


def site_rows(con, sid):
    """Every row of one site (strings resolved), for "untouched" checks."""
    d = orc.dump(con)
    name = con.execute("SELECT domain FROM sites WHERE id = ?",
                       (sid,)).fetchone()[0]
    return {t: [r for r in rows if r[0 if t != "visits" else 1] == name]
            for t, rows in d.items()}


def strings(con):
    return {s for (s,) in con.execute("SELECT s FROM strings")}


@pytest.fixture(scope="module")
def base():
    """A drained database: 2 sites, 4 days, custom events, props."""
    d = tempfile.mkdtemp(prefix="tally-purge-base-")
    spool = os.path.join(d, "spool")
    orc.gen_spool(spool, events=25000, sites=2, days=4, writers=2, seed=11)
    # a private path of site0 on two days, each hit followed by a pageview
    # of a common page in the same visit; drained with the rest (merged by
    # time), so visits are what a live drain makes of them
    evs = []
    for day in (19801, 19802):
        for k in range(3):
            t = day * DAY + (10 + k) * orc.HOUR
            for j, path in enumerate((SECRET, "/docs/0")):
                evs.append({"time_ms": t + j * 60000,
                            "visitor_id": 0x5EC000 + day * 10 + k,
                            "site": "site0.example", "name": "pageview",
                            "url": "https://site0.example" + path})
    evs.sort(key=lambda e: e["time_ms"])
    spoolfmt.write_segment(spool, evs, 4100000, 19801 * DAY * 1000,
                           finished=True)
    db = os.path.join(d, "base.db")
    orc.drain_once(spool, db, "--batch-events", "5000")
    con = orc.connect_ro(db)
    orc.compare(con)
    con.close()
    yield db
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix="tally-purge-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def fresh(base, work, name="t.db"):
    db = os.path.join(work, name)
    copy_db(base, db)
    return db


# ---- usage --------------------------------------------------------------

@pytest.mark.parametrize("args,code,text", [
    (["purge", "--site", "a"], 2, "--db FILE is required"),
    (["purge", "--db", "X", "--before", "2024-01-01"], 2, "--site"),
    (["purge", "--db", "X", "--site", "a"], 2, "exactly one of"),
    (["purge", "--db", "X", "--site", "a", "--before", "2024-01-01",
      "--path", "/"], 2, "exactly one of"),
    (["purge", "--db", "X", "--site", "a", "--before", "2024-02-30"], 2,
     "YYYY-MM-DD"),
    (["purge", "--db", "X", "--site", "a", "--path", ""], 2, "non-empty"),
    (["sites", "delete", "--db", "X"], 2, "exactly one SITE"),
])
def test_usage_errors(args, code, text):
    r = tallyd(*args)
    assert r.returncode == code, r.stderr
    assert text in r.stderr


def test_unknown_site_changes_nothing(base, work):
    db = fresh(base, work)
    before = dump_db(db)
    r = tallyd("purge", "--db", db, "--site", "nope.example", "--path", "/")
    assert r.returncode == 1 and "no site 'nope.example'" in r.stderr
    r = tallyd("sites", "delete", "--db", db, "nope.example", "--yes")
    assert r.returncode == 1 and "no site" in r.stderr
    assert dump_db(db) == before


# ---- purge --path ---------------------------------------------------------

def test_purge_path_rebuilds_affected_days(base, work):
    db = fresh(base, work)
    con = orc.connect_ro(db)
    s0, s1 = site_id(con, "site0.example"), site_id(con, "site1.example")
    other = site_rows(con, s1)
    q = ("SELECT COUNT(*), COUNT(DISTINCT e.ts / 86400000) FROM events e"
         " JOIN strings s ON s.id = e.pathname_id"
         " WHERE e.site_id = ? AND substr(s.s, 1, 7) = '/docs/1'")
    n, ndays = con.execute(q, (s0,)).fetchone()
    total = con.execute("SELECT COUNT(*) FROM events WHERE site_id = ?",
                        (s0,)).fetchone()[0]
    visits_before = con.execute("SELECT COUNT(*) FROM visits WHERE site_id = ?",
                                (s0,)).fetchone()[0]
    con.close()
    assert n > 1000 and ndays >= 3

    r = tallyd("purge", "--db", db, "--site", "site0.example",
               "--path", "/docs/1")
    assert r.returncode == 0, r.stderr
    assert f"purged site0.example: {n} raw events" in r.stdout
    assert "rebuilt" in r.stdout

    con = orc.connect_ro(db)
    assert con.execute(q, (s0,)).fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM events WHERE site_id = ?",
                       (s0,)).fetchone()[0] == total - n
    # the other site keeps its paths, rows and numbers exactly
    assert con.execute(q, (s1,)).fetchone()[0] > 0
    assert site_rows(con, s1) == other
    # every rollup, visit and visit id agrees with the oracle over what
    # remains; visits that lost a middle event were split or removed
    assert orc.compare(con) > 10000
    assert con.execute("SELECT COUNT(*) FROM visits WHERE site_id = ?",
                       (s0,)).fetchone()[0] != visits_before
    # no rollup row still names a purged path for site0
    assert con.execute(
        "SELECT COUNT(*) FROM rollup_hourly r JOIN strings s ON s.id = r.k1"
        " WHERE r.site_id = ? AND r.dim IN (1, 5, 6)"
        " AND substr(s.s, 1, 7) = '/docs/1'", (s0,)).fetchone()[0] == 0
    con.close()

    # idempotent: nothing left to purge, numbers unchanged
    before = dump_db(db)
    r = tallyd("purge", "--db", db, "--site", "site0.example",
               "--path", "/docs/1")
    assert r.returncode == 0 and "0 raw events" in r.stdout
    assert dump_db(db) == before


def test_purge_path_deletes_unused_strings(base, work):
    """A path only site0 used leaves no trace in the dictionary, and the
    visits it was part of keep their other pageview."""
    db = fresh(base, work)
    con = orc.connect_ro(db)
    assert SECRET in strings(con)
    con.close()
    r = tallyd("purge", "--db", db, "--site", "site0.example",
               "--path", "/private/")
    assert r.returncode == 0, r.stderr
    assert "purged site0.example: 6 raw events" in r.stdout
    assert "rebuilt" in r.stdout
    assert "dictionary: deleted" in r.stdout
    con = orc.connect_ro(db)
    assert SECRET not in strings(con)
    # the six visits are now one-pageview bounces on /docs/0
    rows = con.execute(
        "SELECT v.pageviews, v.bounce, s.s FROM visits v"
        " JOIN strings s ON s.id = v.entry_page_id"
        " WHERE v.visitor_id BETWEEN ? AND ?",
        (0x5EC000, 0x5EC000 + 19802 * 10 + 9)).fetchall()
    assert rows == [(1, 1, "/docs/0")] * 6
    orc.compare(con)
    con.close()
    # nothing of it in the database file's bytes either (after a
    # checkpoint; freed pages are zeroed by secure_delete or reused)
    with open(db, "rb") as f:
        data = f.read()
    wal = db + "-wal"
    if os.path.exists(wal):
        with open(wal, "rb") as f:
            data += f.read()
    assert SECRET.encode() not in data


def test_purge_refuses_days_without_raw_events(base, work):
    """Days whose raw events are incomplete (as after --retain-raw) cannot
    be rebuilt: refused, nothing changed."""
    db = fresh(base, work)
    con = sqlite3.connect(db)
    s0 = site_id(con, "site0.example")
    # raw events of a morning gone, rollups kept (what retention does);
    # SECRET was visited that day at 10:00
    con.execute("DELETE FROM events WHERE site_id = ? AND ts >= ? AND ts < ?",
                (s0, 19801 * DAY, 19801 * DAY + 6 * orc.HOUR))
    path = "/private/"
    con.commit()
    con.close()
    before = dump_db(db)
    r = tallyd("purge", "--db", db, "--site", "site0.example", "--path", path)
    assert r.returncode == 1
    assert "incomplete" in r.stderr and "nothing changed" in r.stderr
    assert dump_db(db) == before


# ---- purge --before ---------------------------------------------------------

def test_purge_before_rebuilds_visits_across_midnight(base, work):
    db = fresh(base, work)
    con = orc.connect_ro(db)
    s0, s1 = site_id(con, "site0.example"), site_id(con, "site1.example")
    other = site_rows(con, s1)
    # a midnight some visit of site0 spans: its later part must be rebuilt
    # as a visit of its own starting at/after midnight
    day = con.execute(
        "SELECT end_ts / 86400000 FROM visits WHERE site_id = ?"
        " AND start_ts / 86400000 < end_ts / 86400000 ORDER BY start_ts"
        " LIMIT 1", (s0,)).fetchone()[0]
    gone = con.execute("SELECT COUNT(*) FROM events WHERE site_id = ?"
                       " AND ts < ?", (s0, day * DAY)).fetchone()[0]
    con.close()
    date = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))

    r = tallyd("purge", "--db", db, "--site", "site0.example",
               "--before", date)
    assert r.returncode == 0, r.stderr
    assert f"{gone} raw events before {date}" in r.stdout
    assert "rebuilt" in r.stdout

    con = orc.connect_ro(db)
    t = day * DAY
    assert con.execute("SELECT COUNT(*) FROM events WHERE site_id = ? AND"
                       " ts < ?", (s0, t)).fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM visits WHERE site_id = ? AND"
                       " start_ts < ?", (s0, t)).fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM rollup_hourly WHERE site_id = ?"
                       " AND hour < ?", (s0, t // orc.HOUR)).fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM rollup_hourly WHERE site_id = ?"
                       " AND hour >= ?", (s0, t // orc.HOUR)).fetchone()[0] > 0
    assert site_rows(con, s1) == other
    assert orc.compare(con) > 10000
    con.close()


# ---- sites delete ------------------------------------------------------------

def test_sites_delete_needs_yes_then_deletes_everything(base, work):
    db = fresh(base, work)
    # rows in the side tables keyed by the site, when those commands exist
    for args in (["goals", "add", "--db", db, "--site", "site0.example",
                  "--event", "Signup"],
                 ["share", "add", "--db", db, "--site", "site0.example"]):
        tallyd(*args)
    con = orc.connect_ro(db)
    s0, s1 = site_id(con, "site0.example"), site_id(con, "site1.example")
    other = site_rows(con, s1)
    n0 = con.execute("SELECT COUNT(*) FROM events WHERE site_id = ?",
                     (s0,)).fetchone()[0]
    con.close()
    before = dump_db(db)

    r = tallyd("sites", "delete", "--db", db, "site0.example")
    assert r.returncode == 1
    assert f"would delete site site0.example and {n0} raw events" in r.stderr
    assert "--yes" in r.stderr
    assert dump_db(db) == before

    r = tallyd("sites", "delete", "--db", db, "site0.example", "--yes")
    assert r.returncode == 0, r.stderr
    assert f"deleted site site0.example: {n0} raw events" in r.stdout
    con = orc.connect_ro(db)
    assert con.execute("SELECT COUNT(*) FROM sites WHERE domain ="
                       " 'site0.example'").fetchone()[0] == 0
    tables = {t for (t,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    for t in ("events", "visits", "rollup_hourly", "goals", "key_sites",
              "import_ledger", "import_follow"):
        if t in tables:
            assert con.execute(f"SELECT COUNT(*) FROM {t} WHERE site_id = ?",
                               (s0,)).fetchone()[0] == 0, t
    if "web_shares" in tables:
        assert con.execute("SELECT COUNT(*) FROM web_shares WHERE site ="
                           " 'site0.example'").fetchone()[0] == 0
    assert site_rows(con, s1) == other
    # its host name, and strings no other site used, are gone too
    assert "site0.example" not in strings(con)
    assert "site1.example" in strings(con)
    orc.compare(con)
    con.close()


# ---- beside a running tallyd serve ---------------------------------------------

def test_purge_beside_running_serve(base, work):
    """While serve runs: purging its live days (the newest event's day and
    the day before) is refused and changes nothing; an older purge runs,
    keeps the dictionary, and the drain goes on storing new events; after
    the stop every number agrees with the oracle."""
    spool = os.path.join(work, "spool")
    os.mkdir(spool)
    t = tally.Tallyd(spool, workdir=work)
    copy_db(base, t.db)
    con = orc.connect_ro(t.db)
    hwm = con.execute("SELECT v FROM meta WHERE k = 'hwm_ms'").fetchone()[0]
    n_before = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    con.close()
    last = hwm // DAY
    t.start()
    try:
        before = dump_db(t.db)
        live = time.strftime("%Y-%m-%d", time.gmtime(last * 86400))
        r = tallyd("purge", "--db", t.db, "--site", "site0.example",
                   "--before", live)
        assert r.returncode == 1, r.stdout
        assert "running tallyd" in r.stderr and "nothing changed" in r.stderr
        r = tallyd("sites", "delete", "--db", t.db, "site1.example", "--yes")
        assert r.returncode == 1 and "running tallyd" in r.stderr
        assert dump_db(t.db) == before

        old = time.strftime("%Y-%m-%d", time.gmtime((last - 2) * 86400))
        r = tallyd("purge", "--db", t.db, "--site", "site0.example",
                   "--before", old)
        assert r.returncode == 0, r.stderr
        assert "dictionary kept" in r.stdout
        gone = int(r.stdout.split(":")[1].split()[0])
        assert gone > 0

        # new events after the purge: serve drains them on top
        extra = os.path.join(work, "extra")
        added = orc.gen_spool(extra, events=3000, sites=2, days=1, writers=1,
                              seed=5, start_day=last + 1)
        for name in sorted(os.listdir(extra)):     # segments before markers
            if name.endswith(".tsp"):
                os.rename(os.path.join(extra, name), os.path.join(spool, name))
        for name in os.listdir(extra):
            os.rename(os.path.join(extra, name), os.path.join(spool, name))

        def drained():
            c = orc.connect_ro(t.db)
            try:
                return c.execute("SELECT COUNT(*) FROM events").fetchone()[0] \
                    >= n_before - gone + 0.95 * added
            finally:
                c.close()
        tally.wait_until(drained, timeout=30, what="serve to drain new events")
        tally.wait_until(lambda: not [f for f in os.listdir(spool)
                                      if f.endswith(".tsp")],
                         timeout=30, what="the spool to be consumed")
    finally:
        assert t.stop() == 0, t.read_log()
    con = orc.connect_ro(t.db)
    assert orc.compare(con) > 10000
    con.close()


# ---- SIGKILL in the middle ------------------------------------------------------

def test_sigkill_during_purge_leaves_old_or_new(work):
    """A long purge (most events of a site, every day rebuilt) killed at
    random moments: the database is the old one or the finished one, row
    for row (both checked against the oracle once); a purge run again
    finishes the job."""
    spool = os.path.join(work, "spool")
    orc.gen_spool(spool, events=30000, sites=1, days=3, writers=2, seed=23)
    orig = os.path.join(work, "orig.db")
    orc.drain_once(spool, orig)
    args = ["--site", "site0.example", "--path", "/docs/"]
    old = digest(orig)
    compare_db(orig)

    ref = os.path.join(work, "ref.db")
    copy_db(orig, ref)
    t0 = time.monotonic()
    r = tallyd("purge", "--db", ref, *args)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    new = digest(ref)
    assert new != old
    compare_db(ref)

    rnd = random.Random(1234)
    seen = []
    for i in range(5):
        db = os.path.join(work, f"k{i}.db")
        copy_db(orig, db)
        p = subprocess.Popen([orc.TALLYD, "purge", "--db", db, *args],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0, took * 1.1))
        p.send_signal(signal.SIGKILL)
        p.wait()
        con = orc.connect_ro(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        got = digest(db)
        assert got == old or got == new, f"kill {i}: a mix of old and new"
        seen.append("old" if got == old else "new")
        if got == old:
            # an interrupted purge is simply run again
            r = tallyd("purge", "--db", db, *args)
            assert r.returncode == 0, r.stderr
            assert digest(db) == new
        for f in (db, db + "-wal", db + "-shm"):
            if os.path.exists(f):
                os.unlink(f)
    print("states after kills:", seen)
