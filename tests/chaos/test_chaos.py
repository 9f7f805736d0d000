"""Chaos: the real NGINX + module, the real tallyd, the real SQLite (and a
real redis-server for the multi-edge path) under a steady load of beacons
with unique ids, while the test SIGKILLs NGINX workers, tallyd, the Redis
shipper and Redis itself at random, reloads NGINX, fills the spool's disk
(a 512 KiB tmpfs) until the module answers 503, flips a byte inside a
record of a finished segment and truncates another finished segment in
the middle of a record.

Afterwards every acknowledged (202) event is in the raw events table
exactly once -- only the events of the records damaged on purpose may be
missing, and tallyd must have logged each of those records with its
segment and offset -- no event is stored twice, and the Stats API answers
the same pageviews and visitors as SQL over the raw events.

CHAOS_SECONDS (default 20) is the length of the chaos phases of both
tests together (`make chaos` sets it higher); CHAOS_SEED replays a run
(the seed is printed and shown in every failure)."""

import os
import random
import shutil
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import chaos  # noqa: E402
import resp  # noqa: E402
import tally  # noqa: E402
from tally import wait_until  # noqa: E402

SECONDS = chaos.chaos_seconds("20")
SEGMENTS = "tally_segment_size 32k; tally_segment_age 300ms;"


@pytest.fixture
def seed():
    s = chaos.chaos_seed()
    print(f"CHAOS_SEED={s}")
    return s


@pytest.fixture
def tinyfs():
    try:
        d = chaos.mount_tmpfs("512k")
    except OSError as e:
        pytest.skip(f"cannot mount a tmpfs for the full-disk part (needs "
                    f"root): {e}")
    yield d
    chaos.umount(d)


@pytest.fixture
def cleanup():
    """Things to stop/remove at the end, whatever happens."""
    todo = []
    yield todo
    for f in reversed(todo):
        try:
            f()
        except Exception:   # noqa: BLE001 -- best effort teardown
            pass


def replay(seed):
    return f" (replay with CHAOS_SEED={seed})"


# ---- NGINX -> spool -> tallyd ------------------------------------------------

