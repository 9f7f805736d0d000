"""Admin changes replicate (docs/cluster.md, "Admin changes"): one real
redis-server and three real `tallyd serve --source ... --replica`
processes on loopback.  Sites, goals, API keys, dashboard users and
share links made through one replica's database (`tallyd ... --source`)
are used on the others; a key revoked through a third is refused on the
first; a replica killed with SIGKILL while changes are made catches up;
every replica ends with the same admin tables, hashes included; the
control stream is never trimmed past a registered replica that has not
applied it; a bad control entry is skipped the same way everywhere; a
new empty replica is refused once the stream was trimmed and joins from
a backup."""

import json
import os
import signal
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "aggregator"))

import tally  # noqa: E402
from tally import request, wait_until  # noqa: E402
from test_redis_drain import RedisProc, Source, xinfo, xlen  # noqa: E402

SITE = "admin.example"
CTL = "tally:ctl"
PASSWORD = "correct horse battery"

# the admin tables, with site ids resolved to domains (a site's id is
# local to a database: the ingest creates sites too)
ADMIN_SQL = {
    "sites": "SELECT domain, timezone FROM sites ORDER BY domain",
    "goals": "SELECT g.id, s.domain, g.kind, g.value, g.created FROM goals g"
             " JOIN sites s ON s.id = g.site_id ORDER BY g.id",
    "api_keys": "SELECT id, hex(hash), name, created, revoked FROM api_keys"
                " ORDER BY id",
    "key_sites": "SELECT k.key_id, s.domain FROM key_sites k JOIN sites s"
                 " ON s.id = k.site_id ORDER BY 1, 2",
    "web_users": "SELECT id, name, pwhash, created FROM web_users ORDER BY id",
    "web_shares": "SELECT id, hex(hash), site, created, revoked FROM web_shares"
                  " ORDER BY id",
    "ctl_applied": "SELECT ms, seq, status, obj FROM ctl_applied ORDER BY 1, 2",
    "position": "SELECT last_id, applied FROM source_pos WHERE stream = 'tally:ctl'",
}


def admin_tables(db):
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return {t: con.execute(q).fetchall() for t, q in ADMIN_SQL.items()}
    finally:
        con.close()


def ctl_applied(db):
    """(last ID, entries applied) of the control stream in db."""
    try:
        return admin_tables(db)["position"][0]
    except Exception:
        return ("0-0", 0)


def idkey(i):
    return tuple(int(x) for x in i.split("-"))


class Replica(Source):
    """A replica that makes no local API key before it starts: every key
    comes through the control stream."""

    def __init__(self, port, name, workdir):
        super().__init__(port, replica=name, workdir=workdir)
        self.key = ""

    def admin(self, *args, stdin=None, check=True):
        """`tallyd ARGS --db <this db> --source redis://...`."""
        argv = [tally.TALLYD, *args, "--db", self.db, "--source",
                "redis://127.0.0.1:%d" % self.redis_port]
        r = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                           timeout=60)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r


def bearer(rep, key, site=SITE):
    st, _ = rep.query({"site_id": site, "metrics": ["visitors"],
                       "date_range": "day"}, key=key)
    return st


def login(rep, user, pw):
    from urllib.parse import urlencode
    h = {"Content-Type": "application/x-www-form-urlencoded",
         "X-Requested-With": "tally"}
    st, _, _ = request(rep.port, "POST", "/login",
                       urlencode({"username": user, "password": pw}), h)
    return st


