"""Scale out, end to end: two real NGINX edges with the module, each with
its `tallyd ship`, one redis-server (AOF, appendfsync always) and two
`tallyd serve --source ... --replica` replicas (three).  Load comes from a thread
pool that records every event an edge acknowledged (202).  Meanwhile a
shipper, a replica and redis-server are killed with SIGKILL at random
points and restarted, and later Redis stays down for a while (the edges
keep accepting into their spools).  At the end both replicas hold exactly
the acknowledged events -- no more, no fewer -- and answer the same
numbers through the Stats API v2, equal to SQL over their raw events."""

import concurrent.futures
import datetime
import os
import random
import signal
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "aggregator"))

import tally  # noqa: E402
from tally import wait_until  # noqa: E402
from test_redis_drain import (RedisProc, Shipper, Source,  # noqa: E402
                              sql_counts)

SITE = "multi.example"


class Load:
    """Posts pageviews to random edges from a thread pool; counts 202s."""

    def __init__(self, edges, seed=1):
        self.edges = edges
        self.rnd = random.Random(seed)
        self.lock = threading.Lock()
        self.acked = 0
        self.refused = 0
        self.pool = concurrent.futures.ThreadPoolExecutor(4)

    def one(self, i):
        edge = self.edges[i % len(self.edges)]
        body = {"name": "pageview", "domain": SITE,
                "url": "https://%s/p/%d" % (SITE, i % 37)}
        ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36 v%d" \
            % (i % 50)
        try:
            st, _, _ = edge.post(body, headers={"User-Agent": ua})
        except OSError:
            st = None
        with self.lock:
            if st == 202:
                self.acked += 1
            else:
                self.refused += 1

    def run(self, n, start=0):
        list(self.pool.map(self.one, range(start, start + n)))


def events_in(db):
    try:
        con = tally_ro(db)
        try:
            r = con.execute("SELECT COUNT(*) FROM events e JOIN sites s"
                            " ON s.id = e.site_id WHERE s.domain = ?",
                            (SITE,)).fetchone()
            return r[0]
        finally:
            con.close()
    except Exception:
        return -1


def tally_ro(db):
    import sqlite3
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)


def test_two_edges_survive_kills_and_a_redis_outage():
    work = tally.make_tmpdir("tally-multi-")
    procs, edges = [], []
    try:
        redis = RedisProc(os.path.join(work, "redis"))
        procs.append(redis)
        for _ in range(2):
            edges.append(tally.Nginx())
            edges[-1].start()
        procs += [type("N", (), {"stop": lambda self, sig=None, n=n: n.stop()})()
                  for n in edges]
        ships = [Shipper(e.spool, redis.port, name).start()
                 for e, name in zip(edges, ("edge-a", "edge-b"))]
        procs += ships
        reps = [Source(redis.port, replica=name,
                       workdir=os.path.join(work, name),
                       extra=("--batch-events", "50")).start()
                for name in ("r1", "r2", "r3")]
        procs += reps
        load = Load(edges)
        rnd = random.Random(int(os.environ.get("MULTI_SEED", "3")))

        # kill -9 a shipper, a replica and Redis at random points of the load
        victims = ["ship", "replica", "redis"]
        rnd.shuffle(victims)
        sent = 0
        for v in victims:
            n = rnd.randrange(100, 300)
            fut = load.pool.submit(load.run, n, sent)
            sent += n
            wait_until(lambda: load.acked + load.refused >= sent - n // 2,
                       timeout=30, what="load progress")
            if v == "ship":
                ships[0].stop(signal.SIGKILL)
                ships[0].start()
            elif v == "replica":
                reps[0].stop(signal.SIGKILL)
                reps[0].start()
            else:
                redis.kill()
                redis.start()
            fut.result(timeout=60)

        # Redis down for a while: the edges keep accepting into their spools
        redis.stop()
        before = load.acked
        load.run(200, sent)
        sent += 200
        assert load.acked - before == 200, "the edges refused while Redis was down"
        wait_until(lambda: all("redis unreachable" in r.read_log() for r in reps),
                   timeout=30, what="the replicas noticing")
        assert all(r.health() for r in reps)
        redis.start()

        for r in reps:
            wait_until(lambda: events_in(r.db) >= load.acked, timeout=60,
                       what="every acknowledged event in %s" % r.replica)
        # and no more than that, on either replica
        for r in reps:
            assert events_in(r.db) == load.acked, r.replica
        today = datetime.datetime.now(datetime.timezone.utc).date()
        day = (today - datetime.date(1970, 1, 1)).days
        body = {"site_id": SITE, "metrics": ["visitors", "pageviews", "events"],
                "date_range": [(today - datetime.timedelta(days=1)).isoformat(),
                               today.isoformat()]}
        answers = []
        for r in reps:
            st, data = r.query(body)
            assert st == 200, data
            got = tuple(data["results"][0]["metrics"])
            assert got == sql_counts(r.db, SITE, day - 1, day)
            assert got[2] == load.acked
            answers.append(got)
        assert answers[0] == answers[1] == answers[2]
        assert load.refused == 0
        for r in reps:
            assert "127.0.0.1" not in r.read_log()
    finally:
        for p in reversed(procs):
            try:
                p.stop(signal.SIGKILL)
            except Exception:
                pass
        for e in edges:
            e.stop()
            tally.rmtree(e.prefix)
        tally.rmtree(work)