def test_chaos_edge_spool_tallyd(tinyfs, seed, cleanup):
    rnd = random.Random(seed)
    policy = rnd.choice(["off", "100ms", "always"])
    print(f"tally_sync {policy}")
    spool = os.path.join(tinyfs, "spool")
    os.mkdir(spool)
    n = tally.Nginx(workers=2, spool=spool,
                    http_extra=f"tally_sync {policy}; {SEGMENTS}")
    cleanup.append(lambda: tally.rmtree(n.prefix))
    cleanup.append(n.stop)
    n.start()
    agg = tally.Tallyd(spool, extra_args=["--poll-ms", "50"])
    cleanup.append(lambda: tally.rmtree(agg.dir))
    cleanup.append(lambda: agg.stop(signal.SIGKILL))
    agg.start()
    load = chaos.Load(n.port, threads=8, seed=seed)
    load.watch("tallyd", agg, agg.read_log)
    load.start()
    cleanup.append(load.stop)

    lost, expect, history = set(), [], []
    try:
        load.wait_more(200, what="acknowledged beacons before the chaos")
        clock = chaos.Clock(SECONDS * 0.6)
        plan = ["kill_worker", "kill_tallyd", "reload"]
        rnd.shuffle(plan)
        plan.insert(rnd.randrange(len(plan) + 1), "outage")
        while plan or clock.left() > 0 or not expect:
            act = plan.pop(0) if plan else rnd.choice(
                ["kill_worker", "kill_worker", "kill_tallyd", "kill_tallyd",
                 "reload", "outage"])
            if not expect and not plan and clock.left() <= 0:
                act = "outage"          # the surgery has not worked yet
                assert len(history) < 60, "no finished segment to damage"
            history.append(act)
            if act == "kill_worker":
                chaos.kill_worker(n, rnd)
                load.wait_more(rnd.randrange(1, 300))
            elif act == "kill_tallyd":
                agg.stop(signal.SIGKILL)
                load.wait_more_or_503(rnd.randrange(1, 300))
                agg.start()
            elif act == "reload":
                old = set(n.worker_pids())
                n.proc.send_signal(signal.SIGHUP)
                wait_until(lambda: n.worker_pids()
                           and set(n.worker_pids()).isdisjoint(old),
                           timeout=30, what="old workers gone after HUP")
                load.wait_more(rnd.randrange(1, 300))
            else:   # tallyd down: the tiny disk fills up, 503s
                agg.stop(signal.SIGKILL)
                base = load.count_status(503)
                wait_until(lambda: load.count_status(503) > base + 20,
                           timeout=60, what="503s once the disk is full")
                for _ in range(len(n.worker_pids())):
                    chaos.kill_worker(n, rnd)   # every segment finished
                r = chaos.corrupt_and_truncate(spool, agg.db, rnd)
                if r:
                    lost |= r[0]
                    expect += r[1]
                agg.start()
                # the module recovers once tallyd has drained the disk
                load.wait_more(200, timeout=60,
                               what="acknowledged beacons after the outage")
        print("actions:", " ".join(history))
        load.stop()
        assert not load.bad, f"unexpected answers: {load.bad[:5]}"
        assert load.count_status(503) > 0

        # drain everything: the workers finish their segments, tallyd
        # consumes and deletes every one of them
        n.stop()
        wait_until(lambda: chaos.spool_empty(spool), timeout=120,
                   what="tallyd to drain and delete every segment")
        ids = chaos.check_exactly_once(load, lost, agg.db)
        # the damaged records' events are really gone (so the check above
        # would see a lost event), and the rest of their segments is not
        assert lost and not lost & set(ids)
        log = agg.read_log()
        chaos.check_reported(log, expect)
        assert not chaos.unexpected_reports(log, expect)
        chaos.check_api_agrees(agg, agg.db, len(ids))
        assert len(ids) >= len(load.acked) - len(lost) > 0
        assert agg.stop() == 0, agg.read_log()[-3000:]
        assert "127.0.0.1" not in agg.read_log()
        print(f"acked {len(load.acked)}, stored {len(ids)}, destroyed on "
              f"purpose {len(lost)}, 503s {load.count_status(503)}, "
              f"connection errors {load.errors}")
    except AssertionError as e:
        chaos.diagnose(spool, n, agg, load)
        raise AssertionError(f"{e}{replay(seed)}; actions: "
                             f"{' '.join(history)}") from e


# ---- NGINX -> spool -> tallyd ship -> Redis -> tallyd serve --source ----------

def tallyd_has_source():
    r = subprocess.run([tally.TALLYD, "--help"], capture_output=True,
                       text=True)
    return "--source" in r.stdout + r.stderr


class SourceTallyd(tally.Tallyd):
    """tallyd serve --source redis://... (no spool of its own)."""

    def __init__(self, redis_port):
        super().__init__(spool=None, extra_args=[])
        self.redis_port = redis_port

    def start(self):
        if self.key is None:
            self.key = self.add_key()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [tally.TALLYD, "serve", "--db", self.db,
             "--source", f"redis://localhost:{self.redis_port}",
             "--replica", "chaos", "--poll-ms", "50",
             "--listen", f"127.0.0.1:{self.port}"],
            stdout=self.logf, stderr=subprocess.STDOUT)
        wait_until(lambda: self.health() or self.proc.poll() is not None,
                   what="tallyd /health")
        if self.proc.poll() is not None:
            raise AssertionError("tallyd exited: " + self.read_log())
        return self


class Shipper:
    def __init__(self, spool, redis_port, log):
        self.args = [tally.TALLYD, "ship", "--spool", spool,
                     "--redis", f"redis://localhost:{redis_port}",
                     "--edge", "chaos", "--poll-ms", "20"]
        self.log = log
        self.proc = None

    def start(self):
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen(self.args, stdout=f,
                                         stderr=subprocess.STDOUT)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def stream_end(port, stream="tally:edge:chaos"):
    """The stream's last generated entry ID."""
    with resp.Redis(port) as r:
        info = r.call("XINFO", "STREAM", stream)
    d = dict(zip(info[::2], info[1::2]))
    return d[b"last-generated-id"].decode()


