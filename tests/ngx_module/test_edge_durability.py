"""Durability and backpressure of the module against the real
/usr/sbin/nginx, for every sync policy (tally_sync off | <interval> |
always): group commit, segment rotation by age, 503 + Retry-After when the
spool is over tally_spool_max_size or the disk is full (a real, tiny tmpfs
mounted as the spool), and no acknowledged event lost or doubled across a
graceful reload (HUP) or the SIGKILL of a worker under load."""

import http.client
import json
import os
import signal
import subprocess
import threading

import pytest

import spoolfmt
import tally

UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/120.0 Safari/537.36")
POLICIES = ["off", "200ms", "always"]
STATUS_LOC = "location = /status { tally_status; }"


def beacon(i):
    return {"n": "pageview", "u": f"https://example.com/p/{i}",
            "d": "example.com", "p": {"id": str(i)}}


def stored_ids(spool, torn_ok=False):
    """{id: times stored} over every record of the spool (strict decoder:
    a torn or corrupt record fails the test; with torn_ok, a batch torn
    by a killed worker ends its segment -- none of it may have been
    acknowledged, which the callers' counts check)."""
    out = {}
    for ev in spoolfmt.decode_spool(spool, torn_ok):
        i = int(json.loads(ev["props"])["id"])
        out[i] = out.get(i, 0) + 1
    return out


def status(n):
    st, _, body = tally.request(n.port, "GET", "/status")
    assert st == 200
    return json.loads(body)


@pytest.fixture
def nginx_factory():
    made = []

    def make(**kw):
        n = tally.Nginx(**kw)
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()
        tally.rmtree(n.prefix)


class Load:
    """Threads posting beacons with unique ids over keep-alive connections,
    recording which ids were answered 202 (acknowledged)."""

    def __init__(self, port, threads=8):
        self.port = port
        self.nthreads = threads
        self.acked = set()
        self.statuses = {}
        self.errors = 0
        self.sent = 0
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.next_id = 0
        self.threads = []

    def _id(self):
        with self.lock:
            self.next_id += 1
            return self.next_id

    def _run(self):
        conn = None
        while not self.stop_ev.is_set():
            i = self._id()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=10)
                conn.request("POST", "/api/event", json.dumps(beacon(i)),
                             {"Content-Type": "text/plain",
                              "User-Agent": UA})
                resp = conn.getresponse()
                resp.read()
                with self.lock:
                    self.sent += 1
                    self.statuses[resp.status] = \
                        self.statuses.get(resp.status, 0) + 1
                    if resp.status == 202:
                        self.acked.add(i)
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def start(self):
        for _ in range(self.nthreads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(30)


# ---- sync policies -----------------------------------------------------------

@pytest.mark.parametrize("policy", POLICIES)
def test_policy_stores_concurrent_beacons_once(nginx_factory, policy):
    n = nginx_factory(http_extra=f"tally_sync {policy};",
                      server_extra=STATUS_LOC)
    n.start()
    load = Load(n.port, threads=16).start()
    tally.wait_until(lambda: load.count() >= 400, timeout=30,
                     what="400 acknowledged beacons")
    load.stop()
    assert load.errors == 0
    assert set(load.statuses) == {202}
    ids = stored_ids(n.spool)
    assert set(ids) == load.acked
    assert set(ids.values()) == {1}
    s = status(n)
    assert s["accepted_requests"] == len(load.acked)
    if policy == "off":
        assert s["syncs"] == 0
    elif policy == "always":
        # group commit: one fdatasync covers every request of its batch
        assert 0 < s["syncs"] <= len(load.acked)
    else:
        tally.wait_until(lambda: status(n)["syncs"] > 0,
                         what="a periodic fdatasync")
    assert "[alert]" not in n.read_error_log()


@pytest.mark.parametrize("policy", ["off", "always"])
def test_segment_rotates_by_age(nginx_factory, policy):
    n = nginx_factory(workers=1, http_extra=f"tally_sync {policy}; "
                                            "tally_segment_age 1s;")
    n.start()
    assert n.post(beacon(1))[0] == 202
    (seg,) = spoolfmt.list_segments(n.spool)
    tally.wait_until(lambda: os.path.exists(
        os.path.join(n.spool, seg + ".done")), what="segment finished by age")
    assert n.post(beacon(2))[0] == 202
    segs = spoolfmt.list_segments(n.spool)
    assert len(segs) == 2 and segs[0] == seg
    assert stored_ids(n.spool) == {1: 1, 2: 1}


def test_always_rotates_by_size(nginx_factory):
    n = nginx_factory(workers=1, http_extra="tally_sync always; "
                                            "tally_segment_size 4k;")
    n.start()
    for i in range(40):
        assert n.post(beacon(i))[0] == 202
    segs = spoolfmt.list_segments(n.spool)
    assert len(segs) >= 2
    for seg in segs[:-1]:
        assert os.path.getsize(os.path.join(n.spool, seg)) >= 4096
        assert os.path.exists(os.path.join(n.spool, seg + ".done"))
    assert stored_ids(n.spool) == {i: 1 for i in range(40)}


# ---- backpressure ------------------------------------------------------------

@pytest.mark.parametrize("policy", POLICIES)
def test_spool_max_size_answers_503(nginx_factory, policy):
    n = nginx_factory(workers=1, server_extra=STATUS_LOC,
                      http_extra=f"tally_sync {policy}; "
                                 "tally_spool_max_size 4k;")
    n.start()
    acked = []
    for i in range(200):
        st, hdrs, body = n.post(beacon(i))
        if st == 503:
            break
        assert st == 202
        acked.append(i)
    assert st == 503, "never answered 503"
    assert hdrs["retry-after"] == "1"
    assert json.loads(body) == {"error": "spool full, retry later"}
    assert hdrs.get("connection") == "keep-alive"
    assert 0 < len(acked) < 200
    assert stored_ids(n.spool) == {i: 1 for i in acked}
    s = status(n)
    assert s["unavailable"] == 1 and s["spool_bytes"] >= 4096
    # the aggregator drains the spool: accepted again within a scan
    for seg in spoolfmt.list_segments(n.spool):
        os.unlink(os.path.join(n.spool, seg))
    tally.wait_until(lambda: n.post(beacon(1000))[0] == 202,
                     what="202 once the spool is drained")


@pytest.fixture
def tiny_fs():
    """A real 256 KiB tmpfs: the spool on a disk that fills up."""
    d = tally.make_tmpdir("tally-tinyfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755",
                        "tmpfs", d], capture_output=True, text=True)
    if r.returncode != 0:
        tally.rmtree(d)
        pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", d])
    tally.rmtree(d)


