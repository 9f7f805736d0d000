"""`tallyd serve --source redis://...` against a real redis-server and real
shippers: spool -> tallyd ship -> Redis Streams -> tallyd.

The oracle is the same spool drained locally (`tallyd drain --once` on a
copy): the Redis source must produce the very same raw events, visits and
hourly rollups, row by row (strings resolved), with rollups agreeing with
SQL over raw events (ingest_oracle.compare) and the Stats API v2 agreeing
with SQL over raw events -- also after SIGKILLs at random moments, after
redis-server dies under it, and with corrupt entries in the stream.
Trimming is checked against the positions the replicas published: no
entry a registered replica has not applied ever leaves the stream, and a
replica that finds entries trimmed before it applied them refuses to run
until it is seeded from another replica's backup."""

import datetime
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import ingest_oracle as orc  # noqa: E402
import resp  # noqa: E402
import tally  # noqa: E402
from tally import wait_until  # noqa: E402

DAY_MS = 86400000


# ---- processes ---------------------------------------------------------

class Source(tally.Tallyd):
    """tallyd serve --source redis://127.0.0.1:PORT [--replica NAME]."""

    def __init__(self, redis_port, replica=None, workdir=None, extra=()):
        if workdir:
            os.makedirs(workdir, exist_ok=True)
        super().__init__(None, workdir=workdir,
                         extra_args=["--poll-ms", "20", *extra])
        self.redis_port = redis_port
        self.replica = replica

    def argv(self):
        a = [tally.TALLYD, "serve", "--source",
             "redis://127.0.0.1:%d" % self.redis_port, "--db", self.db,
             "--listen", "127.0.0.1:%d" % self.port, *self.extra_args]
        return a + (["--replica", self.replica] if self.replica else [])

    def start(self, wait=True):
        if self.key is None:
            self.key = self.add_key()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        if wait:
            wait_until(lambda: self.health() or self.proc.poll() is not None,
                       what="tallyd /health")
            assert self.proc.poll() is None, self.read_log()
        return self

    def applied(self):
        return applied(self.db)


def applied(db):
    """Entries the database has applied, all streams (0 before the
    first commit); read-only, beside the running writer."""
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
        try:
            return con.execute("SELECT COALESCE(SUM(applied), 0)"
                               " FROM source_pos").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


class Shipper:
    def __init__(self, spool, port, edge, log_dir=None):
        """The log goes next to the spool, or into log_dir when given
        (a directory the test removes)."""
        self.args = [tally.TALLYD, "ship", "--spool", spool, "--redis",
                     "redis://127.0.0.1:%d" % port, "--edge", edge,
                     "--poll-ms", "20"]
        base = spool.rstrip("/")
        if log_dir:
            base = os.path.join(log_dir, os.path.basename(base))
        self.log = base + "-ship-%s.log" % edge
        self.proc = None

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def work():
    d = tally.make_tmpdir("tally-rdrain-")
    procs = []
    yield d, procs
    for p in procs:
        try:
            p.stop(signal.SIGKILL)
        except Exception:
            pass
    shutil.rmtree(d, ignore_errors=True)


class RedisProc:
    """resp.Server with the stop(sig) the fixture calls."""

    def __init__(self, d):
        os.makedirs(d, exist_ok=True)
        self.srv = resp.Server(d).start()
        self.port = self.srv.port

    def client(self):
        return self.srv.client()

    def kill(self):
        self.srv.proc.kill()
        self.srv.proc.wait()

    def start(self):
        self.srv.start()

    def stop(self, sig=None):
        self.srv.stop()


def redis_in(d, procs):
    r = RedisProc(os.path.join(d, "redis"))
    procs.append(r)
    return r


def xlen(port, stream):
    with resp.Redis(port) as r:
        return r.call("XLEN", stream)


def xinfo(port, stream):
    with resp.Redis(port) as r:
        v = r.call("XINFO", "STREAM", stream)
    return {v[i].decode(): v[i + 1] for i in range(0, len(v), 2)}


def records_in(spool):
    import spoolfmt
    return sum(len(spoolfmt.read_records(os.path.join(spool, n)))
               for n in spoolfmt.list_segments(spool))


def gen(d, name, events, **kw):
    spool = os.path.join(d, name)
    args = dict(events=events, sites=2, days=2, writers=3, seed=5)
    args.update(kw)
    n = orc.gen_spool(spool, **args)
    assert n == events
    return spool


