"""Tests of `tallyd ship` against a real redis-server: spool segments written
with tests/spoolfmt.py (several writer pids, live and finished), shipped to
the stream tally:edge:<EDGE>, read back with tests/resp.py and compared
record by record with what was written: every record exactly once, in
order per segment, finished segments deleted only once Redis holds all of
their records.  The shipper is killed with SIGKILL at random points and
Redis is stopped and restarted under it."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import resp  # noqa: E402
import spoolfmt  # noqa: E402
import tally  # noqa: E402
from tally import wait_until  # noqa: E402

EDGE = "edge-1"
STREAM = "tally:edge:" + EDGE
DUP_ERR = "ERR The ID specified in XADD is equal or smaller"


# ---- a spool we know byte by byte --------------------------------------

class Spool:
    """Writes segments and remembers every valid record:
    self.records[name] = [(offset, record bytes, events)]."""

    def __init__(self, path, seed=1):
        self.path = path
        self.rnd = random.Random(seed)
        self.records = {}
        self.us = 1_700_000_000_000_000

    def event(self):
        r = self.rnd
        site = r.choice(["a.example", "b.example"])
        return {"time_ms": 1_700_000_000_000 + r.randrange(10**9),
                "visitor_id": r.randrange(1, 2**63),
                "site": site, "name": r.choice(["pageview", "signup"]),
                "url": "https://%s/p/%d" % (site, r.randrange(1000)),
                "referrer": r.choice([None, "https://ref.example/"]),
                "ua": "Mozilla/5.0 test"}

    def new_segment(self, pid, nrec):
        self.us += 1000
        name = spoolfmt.segment_name(self.us, pid)
        with open(os.path.join(self.path, name), "wb") as f:
            f.write(spoolfmt.encode_header(pid, self.us))
        self.records[name] = []
        self.append(name, nrec)
        return name

    def append(self, name, nrec):
        path = os.path.join(self.path, name)
        with open(path, "ab") as f:
            for _ in range(nrec):
                evs = [self.event() for _ in range(self.rnd.randrange(1, 4))]
                rec = spoolfmt.encode_record(evs)
                off = f.tell()
                f.write(rec)
                full = [dict({k: None for k in spoolfmt.FIELDS.values()}, **e)
                        for e in evs]
                self.records[name].append((off, rec, full))

    def garbage(self, name):
        """Appends a corrupt stretch (not a record: never expected)."""
        with open(os.path.join(self.path, name), "ab") as f:
            f.write(b"TLYR" + bytes(range(40)))

    def finish(self, name):
        open(os.path.join(self.path, name + ".done"), "wb").close()

    def exists(self, name):
        return os.path.exists(os.path.join(self.path, name))

    def total(self):
        return sum(len(v) for v in self.records.values())


# ---- processes ---------------------------------------------------------

@pytest.fixture
def redis_server():
    d = tally.make_tmpdir("tally-redis-")
    srv = resp.Server(d).start()
    yield srv
    srv.stop()
    tally.rmtree(d)


@pytest.fixture
def spool():
    d = tally.make_tmpdir("tally-spool-")
    yield Spool(d)
    tally.rmtree(d)


@pytest.fixture
def live_pid():
    """A second live writer pid (a sleeping child) besides our own."""
    p = subprocess.Popen(["sleep", "3600"])
    yield p.pid
    p.kill()
    p.wait()


class Shipper:
    def __init__(self, spool_dir, port, edge=EDGE, extra=()):
        self.args = [tally.TALLYD, "ship", "--spool", spool_dir,
                     "--redis", "redis://localhost:%d" % port,
                     "--edge", edge, "--poll-ms", "20", *extra]
        self.log = os.path.join(spool_dir, "..",
                                os.path.basename(spool_dir) + "-ship.log")
        self.proc = None

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        return self

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            code = self.proc.wait(timeout=30)
            self.logf.close()
        self.proc = None
        return code


@pytest.fixture
def shippers():
    started = []
    yield lambda *a, **k: started.append(Shipper(*a, **k)) or started[-1]
    for s in started:
        s.stop(signal.SIGKILL)
        if os.path.exists(s.log):
            os.unlink(s.log)


# ---- reading the stream back -------------------------------------------

def stream_entries(r, stream=STREAM):
    """[(id, {field: bytes})] of the whole stream, in ID order."""
    out, start = [], "-"
    while True:
        page = r.call("XRANGE", stream, start, "+", "COUNT", 1000)
        for eid, kv in page:
            out.append((eid.decode(), dict(zip(kv[0::2], kv[1::2]))))
        if len(page) < 1000:
            return out
        start = "(" + out[-1][0]


def xlen(port, stream=STREAM):
    with resp.Redis(port) as r:
        return r.call("XLEN", stream)


def id_key(eid):
    ms, seq = eid.split("-")
    return int(ms), int(seq)


def check_exactly_once(port, sp, must_have_all=True):
    """Every stream entry is a record of the spool, decoded equal to what
    was written, at most once; per segment in offset order; IDs increase.
    With must_have_all, every record written is there."""
    with resp.Redis(port) as r:
        entries = stream_entries(r)
    keys = [id_key(e) for e, _ in entries]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    got = {}
    for eid, f in entries:
        seg, off, rec = f[b"seg"].decode(), int(f[b"off"]), f[b"r"]
        events, nxt = spoolfmt.decode_record(rec)    # CRCs checked
        assert nxt == len(rec), "entry %s holds more than one record" % eid
        got.setdefault(seg, []).append((off, rec, events))
    for seg, recs in got.items():
        assert seg in sp.records, "unknown segment %s in the stream" % seg
        want = sp.records[seg]
        assert recs == want[:len(recs)], \
            "segment %s: stream holds %d records, not a prefix of the %d " \
            "written, in order, once each" % (seg, len(recs), len(want))
    if must_have_all:
        for seg, want in sp.records.items():
            assert len(got.get(seg, [])) == len(want), \
                "segment %s: %d of %d records in the stream" % (
                    seg, len(got.get(seg, [])), len(want))
    return got


def check_deleted_are_shipped(port, sp):
    """A segment that is gone from the spool has all its records in Redis."""
    got = check_exactly_once(port, sp, must_have_all=False)
    for seg, want in sp.records.items():
        if not sp.exists(seg):
            assert len(got.get(seg, [])) == len(want), \
                "segment %s deleted with %d of %d records in Redis" % (
                    seg, len(got.get(seg, [])), len(want))


# ---- tests -------------------------------------------------------------

def test_ships_every_record_once_and_deletes_finished(redis_server, spool,
                                                     live_pid, shippers):
    me = os.getpid()
    old_me = spool.new_segment(me, 30)          # finished: newer of same pid
    fin_b = spool.new_segment(live_pid, 25)
    spool.garbage(fin_b)                         # corrupt stretch: skipped
    spool.append(fin_b, 5)
    spool.finish(fin_b)                          # finished: .done marker
    live_me = spool.new_segment(me, 40)
    live_b = spool.new_segment(live_pid, 700)    # > one batch of 500
    sh = shippers(spool.path, redis_server.port,
                  extra=("--lag-log-s", "1")).start()

    wait_until(lambda: xlen(redis_server.port) == spool.total(), timeout=60,
               what="all records in the stream")
    check_exactly_once(redis_server.port, spool)
    wait_until(lambda: not spool.exists(old_me) and not spool.exists(fin_b)
               and not spool.exists(fin_b + ".done"),
               what="finished segments deleted")
    assert spool.exists(live_me) and spool.exists(live_b)
    with redis_server.client() as r:
        assert r.call("SMEMBERS", "tally:edges") == [EDGE.encode()]

    # live segments of two writers grow concurrently; one of them ends
    for _ in range(5):
        spool.append(live_b, 3)
        spool.append(live_me, 2)
    spool.finish(live_b)
    wait_until(lambda: xlen(redis_server.port) == spool.total(),
               what="appended records in the stream")
    check_exactly_once(redis_server.port, spool)
    wait_until(lambda: not spool.exists(live_b), what="live_b deleted")
    assert spool.exists(live_me)

    wait_until(lambda: "ship: lag " in sh.read_log(), what="a lag log line")
    log = sh.read_log()
    assert "corrupt record in segment %s" % fin_b in log
    assert "127.0.0.1" not in log and "localhost" not in log
    assert sh.stop() == 0
    assert "ship: lag 0 bytes in 0 segments" in sh.read_log().splitlines()[-1]


def test_kill9_at_random_points_keeps_exactly_once(redis_server, spool,
                                                   live_pid, shippers):
    rnd = random.Random(int(os.environ.get("SHIP_SEED", "7")))
    me = os.getpid()
    for pid in (me, live_pid, me, live_pid):
        name = spool.new_segment(pid, 1500)
        if rnd.random() < 0.5:
            spool.finish(name)
    live = [spool.new_segment(me, 10), spool.new_segment(live_pid, 10)]
    port = redis_server.port
    kills = 0
    while kills < 12:
        sh = shippers(spool.path, port, extra=("--batch", "50")).start()
        have = xlen(port)
        if have >= spool.total():
            break
        target = have + rnd.randrange(0, 1 + min(400, spool.total() - have))
        wait_until(lambda: xlen(port) >= target or sh.proc.poll() is not None,
                   interval=0.001, timeout=60, what="progress")
        assert sh.proc.poll() is None, sh.read_log()
        time.sleep(rnd.random() * 0.005)          # jitter within a batch
        sh.stop(signal.SIGKILL)
        kills += 1
        check_deleted_are_shipped(port, spool)
        # writers go on appending between runs
        spool.append(rnd.choice(live), rnd.randrange(1, 30))
    assert kills >= 5, "the spool was shipped before enough kills"
    sh = shippers(spool.path, port, extra=("--batch", "50")).start()
    wait_until(lambda: xlen(port) == spool.total(), timeout=120,
               what="everything shipped after the kills")
    check_exactly_once(port, spool)
    wait_until(lambda: all(not spool.exists(n) for n in spool.records
                           if n not in live),
               what="finished segments deleted")
    assert all(spool.exists(n) for n in live)
    assert sh.stop() == 0


def test_resent_batch_is_refused_not_duplicated(redis_server, spool,
                                                shippers):
    """A crash after the XADDs reached Redis but before the shipper noted
    it: the pending batch is sent again with the same IDs and Redis
    refuses every one of them."""
    seg = spool.new_segment(os.getpid(), 120)
    port = redis_server.port
    sh = shippers(spool.path, port).start()
    wait_until(lambda: xlen(port) == 120, what="first batch")
    assert sh.stop() == 0
    with redis_server.client() as r:
        ids = [e for e, _ in stream_entries(r)]
    ms, seq = id_key(ids[0])
    assert [id_key(i) for i in ids] == [(ms, seq + k) for k in range(120)]
    end = spool.records[seg][-1][0] + len(spool.records[seg][-1][1])
    # the state as it was on disk between "plan written" and "acknowledged"
    with open(os.path.join(spool.path, "tally-ship.state"), "w") as f:
        f.write("tally-ship 1\nedge %s\nlast 0 0\nplan %d %d\n"
                "range %s 32 120 %d 0\nend\n" % (EDGE, ms, seq, seg, end))
    sh = shippers(spool.path, port).start()
    wait_until(lambda: "120 records of a re-sent batch were already" in
               sh.read_log(), what="the refusals")
    spool.append(seg, 7)
    wait_until(lambda: xlen(port) == 127, what="new records after the replay")
    check_exactly_once(port, spool)
    with redis_server.client() as r:
        assert id_key(stream_entries(r)[120][0]) > (ms, seq + 119)
    assert sh.stop() == 0


def test_pending_batch_with_a_vanished_segment_keeps_its_ids(redis_server,
                                                             spool, shippers):
    """A pending batch names a segment someone deleted: the other records
    of the batch still get exactly the IDs planned for them."""
    seg = spool.new_segment(os.getpid(), 10)
    gone = spoolfmt.segment_name(1, os.getpid())
    end = spool.records[seg][-1][0] + len(spool.records[seg][-1][1])
    with open(os.path.join(spool.path, "tally-ship.state"), "w") as f:
        f.write("tally-ship 1\nedge %s\nlast 0 0\nplan 1000 0\n"
                "range %s 32 5 500 1\nrange %s 32 10 %d 0\nend\n"
                % (EDGE, gone, seg, end))
    port = redis_server.port
    sh = shippers(spool.path, port).start()
    wait_until(lambda: xlen(port) == 10, what="the batch")
    spool.append(seg, 2)
    wait_until(lambda: xlen(port) == 12, what="later records")
    check_exactly_once(port, spool)
    with redis_server.client() as r:
        ids = [id_key(e) for e, _ in stream_entries(r)]
    assert ids[:10] == [(1000, k) for k in range(5, 15)]
    assert ids[10] > (1000, 14)
    assert "holds 0 of the 5 records" in sh.read_log()
    assert sh.stop() == 0


def test_lost_state_file_is_rebuilt_from_the_stream(redis_server, spool,
                                                   live_pid, shippers):
    port = redis_server.port
    a = spool.new_segment(os.getpid(), 40)
    b = spool.new_segment(live_pid, 30)
    sh = shippers(spool.path, port).start()
    wait_until(lambda: xlen(port) == 70, what="first records")
    assert sh.stop() == 0
    os.unlink(os.path.join(spool.path, "tally-ship.state"))
    spool.append(a, 5)
    sh = shippers(spool.path, port).start()
    spool.append(b, 4)
    wait_until(lambda: xlen(port) == spool.total(), what="the new records")
    check_exactly_once(port, spool)
    assert "rebuilt from" in sh.read_log()
    assert sh.stop() == 0


def test_another_writer_on_the_stream_stops_the_shipper(redis_server, spool,
                                                        shippers):
    seg = spool.new_segment(os.getpid(), 5)
    spool.finish(seg)
    port = redis_server.port
    sh = shippers(spool.path, port).start()
    wait_until(lambda: xlen(port) == 5, what="first records")
    with redis_server.client() as r:
        r.call("XADD", STREAM, "99999999999999-0", "r", b"x")
    seg2 = spool.new_segment(os.getpid(), 3)
    spool.finish(seg2)
    assert sh.proc.wait(timeout=30) == 1
    assert "another shipper writes to this stream" in sh.read_log()
    assert spool.exists(seg2)          # its records are not in Redis: kept


def test_redis_down_then_back(redis_server, spool, live_pid, shippers):
    port = redis_server.port
    seg = spool.new_segment(live_pid, 50)
    sh = shippers(spool.path, port).start()
    wait_until(lambda: xlen(port) == 50, what="first records")
    redis_server.stop()
    spool.append(seg, 20)
    spool.finish(seg)
    other = spool.new_segment(os.getpid(), 30)
    wait_until(lambda: sh.read_log().count("redis unreachable") >= 3,
               timeout=30, what="reconnect attempts")
    assert sh.proc.poll() is None, "the shipper gave up: " + sh.read_log()
    assert spool.exists(seg), "deleted a segment Redis does not hold"
    redis_server.start()
    wait_until(lambda: xlen(port) == spool.total(), timeout=30,
               what="everything shipped after Redis came back")
    check_exactly_once(port, spool)
    wait_until(lambda: not spool.exists(seg), what="finished segment deleted")
    assert spool.exists(other)
    assert "redis is back" in sh.read_log()
    assert "127.0.0.1" not in sh.read_log()
    assert sh.stop() == 0


def test_usage_errors(spool):
    r = subprocess.run([tally.TALLYD, "ship", "--spool", spool.path],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--edge" in r.stderr
    for bad in (["--edge", "a{b}"], ["--redis", "http://x"],
                ["--batch", "0"]):
        args = {"--spool": spool.path, "--redis": "redis://localhost:1",
                "--edge": "e"}
        args[bad[0]] = bad[1]
        r = subprocess.run([tally.TALLYD, "ship",
                            *[x for kv in args.items() for x in kv]],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode in (1, 2), (bad, r.returncode, r.stderr)