def applied_id(db, stream="tally:edge:chaos"):
    import sqlite3
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT last_id FROM source_pos WHERE stream = ?",
                              (stream,)).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


@pytest.mark.skipif(shutil.which("redis-server") is None,
                    reason="redis-server is not installed")
def test_chaos_redis_shipping(seed, cleanup):
    if not tallyd_has_source():
        pytest.skip("tallyd has no Redis consumer (serve --source) yet")
    rnd = random.Random(seed + 1)
    policy = rnd.choice(["off", "100ms", "always"])
    print(f"tally_sync {policy}")
    rdir = tally.make_tmpdir("tally-chaos-redis-")
    cleanup.append(lambda: tally.rmtree(rdir))
    srv = resp.Server(rdir)
    cleanup.append(lambda: chaos.kill(srv.proc))
    srv.start()
    n = tally.Nginx(workers=2, http_extra=f"tally_sync {policy}; {SEGMENTS}")
    cleanup.append(lambda: tally.rmtree(n.prefix))
    cleanup.append(n.stop)
    n.start()
    ship = Shipper(n.spool, srv.port, os.path.join(rdir, "ship.log"))
    cleanup.append(lambda: ship.stop(signal.SIGKILL))
    ship.start()
    agg = SourceTallyd(srv.port)
    cleanup.append(lambda: tally.rmtree(agg.dir))
    cleanup.append(lambda: agg.stop(signal.SIGKILL))
    agg.start()
    load = chaos.Load(n.port, threads=8, seed=seed + 1)
    load.watch("tallyd", agg, agg.read_log)
    load.watch("tallyd ship", ship, ship.read_log)
    load.start()
    cleanup.append(load.stop)

    history = []
    try:
        load.wait_more(200, what="acknowledged beacons before the chaos")
        clock = chaos.Clock(SECONDS * 0.4)
        plan = ["kill_redis", "kill_ship", "kill_tallyd", "kill_worker"]
        rnd.shuffle(plan)
        while plan or clock.left() > 0:
            act = plan.pop(0) if plan else rnd.choice(
                ["kill_redis", "kill_ship", "kill_tallyd", "kill_worker"])
            history.append(act)
            if act == "kill_redis":
                chaos.kill(srv.proc)        # SIGKILL; AOF fsynced always
                load.wait_more(rnd.randrange(1, 200))
                srv.start()
            elif act == "kill_ship":
                ship.stop(signal.SIGKILL)
                load.wait_more(rnd.randrange(1, 200))
                ship.start()
            elif act == "kill_tallyd":
                agg.stop(signal.SIGKILL)
                load.wait_more(rnd.randrange(1, 200))
                agg.start()
            else:
                chaos.kill_worker(n, rnd)
            load.wait_more(rnd.randrange(1, 300))
        print("actions:", " ".join(history))
        load.stop()
        assert not load.bad, f"unexpected answers: {load.bad[:5]}"

        n.stop()
        wait_until(lambda: chaos.spool_empty(n.spool), timeout=120,
                   what="the shipper to ship and delete every segment")
        end = stream_end(srv.port)
        wait_until(lambda: applied_id(agg.db) == end, timeout=120,
                   what=f"tallyd to apply the stream up to {end}")
        ids = chaos.check_exactly_once(load, set(), agg.db)
        chaos.check_api_agrees(agg, agg.db, len(ids))
        assert "corrupt entry" not in agg.read_log()
        assert agg.stop() == 0, agg.read_log()[-3000:]
        assert ship.stop() == 0, ship.read_log()[-3000:]
        for text in (agg.read_log(), ship.read_log()):
            assert "127.0.0.1" not in text
        print(f"acked {len(load.acked)}, stored {len(ids)}, "
              f"connection errors {load.errors}")
    except AssertionError as e:
        chaos.diagnose(n.spool, n, agg, load,
                       extra=[("ship log", ship.read_log()),
                              ("redis log", srv.log())])
        raise AssertionError(f"{e}{replay(seed)}; actions: "
                             f"{' '.join(history)}") from e