def test_admin_changes_replicate(tmp_path):
    work = str(tmp_path)
    procs = []
    try:
        redis = RedisProc(os.path.join(work, "redis"))
        procs.append(redis)
        a, b, c = reps = [Replica(redis.port, n, os.path.join(work, n)).start()
                          for n in ("r1", "r2", "r3")]
        procs += reps
        # a registered replica without a position holds the whole stream
        with redis.client() as r:
            r.call("SADD", "tally:replicas", "watch")

        # ---- made through A, used on B and C ----
        a.admin("sites", "add", SITE, "--timezone", "Europe/Berlin")
        out = a.admin("goals", "add", "--site", SITE, "--event", "Signup").stdout
        assert out.startswith("added goal 1: event Signup"), out
        out = a.admin("keys", "add", "--name", "ci", "--site", SITE).stdout
        assert out.startswith("created API key id 1 named ci"), out
        key = out.strip().splitlines()[-1]
        out = a.admin("users", "add", "alice", stdin=PASSWORD + "\n").stdout
        assert out.startswith("created user alice"), out
        out = a.admin("share", "add", "--site", SITE).stdout
        share = out.strip().splitlines()[-1].split("share=")[1]
        # the plaintext key, token and password are not in the stream
        with redis.client() as r:
            entries = r.call("XRANGE", CTL, "-", "+")
        text = b"".join(e[1][1] for e in entries)
        assert len(entries) == 5
        for secret in (key, share, PASSWORD):
            assert secret.encode() not in text

        wait_until(lambda: bearer(b, key) == 200, timeout=20,
                   what="the key authenticating on B")
        assert bearer(b, "tly_" + "A" * 43) == 401
        wait_until(lambda: login(b, "alice", PASSWORD) == 204, timeout=20,
                   what="alice logging in on B")
        assert login(b, "alice", PASSWORD + "x") == 401

        def goals_on(rep):
            st, _, body = request(rep.port, "GET",
                                  "/api/v1/sites/goals?site_id=" + SITE,
                                  headers={"Authorization": "Bearer " + key})
            return st == 200 and [g.get("event_name") or g.get("page_path")
                                  for g in json.loads(body)["goals"]]
        assert wait_until(lambda: goals_on(c), timeout=20,
                          what="the goal on C") == ["Signup"]
        # the Sites API of a replica goes through the control stream too
        st, _, body = request(c.port, "PUT", "/api/v1/sites/goals",
                              {"site_id": SITE, "goal_type": "page",
                               "page_path": "/buy"},
                              {"Authorization": "Bearer " + key,
                               "Content-Type": "application/json"})
        assert st == 201, body
        assert json.loads(body)["id"] == 2
        wait_until(lambda: goals_on(a) == ["Signup", "/buy"], timeout=20,
                   what="the Sites API goal on A")
        st, _, _ = request(c.port, "GET", "/api/v1/sites",
                           headers={"X-Tally-Share": share})
        assert st == 200
        st, _, _ = request(c.port, "GET", "/api/v1/sites",
                           headers={"X-Tally-Share": share[:-1] + "x"})
        assert st == 401

        # ---- a local-only write on a replica's database is refused ----
        r = subprocess.run([tally.TALLYD, "goals", "add", "--db", b.db,
                            "--site", SITE, "--event", "Local"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "--source" in r.stderr, r.stderr
        r = subprocess.run([tally.TALLYD, "keys", "add", "--db", b.db],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "--source" in r.stderr, r.stderr
        # an outcome is reported from the entry as applied
        r = b.admin("goals", "add", "--site", "nosuch.example", "--event", "X",
                    check=False)
        assert r.returncode == 1 and "no site" in r.stderr, r.stderr

        # ---- revoked through C, refused on A ----
        c.admin("keys", "revoke", "1")
        wait_until(lambda: bearer(a, key) == 401, timeout=20,
                   what="the revoked key refused on A")

        # ---- bad control entries: logged with their ID, skipped ----
        with redis.client() as r:
            bad1 = r.call("XADD", CTL, "*", "c", "tally-ctl/1 site.frobnicate"
                          " site=x").decode()
            bad2 = r.call("XADD", CTL, "*", "x", "y").decode()
        for rep in reps:
            wait_until(lambda: ("bad control entry %s" % bad2) in rep.read_log(),
                       timeout=20, what="the bad entries skipped on " + rep.replica)
            assert ("bad control entry %s" % bad1) in rep.read_log()

        # ---- SIGKILL a replica while changes are made; it catches up ----
        errors = []

        def changes():
            try:
                for i in range(12):
                    a.admin("goals", "add", "--site", SITE, "--page",
                            "/p%d/**" % i)
                a.admin("users", "passwd", "alice", stdin=PASSWORD + "2\n")
                a.admin("share", "revoke", "1")
            except AssertionError as e:
                errors.append(e)
        th = threading.Thread(target=changes)
        th.start()
        wait_until(lambda: ctl_applied(b.db)[1] >= 10, timeout=30,
                   what="B applying some of the changes")
        b.stop(signal.SIGKILL)
        th.join(timeout=60)
        assert not errors, errors
        # with B's serve down its CLI applies the stream itself
        b.admin("sites", "add", "second.example")
        b.start()
        out = c.admin("sites", "scope-key", "--key-id", "1", "second.example").stdout
        assert out.startswith("key 1 may now read second.example"), out
        c.admin("users", "add", "bob", stdin=PASSWORD + "\n")
        wait_until(lambda: login(a, "bob", PASSWORD) == 204, timeout=20,
                   what="bob logging in on A")
        a.admin("users", "remove", "bob")
        r = c.admin("users", "remove", "bob", check=False)
        assert r.returncode == 1 and "no such user" in r.stderr, r.stderr
        with redis.client() as r:
            last = r.call("XREVRANGE", CTL, "+", "-", "COUNT", 1)[0][0].decode()
        for rep in reps:
            wait_until(lambda: ctl_applied(rep.db)[0] == last, timeout=30,
                       what="every change applied on " + rep.replica)
        want = admin_tables(a.db)
        assert len(want["goals"]) == 14 and len(want["sites"]) == 2
        assert want["api_keys"][0][4] > 0            # revoked
        assert want["key_sites"] == [(1, SITE), (1, "second.example")]
        assert [u[1] for u in want["web_users"]] == ["alice"]
        assert want["web_shares"][0][4] > 0          # revoked
        for rep in (b, c):
            assert admin_tables(rep.db) == want, rep.replica
        assert login(c, "alice", PASSWORD) == 401
        assert login(c, "alice", PASSWORD + "2") == 204

        # ---- trimming stays behind a registered replica ----
        assert xinfo(redis.port, CTL)["entries-added"] == xlen(redis.port, CTL)
        subprocess.run([tally.TALLYD, "replicas", "forget", "--redis",
                        "redis://127.0.0.1:%d" % redis.port, "watch"],
                       check=True, capture_output=True, timeout=30)
        wait_until(lambda: xlen(redis.port, CTL) == 0, timeout=30,
                   what="the control stream trimmed behind every replica")
        c.stop(signal.SIGKILL)
        n_c = ctl_applied(c.db)[1]
        for i in range(3):
            a.admin("goals", "add", "--site", SITE, "--event", "Late%d" % i)
        with redis.client() as r:
            last = r.call("XREVRANGE", CTL, "+", "-", "COUNT", 1)[0][0].decode()
        for rep in (a, b):
            wait_until(lambda: ctl_applied(rep.db)[0] == last, timeout=30,
                       what="the late changes on " + rep.replica)
        with redis.client() as r:
            pos_c = r.call("HGET", "tally:replica:r3", CTL).decode()
        info = xinfo(redis.port, CTL)
        assert info["entries-added"] - info["length"] <= n_c
        assert info["length"] == 3
        with redis.client() as r:
            ids = [e[0].decode() for e in r.call("XRANGE", CTL, "-", "+")]
        assert idkey(ids[0]) > idkey(pos_c)

        # ---- a new, empty replica cannot join once entries were trimmed ----
        d = Replica(redis.port, "r4", os.path.join(work, "r4"))
        r = subprocess.run(d.argv(), capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r.stderr
        assert "stream tally:ctl was trimmed past this database" in r.stderr
        # ... its CLI refuses too, and adds nothing
        r = d.admin("goals", "add", "--site", SITE, "--event", "X", check=False)
        assert r.returncode == 1 and "trimmed past" in r.stderr, r.stderr
        assert xinfo(redis.port, CTL)["length"] == 3
        # C comes back and catches up; then everything is trimmed again
        c.start()
        wait_until(lambda: ctl_applied(c.db)[0] == last, timeout=30,
                   what="C catching up")
        wait_until(lambda: xlen(redis.port, CTL) == 0, timeout=30,
                   what="trimmed once C applied everything")
        # seeded from a backup, the new replica joins with the position
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(d.db + ext):
                os.unlink(d.db + ext)
        a.cli("backup", "--db", a.db, d.db)
        d.start()
        procs.append(d)
        d.admin("goals", "add", "--site", SITE, "--event", "FromD")
        with redis.client() as r:
            last = r.call("XREVRANGE", CTL, "+", "-", "COUNT", 1)[0][0].decode()
        for rep in reps + [d]:
            wait_until(lambda: ctl_applied(rep.db)[0] == last, timeout=30,
                       what="the change from D on " + rep.replica)
        want = admin_tables(a.db)
        for rep in (b, c, d):
            assert admin_tables(rep.db) == want, rep.replica
        assert bearer(d, key) == 401                  # revoked before the backup
        for rep in reps + [d]:
            assert "127.0.0.1" not in rep.read_log()
            assert rep.stop() == 0
    finally:
        for p in reversed(procs):
            try:
                p.stop(signal.SIGKILL)
            except Exception:
                pass
