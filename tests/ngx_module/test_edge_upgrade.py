"""On-the-fly NGINX binary upgrade (USR2, WINCH, QUIT) under load: no
acknowledged event is lost or doubled, no [alert]/[emerg] is logged, and
the new master's workers take over the traffic.

NGINX ignores SIGUSR2 unless the master's parent has changed since it
started ("the changing binary signal is ignored: you should shutdown or
terminate before either old or new binary's process"): a master run with
`daemon off;` under pytest keeps pytest as its parent, so this test runs
the first master with `daemon on;` and tracks the masters through the pid
files (<prefix>/nginx.pid and nginx.pid.oldbin).  The new master inherits
the listening sockets and does not daemonize: it is a child of the old one
until that exits."""

import json
import os
import signal
import subprocess

import pytest

import spoolfmt
import tally
from test_edge_durability import Load, stored_ids

T = 20  # deadline (s) of each wait


def alive(pid):
    """pid exists and is not a zombie (an orphaned master is reparented to
    pid 1, which may not reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def workers(master):
    """Pids of the worker processes of master (its other child during an
    upgrade is the new master)."""
    out = subprocess.run(["pgrep", "-P", str(master), "-f", "worker process"],
                         capture_output=True, text=True).stdout
    return {int(x) for x in out.split() if alive(int(x))}


def segment_pids(spool):
    return {spoolfmt.parse_segment_name(s)[1]
            for s in spoolfmt.list_segments(spool)}


class UpgradableNginx(tally.Nginx):
    """tally.Nginx run with `daemon on;` so that SIGUSR2 is honoured."""

    def __init__(self, **kw):
        super().__init__(**kw)
        with open(self.conf) as f:
            conf = f.read()
        assert "daemon off;" in conf
        with open(self.conf, "w") as f:
            f.write(conf.replace("daemon off;", "daemon on;"))
        self.pidfile = os.path.join(self.prefix, "nginx.pid")
        self.oldbin = self.pidfile + ".oldbin"
        self.seen = set()           # every master pid, for the cleanup

    def start(self):
        r = subprocess.run([tally.NGINX, "-p", self.prefix, "-c", self.conf],
                           capture_output=True, text=True, timeout=T)
        assert r.returncode == 0, r.stdout + r.stderr + self.read_error_log()
        master = tally.wait_until(lambda: read_pid(self.pidfile), timeout=T,
                                  what="nginx.pid")
        self.seen.add(master)
        tally.wait_until(lambda: tally.port_open(self.port), timeout=T,
                         what="nginx to listen")
        return master

    def masters(self):
        return {p for p in (read_pid(self.pidfile), read_pid(self.oldbin))
                if p}

    def stop(self):
        """Graceful stop of every master still running, SIGKILL after the
        deadline (cleanup after a failed test)."""
        pids = {p for p in self.seen | self.masters() if alive(p)}
        for p in pids:
            os.kill(p, signal.SIGQUIT)
        try:
            tally.wait_until(lambda: not any(alive(p) for p in pids),
                             timeout=10, what="masters to exit")
        except AssertionError:
            for p in pids:
                for w in workers(p) | {p}:
                    try:
                        os.kill(w, signal.SIGKILL)
                    except ProcessLookupError:
                        pass


@pytest.fixture
def upgradable():
    made = []

    def make(**kw):
        n = UpgradableNginx(**kw)
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()
        tally.rmtree(n.prefix)


@pytest.mark.parametrize("policy", ["off", "always"])
def test_binary_upgrade_under_load_loses_nothing(upgradable, policy):
    # `always` runs its writes on the module's "default" thread pool (the
    # module declares it itself, as in test_edge_durability)
    n = upgradable(workers=2, http_extra=f"tally_sync {policy};")
    old = n.start()
    # with `off` a worker opens its segment in init_process; with `always`
    # only on its first write (on the thread pool)
    eager = policy == "off"
    if eager:
        n.wait_segments()
    old_workers = tally.wait_until(lambda: len(workers(old)) == 2
                                   and workers(old), timeout=T,
                                   what="old workers")
    load = Load(n.port, threads=8).start()
    try:
        tally.wait_until(lambda: load.count() >= 500, timeout=T,
                         what="load running")

        # 1. USR2: a new master from the same binary, with its own workers
        os.kill(old, signal.SIGUSR2)

        def new_master_up():
            new = read_pid(n.pidfile)
            if (read_pid(n.oldbin) != old or new in (None, old)
                    or not alive(new)):
                return None
            ws = workers(new)
            # with `off`, init_process done: each has opened its segment
            if len(ws) == 2 and (not eager or ws <= segment_pids(n.spool)):
                return new, ws
            return None

        new, new_workers = tally.wait_until(new_master_up, timeout=T,
                                            what="new master and workers")
        n.seen.add(new)
        assert alive(old) and workers(old) == old_workers

        # 2. WINCH: the old workers finish gracefully; the old master stays
        os.kill(old, signal.SIGWINCH)
        tally.wait_until(lambda: not workers(old) and not any(
            alive(w) for w in old_workers), timeout=T,
            what="old workers gone after WINCH")
        assert alive(old)
        base = load.count()
        tally.wait_until(lambda: load.count() >= base + 500, timeout=T,
                         what="load on the new workers")

        # 3. QUIT: the old master exits and removes nginx.pid.oldbin
        os.kill(old, signal.SIGQUIT)
        tally.wait_until(lambda: not alive(old)
                         and not os.path.exists(n.oldbin), timeout=T,
                         what="old master gone after QUIT")
        assert read_pid(n.pidfile) == new and alive(new)
        assert workers(new) == new_workers
        with load.lock:
            quit_mark = load.next_id   # ids above were sent after the QUIT
        base = load.count()
        tally.wait_until(lambda: load.count() >= base + 500, timeout=T,
                         what="load after the old master left")
    finally:
        load.stop()

    # 4. the new master stops gracefully and removes nginx.pid
    os.kill(new, signal.SIGQUIT)
    tally.wait_until(lambda: not alive(new) and not any(
        alive(w) for w in new_workers) and not os.path.exists(n.pidfile),
        timeout=T, what="new master gone after QUIT")

    assert set(load.statuses) == {202}, load.statuses
    ids = stored_ids(n.spool)
    missing = load.acked - set(ids)
    assert not missing, (f"{len(missing)} of {len(load.acked)} acknowledged "
                         f"events lost: {sorted(missing)[:20]}")
    doubled = {i: c for i, c in ids.items() if c != 1}
    assert not doubled, f"events stored more than once: {doubled}"

    # the new master's workers served (and stored) every event sent once
    # the old master had left
    new_ids = {int(json.loads(ev["props"])["id"])
               for s in spoolfmt.list_segments(n.spool)
               if spoolfmt.parse_segment_name(s)[1] in new_workers
               for ev in spoolfmt.decode_segment(os.path.join(n.spool, s))}
    late = {i for i in load.acked if i > quit_mark}
    assert len(late) >= 500 and late <= new_ids, \
        f"{len(late - new_ids)} of {len(late)} late events not on new workers"

    log = n.read_error_log()
    bad = [line for line in log.splitlines()
           if "[alert]" in line or "[emerg]" in line
           or "left in connection" in line]
    assert not bad, "\n".join(bad[:20])
    assert "changing binary signal is ignored" not in log
