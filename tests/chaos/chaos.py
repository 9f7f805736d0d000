"""Helpers of the chaos suite (tests/chaos/test_chaos.py): a load of
beacons with unique ids from a thread pool, a tiny tmpfs spool, spool
surgery (corrupting and truncating finished segments) and the final
exactly-once accounting against SQLite and the Stats API.

Every event carries a unique id twice: in its props ({"cid": "<id>"}) and
in its URL path (/c/<id>).  A request is a batch of 1..4 events (Tally's
own array format) or a single event object; a 202 acknowledges all of its
events (one record in the spool)."""

import collections
import datetime
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time

import spoolfmt
import tally

SITE = "chaos.example"

# realistic browsers; the version differs per thread, so there are several
# visitors (the visitor id hashes the User-Agent)
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/120.0.%d.0 Safari/537.36")

CORRUPT_RE = "corrupt record in segment %s at offset %d"


def chaos_seconds(default):
    return float(os.environ.get("CHAOS_SECONDS", default))


def chaos_seed():
    s = os.environ.get("CHAOS_SEED")
    return int(s) if s else random.SystemRandom().randrange(1 << 30)


def event(i):
    return {"n": "pageview", "u": f"https://{SITE}/c/{i}", "d": SITE,
            "r": "https://www.example.org/", "p": {"cid": str(i)}}