def reference(d, spool):
    """The local drain of a copy of spool: the oracle database."""
    copy = spool + "-copy"
    shutil.copytree(spool, copy)
    db = os.path.join(d, "reference.db")
    orc.drain_once(copy, db, "--batch-events", "3000")
    return db


def ship_all(d, procs, spool, port, edge):
    """Ships the whole spool and waits until the stream holds it."""
    want = records_in(spool)
    sh = Shipper(spool, port, edge).start()
    procs.append(sh)
    wait_until(lambda: xlen(port, "tally:edge:" + edge) >= want, timeout=60,
               what="the spool in the stream")
    return sh, want


def same_tables(db_a, db_b):
    ca, cb = orc.connect_ro(db_a), orc.connect_ro(db_b)
    try:
        da, dbb = orc.dump(ca), orc.dump(cb)
    finally:
        ca.close()
        cb.close()
    for table in ("events", "visits", "rollup_hourly"):
        assert len(da[table]) == len(dbb[table]), table
        assert da[table] == dbb[table], table
    return len(da["events"])


def api_agrees_with_sql(t):
    """The Stats API v2 (rollups) answers what SQL over raw events says,
    per site over the whole range, and per day."""
    con = orc.connect_ro(t.db)
    try:
        sites = [r[0] for r in con.execute("SELECT domain FROM sites")]
        lo, hi = con.execute("SELECT MIN(ts), MAX(ts) FROM events").fetchone()
    finally:
        con.close()
    first, last = lo // DAY_MS, hi // DAY_MS
    iso = lambda day: (datetime.date(1970, 1, 1)
                       + datetime.timedelta(days=day)).isoformat()
    checked = 0
    for site in sites:
        body = {"site_id": site, "metrics": ["visitors", "pageviews", "events"],
                "date_range": [iso(first), iso(last)]}
        st, data = t.query(body)
        assert st == 200, data
        got = tuple(data["results"][0]["metrics"])
        assert got == sql_counts(t.db, site, first, last), site
        checked += got[2]
    return checked


def sql_counts(db, site, first_day, last_day):
    con = orc.connect_ro(db)
    try:
        sid = con.execute("SELECT id FROM sites WHERE domain = ?",
                          (site,)).fetchone()[0]
        lo, hi = first_day * DAY_MS, (last_day + 1) * DAY_MS
        v = con.execute(
            "SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(DISTINCT visitor_id)"
            " n FROM events WHERE site_id = ? AND ts >= ? AND ts < ?"
            " GROUP BY ts / 86400000)", (sid, lo, hi)).fetchone()[0]
        pv, ev = con.execute(
            "SELECT COALESCE(SUM(s.s = 'pageview'), 0), COUNT(*) FROM events e"
            " JOIN strings s ON s.id = e.name_id"
            " WHERE site_id = ? AND ts >= ? AND ts < ?",
            (sid, lo, hi)).fetchone()
        return (v, pv, ev)
    finally:
        con.close()