@pytest.mark.parametrize("policy", POLICIES)
def test_full_disk_answers_503_and_recovers(nginx_factory, tiny_fs, policy):
    spool = os.path.join(tiny_fs, "spool")
    os.mkdir(spool)
    n = nginx_factory(workers=1, spool=spool, server_extra=STATUS_LOC,
                      http_extra=f"tally_sync {policy};")
    n.start()
    # leave a few KiB free
    filler = os.path.join(tiny_fs, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, os.path.getsize(filler) - 8192)
    acked = []
    big = "x" * 1500
    for i in range(100):
        b = beacon(i)
        b["p"]["pad"] = big
        st, hdrs, body = n.post(b)
        if st == 503:
            break
        assert st == 202
        acked.append(i)
    assert st == 503, "a full disk never answered 503"
    assert hdrs["retry-after"] == "1"
    assert "retry" in json.loads(body)["error"]
    assert stored_ids(n.spool) == {i: 1 for i in acked}   # whole records
    s = status(n)
    assert s["unavailable"] >= 1 and s["write_errors"] >= 1
    os.unlink(filler)
    st, _, _ = n.post(beacon(500))
    assert st == 202
    assert stored_ids(n.spool) == {i: 1 for i in acked + [500]}


# ---- reloads and crashes under load ------------------------------------------

@pytest.mark.parametrize("policy", POLICIES)
def test_reload_under_load_loses_nothing(nginx_factory, policy):
    n = nginx_factory(workers=2, http_extra=f"tally_sync {policy};")
    n.start()
    load = Load(n.port, threads=8).start()
    tally.wait_until(lambda: load.count() >= 200, timeout=30,
                     what="load running")
    old = set(n.worker_pids())
    n.proc.send_signal(signal.SIGHUP)
    tally.wait_until(lambda: set(n.worker_pids()).isdisjoint(old)
                     and n.worker_pids(), timeout=30,
                     what="old workers gone after HUP")
    base = load.count()
    tally.wait_until(lambda: load.count() >= base + 200, timeout=30,
                     what="load on the new workers")
    load.stop()
    ids = stored_ids(n.spool)
    missing = load.acked - set(ids)
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert set(ids.values()) == {1}
    log = n.read_error_log()
    assert "left in connection" not in log
    assert "[alert]" not in log and "[emerg]" not in log


@pytest.mark.parametrize("policy", POLICIES)
def test_worker_sigkill_under_load_loses_nothing(nginx_factory, policy):
    n = nginx_factory(workers=2, http_extra=f"tally_sync {policy};")
    n.start()
    load = Load(n.port, threads=8).start()
    tally.wait_until(lambda: load.count() >= 200, timeout=30,
                     what="load running")
    victim = n.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    tally.wait_until(lambda: victim not in n.worker_pids()
                     and len(n.worker_pids()) == 2, what="worker respawned")
    base = load.count()
    tally.wait_until(lambda: load.count() >= base + 200, timeout=30,
                     what="load after the kill")
    load.stop()
    ids = stored_ids(n.spool, torn_ok=True)
    missing = load.acked - set(ids)
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert set(ids.values()) == {1}