class Load:
    """Threads posting beacons with unique ids over keep-alive
    connections.  self.acked: ids answered 202; self.sent: every id ever
    put on the wire (an id not acknowledged may or may not be stored, but
    never twice)."""

    def __init__(self, port, threads=8, seed=0):
        self.port = port
        self.nthreads = threads
        self.rnd = random.Random(seed)
        self.lock = threading.Lock()
        self.acked = set()
        self.sent = set()
        self.statuses = collections.Counter()
        self.bad = []              # unexpected answers (status, body)
        self.errors = 0            # connection errors (killed workers)
        self.next_id = 0
        self.stop_ev = threading.Event()
        self.threads = []
        self.watched = []          # (name, object with .proc, log reader)

    def watch(self, name, obj, log):
        """While waiting, fail at once if obj.proc (when set) has exited
        on its own -- e.g. a sanitizer abort -- instead of timing out."""
        self.watched.append((name, obj, log))

    def _check_alive(self):
        for name, obj, log in self.watched:
            p = getattr(obj, "proc", None)
            if p is not None and p.poll() is not None and p.returncode != -9:
                raise AssertionError(f"{name} exited ({p.returncode}):\n"
                                     + log()[-3000:])

    def _ids(self, n):
        with self.lock:
            first = self.next_id + 1
            self.next_id += n
            ids = list(range(first, first + n))
            self.sent.update(ids)
        return ids

    def _run(self, k):
        rnd = random.Random(self.rnd.randrange(1 << 30) + k)
        conn = None
        ua = UA % k
        while not self.stop_ev.is_set():
            n = rnd.choice([1, 1, 2, 3, 4])
            ids = self._ids(n)
            if n == 1 and rnd.random() < 0.5:
                body = json.dumps(event(ids[0]))
            else:
                body = json.dumps([event(i) for i in ids])
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=10)
                conn.request("POST", "/api/event", body,
                             {"Content-Type": "text/plain", "User-Agent": ua})
                resp = conn.getresponse()
                data = resp.read()
                st = resp.status
                with self.lock:
                    self.statuses[st] += 1
                    if st == 202:
                        self.acked.update(ids)
                    elif st != 503 or resp.getheader("Retry-After") != "1":
                        self.bad.append((st, dict(resp.getheaders()), data))
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
                if st == 503:
                    # a tracker waits Retry-After; a short pause keeps the
                    # load from spinning (pacing only, nothing is timed)
                    self.stop_ev.wait(0.05)
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def start(self):
        for k in range(self.nthreads):
            t = threading.Thread(target=self._run, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def count_status(self, st):
        with self.lock:
            return self.statuses[st]

    def wait_more(self, n, timeout=30, what="acknowledged beacons"):
        """Waits until n more events than now are acknowledged."""
        base = self.count()
        tally.wait_until(lambda: self._check_alive()
                         or self.count() >= base + n, timeout=timeout,
                         what=f"{n} more {what} (have {base})")

    def wait_more_or_503(self, n, timeout=30):
        """Waits until n more events are acknowledged or the edge answers
        503 (the tiny disk fills up while tallyd is down)."""
        base, base503 = self.count(), self.count_status(503)
        tally.wait_until(lambda: self._check_alive()
                         or self.count() >= base + n
                         or self.count_status(503) > base503,
                         timeout=timeout,
                         what=f"{n} more acknowledged beacons or a 503")

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(30)
            assert not t.is_alive(), "a load thread is stuck"


# ---- the tiny disk -------------------------------------------------------

def mount_tmpfs(size):
    """A real tmpfs of `size` (e.g. "512k") on a fresh directory; returns
    the directory, or raises OSError with mount's message."""
    d = tally.make_tmpdir("tally-chaos-fs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                        "tmpfs", d], capture_output=True, text=True)
    if r.returncode != 0:
        tally.rmtree(d)
        raise OSError(r.stderr.strip() or "mount failed")
    return d


def umount(d):
    subprocess.run(["umount", "-l", d], capture_output=True)
    tally.rmtree(d)


# ---- spool surgery ---------------------------------------------------------

def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def finished_segments(spool):
    """Segments no writer will append to again: with a .done marker, or
    whose writer process is gone."""
    out = []
    for name in spoolfmt.list_segments(spool):
        _, pid = spoolfmt.parse_segment_name(name)
        if os.path.exists(os.path.join(spool, name + ".done")) \
                or not pid_alive(pid):
            out.append(name)
    return out


def records(path):
    """[(offset, length, [events])] of the whole records at the start of
    the segment file, and whether they fill the file exactly (no torn tail
    left by a killed writer)."""
    with open(path, "rb") as f:
        buf = f.read()
    out = []
    try:
        spoolfmt.decode_header(buf)
    except spoolfmt.SpoolError:
        return out, False
    pos = spoolfmt.SEG_HDR_SIZE
    while pos < len(buf):
        try:
            evs, nxt = spoolfmt.decode_record(buf, pos)
        except spoolfmt.SpoolError:
            return out, False
        out.append((pos, nxt - pos, evs))
        pos = nxt
    return out, True


def drained_offsets(db):
    """{segment: offset} tallyd has committed (tallyd must be stopped)."""
    if not os.path.exists(db):
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return dict(con.execute('SELECT segment, "offset" FROM spool_pos'))
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()


def event_ids(evs):
    return [int(json.loads(e["props"])["cid"]) for e in evs]


def undrained_records(spool, db):
    """{segment: ([(offset, length, events)] not yet drained, clean end)}
    over the finished segments (tallyd must be stopped)."""
    done = drained_offsets(db)
    out = {}
    for name in finished_segments(spool):
        recs, clean = records(os.path.join(spool, name))
        pos = done.get(name, 0)
        recs = [r for r in recs if r[0] >= pos]
        if recs:
            out[name] = (recs, clean)
    return out


def corrupt_and_truncate(spool, db, rnd):
    """Flips one payload byte of an undrained record of one finished
    segment, and cuts another finished segment inside its last record.
    Returns (lost ids, [(segment, offset, reason or None)]) or None when
    there are not two suitable finished segments yet."""
    cand = undrained_records(spool, db)
    trunc = [n for n, (recs, clean) in cand.items() if clean]
    if len(cand) < 2 or not trunc:
        return None
    tname = rnd.choice(sorted(trunc))
    cname = rnd.choice(sorted(n for n in cand if n != tname))
    lost, expect = set(), []

    off, length, evs = rnd.choice(cand[cname][0])
    k = rnd.randrange(spoolfmt.REC_HDR_SIZE, length)
    with open(os.path.join(spool, cname), "r+b") as f:
        f.seek(off + k)
        b = f.read(1)[0]
        f.seek(off + k)
        f.write(bytes([b ^ (1 << rnd.randrange(8))]))
    lost.update(event_ids(evs))
    expect.append((cname, off, None))

    off, length, evs = cand[tname][0][-1]
    os.truncate(os.path.join(spool, tname), off + rnd.randrange(1, length))
    lost.update(event_ids(evs))
    expect.append((tname, off, "torn tail"))
    return lost, expect


# ---- the database and the Stats API ------------------------------------------

def stored_ids(db):
    """collections.Counter of the event ids in the raw events table."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute(
            "SELECT p.s, u.s FROM events e JOIN sites s ON s.id = e.site_id"
            " JOIN strings p ON p.id = e.props_id"
            " JOIN strings u ON u.id = e.pathname_id"
            " WHERE s.domain = ?", (SITE,)).fetchall()
    finally:
        con.close()
    out = collections.Counter()
    for props, path in rows:
        i = int(json.loads(props)["cid"])
        assert path == f"/c/{i}", (props, path)
        out[i] += 1
    return out


def sql_totals(db):
    """(pageviews, sum of per-UTC-day unique visitors, first day, last
    day) computed over the raw events."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        sid = con.execute("SELECT id FROM sites WHERE domain = ?",
                          (SITE,)).fetchone()[0]
        pv = con.execute(
            "SELECT COUNT(*) FROM events e JOIN strings n ON n.id = e.name_id"
            " WHERE e.site_id = ? AND n.s = 'pageview'", (sid,)).fetchone()[0]
        days = con.execute(
            "SELECT ts / 86400000, COUNT(DISTINCT visitor_id) FROM events"
            " WHERE site_id = ? GROUP BY 1 ORDER BY 1", (sid,)).fetchall()
    finally:
        con.close()
    day = lambda d: datetime.date(1970, 1, 1) + datetime.timedelta(days=d)
    return (pv, sum(c for _, c in days), day(days[0][0]).isoformat(),
            day(days[-1][0]).isoformat())


def check_api_agrees(agg, db, expected_events):
    """The Stats API answers the same pageviews and visitors as SQL over
    the raw events, and that is the number of distinct stored events."""
    pv, visitors, d0, d1 = sql_totals(db)
    assert pv == expected_events, (pv, expected_events)
    st, resp = agg.query({"site_id": SITE,
                          "metrics": ["pageviews", "visitors"],
                          "date_range": [d0, d1]})
    assert st == 200, resp
    assert resp["results"][0]["metrics"] == [pv, visitors], resp


def check_exactly_once(load, lost, db):
    """Every acknowledged event not deliberately destroyed is stored
    exactly once; nothing is stored twice or invented."""
    ids = stored_ids(db)
    dup = sorted(i for i, c in ids.items() if c > 1)
    assert not dup, f"{len(dup)} events stored twice, e.g. {dup[:10]}"
    unknown = set(ids) - load.sent
    assert not unknown, f"events never sent: {sorted(unknown)[:10]}"
    missing = load.acked - set(ids) - lost
    assert not missing, (f"{len(missing)} acknowledged events lost, e.g. "
                         f"{sorted(missing)[:10]}")
    return ids


def check_reported(log, expect):
    """tallyd logged every deliberately damaged record with its segment
    and offset (and "torn tail" for a truncated one)."""
    for seg, off, why in expect:
        line = CORRUPT_RE % (seg, off)
        hits = [ln for ln in log.splitlines() if line in ln]
        assert hits, f"tallyd did not report {line!r}"
        if why:
            assert any(why in ln for ln in hits), (why, hits)


def unexpected_reports(log, expect):
    """Corrupt-record lines not caused by our surgery, other than torn
    tails (a worker SIGKILLed inside write() may leave one behind; those
    bytes were never acknowledged)."""
    known = [CORRUPT_RE % (seg, off) for seg, off, _ in expect]
    out = []
    for ln in log.splitlines():
        if "corrupt record in segment" in ln and "torn tail" not in ln \
                and not any(k in ln for k in known):
            out.append(ln)
    return out


def kill_worker(nginx, rnd):
    """SIGKILLs a random worker and waits for the master to replace it."""
    pids = nginx.worker_pids()
    victim = rnd.choice(pids)
    os.kill(victim, signal.SIGKILL)
    tally.wait_until(lambda: victim not in nginx.worker_pids()
                     and len(nginx.worker_pids()) == len(pids),
                     what="nginx worker respawned")
    return victim


def kill(proc):
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def spool_empty(spool):
    return not spoolfmt.list_segments(spool)


def diagnose(spool=None, nginx=None, agg=None, load=None, extra=()):
    """Prints what a failure needs to be understood (pytest shows it)."""
    if spool and os.path.isdir(spool):
        st = os.statvfs(spool)
        print(f"spool {spool}: {st.f_bavail * st.f_frsize} bytes free")
        for name in sorted(os.listdir(spool)):
            try:
                print(f"  {name} {os.path.getsize(os.path.join(spool, name))}")
            except OSError:
                pass
    if load is not None:
        print(f"load: acked {load.count()}, statuses {dict(load.statuses)}, "
              f"connection errors {load.errors}")
    if agg is not None:
        print("tallyd running:", agg.proc is not None and agg.proc.poll() is None)
        print("tallyd log tail:\n" + agg.read_log()[-4000:])
    if nginx is not None:
        print("nginx error log tail:\n" + nginx.read_error_log()[-4000:])
    for title, text in extra:
        print(f"{title}:\n{text[-3000:]}")


class Clock:
    """The chaos phase's deadline."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()