def replicas_list(port):
    r = subprocess.run([tally.TALLYD, "replicas", "--redis",
                        "redis://127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    rows = {}
    lines = r.stdout.splitlines()
    start = [i for i, l in enumerate(lines) if l.startswith("REPLICA")][0]
    for line in lines[start + 1:]:
        f = line.split()
        if len(f) == 6:
            rows[(f[0], f[2])] = {"hb": float(f[1]), "id": f[3],
                                  "behind": int(f[4]) if f[4] != "-" else None}
    return rows


# ---- tests -------------------------------------------------------------

def test_stream_equals_local_drain_and_corrupt_entries_are_skipped(work):
    d, procs = work
    spool = gen(d, "spool", 12000)
    ref = reference(d, spool)
    srv = redis_in(d, procs)
    sh, n = ship_all(d, procs, spool, srv.port, "e1")
    sh.stop()
    # damaged entries above the shipper's: a bad CRC, no "r" at all
    with srv.client() as r:
        good = r.call("XRANGE", "tally:edge:e1", "-", "+", "COUNT", 1)[0][1]
        rec = bytearray(dict(zip(good[0::2], good[1::2]))[b"r"])
        rec[-1] ^= 0xFF
        bad1 = r.call("XADD", "tally:edge:e1", "*", "r", bytes(rec),
                      "seg", "seg-0000000000000001-00000001.tsp", "off", "32")
        bad2 = r.call("XADD", "tally:edge:e1", "*", "seg", "x", "off", "0")
    t = Source(srv.port, replica="r1", workdir=os.path.join(d, "t")).start()
    procs.append(t)
    wait_until(lambda: t.applied() == n + 2, timeout=60, what="all applied")
    events = same_tables(ref, t.db)
    assert events > 0.9 * 12000
    with orc.connect_ro(t.db) as con:
        assert orc.compare(con) > 0
    assert api_agrees_with_sql(t) == events
    log = t.read_log()
    for bad in (bad1, bad2):
        assert "corrupt entry %s in stream tally:edge:e1" % bad.decode() in log
    assert "127.0.0.1" not in log
    # one registered replica that applied everything: trimmed to empty
    wait_until(lambda: xlen(srv.port, "tally:edge:e1") == 0,
               what="the stream trimmed behind the only replica")
    with srv.client() as r:
        assert r.call("SMEMBERS", "tally:replicas") == [b"r1"]
        pos = r.call("HGET", "tally:replica:r1", "tally:edge:e1").decode()
    assert pos == bad2.decode()
    assert t.stop() == 0


def test_sigkill_at_random_moments_gives_the_same_tables(work):
    d, procs = work
    spool = gen(d, "spool", 20000, seed=9)
    ref = reference(d, spool)
    srv = redis_in(d, procs)
    _, n = ship_all(d, procs, spool, srv.port, "e1")
    rnd = random.Random(int(os.environ.get("RDRAIN_SEED", "4")))
    workdir = os.path.join(d, "t")
    t = Source(srv.port, replica="r1", workdir=workdir,
               extra=("--batch-events", "800"))
    procs.append(t)
    kills = 0
    for _ in range(12):
        have = applied(t.db)
        if have >= n or kills >= 6:
            break
        target = have + rnd.randrange(1, max(2, (n - have) // 8))
        t.start(wait=False)
        wait_until(lambda: applied(t.db) >= target or t.proc.poll() is not None,
                   timeout=60, interval=0.001, what="progress")
        time.sleep(rnd.uniform(0, 0.005))     # anywhere in a transaction
        alive = t.proc.poll() is None
        t.stop(signal.SIGKILL)
        kills += alive
    assert kills >= 4, "applied everything before enough kills"
    t.start()
    wait_until(lambda: t.applied() == n, timeout=60, what="all applied")
    same_tables(ref, t.db)
    api_agrees_with_sql(t)
    assert t.stop() == 0


def add_part(spool, part):
    """Moves the segments of the generated spool `part` into `spool`
    (where the shipper picks them up)."""
    for name in sorted(os.listdir(part)):
        os.replace(os.path.join(part, name), os.path.join(spool, name))


def test_redis_dies_and_returns_mid_run(work):
    d, procs = work
    # one writer per part: while the consumer keeps up with a shipper that
    # sends a backlog segment by segment, the stream order is the order
    # it gets (see docs/cluster.md); the merge is checked above
    p1 = gen(d, "p1", 6000, seed=3, writers=1)
    p2 = gen(d, "p2", 6000, seed=4, writers=1, start_day=19802)
    both = os.path.join(d, "both")       # part 2 is days after part 1
    os.makedirs(both)
    for part in (p1, p2):
        for name in os.listdir(part):
            shutil.copy(os.path.join(part, name), both)
    ref = reference(d, both)
    n1, n2 = records_in(p1), records_in(p2)
    srv = redis_in(d, procs)
    spool = tally.make_tmpdir("tally-rd-spool-")
    procs.append(type("Rm", (), {"stop": lambda self, sig=None:
                                 shutil.rmtree(spool, True)})())
    add_part(spool, p1)
    sh = Shipper(spool, srv.port, "e1", log_dir=d).start()
    procs.append(sh)
    t = Source(srv.port, replica="r1", workdir=os.path.join(d, "t"),
               extra=("--batch-events", "500")).start()
    procs.append(t)
    wait_until(lambda: t.applied() == n1, timeout=60, what="part 1 applied")
    srv.kill()                          # appendfsync always: nothing lost
    wait_until(lambda: "redis unreachable" in t.read_log(), timeout=30,
               what="tallyd noticing")
    add_part(spool, p2)                 # the edge keeps writing meanwhile
    assert t.proc.poll() is None
    assert t.health()                   # still serving queries
    st, data = t.query({"site_id": "site0.example", "metrics": ["events"],
                        "date_range": ["2024-03-18", "2024-03-19"]})
    assert st == 200, data
    srv.start()
    wait_until(lambda: t.applied() == n1 + n2, timeout=60, what="all applied")
    assert "redis is back" in t.read_log()
    same_tables(ref, t.db)
    api_agrees_with_sql(t)
    assert t.stop() == 0


def test_trimming_stays_behind_every_replica(work):
    d, procs = work
    p1 = gen(d, "p1", 4000, seed=7, writers=1)
    p2 = gen(d, "p2", 3000, seed=8, writers=1, start_day=19802)
    n1, n2 = records_in(p1), records_in(p2)
    srv = redis_in(d, procs)
    stream = "tally:edge:e1"
    spool = tally.make_tmpdir("tally-rd-spool-")
    procs.append(type("Rm", (), {"stop": lambda self, sig=None:
                                 shutil.rmtree(spool, True)})())
    r1 = Source(srv.port, replica="r1", workdir=os.path.join(d, "r1"),
                extra=("--stream-warn", "100")).start()
    r2 = Source(srv.port, replica="r2", workdir=os.path.join(d, "r2")).start()
    procs += [r1, r2]
    add_part(spool, p1)
    sh = Shipper(spool, srv.port, "e1", log_dir=d).start()
    procs.append(sh)
    wait_until(lambda: r1.applied() == n1 and r2.applied() == n1, timeout=60,
               what="part 1 applied by both")
    r2.stop(signal.SIGKILL)             # r2 dies; its position stays
    add_part(spool, p2)
    wait_until(lambda: r1.applied() == n1 + n2, timeout=60,
               what="part 2 applied by r1")
    with srv.client() as r:
        r2_pos = r.call("HGET", "tally:replica:r2", stream).decode()
        r2_n = int(r.call("HGET", "tally:replica:r2", "n:" + stream))
    assert r2_n == n1
    rows = replicas_list(srv.port)
    assert rows[("r2", stream)]["behind"] == n2
    assert rows[("r2", stream)]["id"] == r2_pos
    assert rows[("r1", stream)]["behind"] == 0
    # what r2 has not applied is all there; what both applied is trimmed
    wait_until(lambda: xlen(srv.port, stream) == n2, what="trimmed to r2")
    with srv.client() as r:
        ids = [e[0].decode() for e in r.call("XRANGE", stream, "-", "+")]
    key = lambda i: tuple(int(x) for x in i.split("-"))
    assert len(ids) == n2 and key(ids[0]) > key(r2_pos)
    info = xinfo(srv.port, stream)
    assert info["entries-added"] - info["length"] == n1
    wait_until(lambda: "more than --stream-warn 100" in r1.read_log(),
               what="the stream-warn line")

    # a new, empty replica cannot join: entries it needs were trimmed
    r3 = Source(srv.port, replica="r3", workdir=os.path.join(d, "r3"))
    r3.key = r3.add_key()
    r = subprocess.run(r3.argv(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert "trimmed past this database" in r.stderr
    assert "tallyd backup" in r.stderr
    with srv.client() as c:
        assert sorted(c.call("SMEMBERS", "tally:replicas")) == [b"r1", b"r2"]
    # forgetting the dead r2 lets r1 trim everything
    f = subprocess.run([tally.TALLYD, "replicas", "forget", "--redis",
                        "redis://127.0.0.1:%d" % srv.port, "r2"],
                       capture_output=True, text=True, timeout=30)
    assert f.returncode == 0, f.stderr
    wait_until(lambda: xlen(srv.port, stream) == 0, timeout=30,
               what="trimmed once r2 is forgotten")
    # r2 comes back: entries it never applied are gone -> refuses to run
    r2.start(wait=False)
    assert r2.proc.wait(timeout=30) == 1
    assert "Seed it from another replica's backup" in r2.read_log()
    # seeded from r1's backup it resumes and holds what r1 holds
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(r2.db + ext):
            os.unlink(r2.db + ext)
    r1.cli("backup", "--db", r1.db, r2.db)
    # a replica's database refuses local admin writes (ctl_cli.h); r1's
    # key travelled with the backup
    r2.key = r1.key
    r2.start()
    with srv.client() as c:
        wait_until(lambda: c.call("HGET", "tally:replica:r2", "n:" + stream)
                   == str(n1 + n2).encode(), what="r2 registered again")
    same_tables(r1.db, r2.db)
    assert r1.stop() == 0 and r2.stop() == 0
