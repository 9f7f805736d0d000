"""Test helpers: run the real /usr/sbin/nginx with our module and the real
tallyd on loopback, talk HTTP to them, wait on conditions with deadlines.

Everything runs on 127.0.0.1 with free ports and a private temp directory.
Binaries come from the environment the Makefile sets (TALLY_BIN: the
directory holding tallyd; TALLY_MODULE: the .so), defaulting to ./build.
"""

import http.client
import json
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = os.environ.get("TALLY_BIN", os.path.join(ROOT, "build"))
TALLYD = os.path.join(BIN_DIR, "tallyd")
MODULE = os.environ.get("TALLY_MODULE",
                        os.path.join(ROOT, "build", "ngx_http_tally_module.so"))
NGINX = "/usr/sbin/nginx"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value (returned) or the
    deadline passes (AssertionError naming `what` and the last value)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
            if last:
                return last
        except (OSError, http.client.HTTPException) as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what}; last: {last!r}")
        time.sleep(interval)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def make_tmpdir(prefix="tally-"):
    """A temp directory NGINX workers (user nobody) can traverse."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def worker_ids():
    """uid and gid NGINX workers run as when started by root without a
    `user` directive."""
    return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid


def request(port, method, path, body=None, headers=None, conn=None,
            timeout=10):
    """One HTTP request.  Returns (status, headers dict lower-cased, body
    bytes).  Pass conn (an http.client.HTTPConnection) to reuse a
    keep-alive connection."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    if own:
        conn.close()
    return resp.status, hdrs, data


class Nginx:
    """The real nginx with our module, in a private prefix.

    http_extra is inserted into the http{} block, server_extra into the
    server{} block.  The spool directory is <prefix>/spool, owned by the
    worker user."""

    def __init__(self, http_extra="", server_extra="", workers=2,
                 main_extra="", spool=None, prefix=None):
        self.prefix = prefix or make_tmpdir("tally-nginx-")
        self.port = free_port()
        self.spool = spool or os.path.join(self.prefix, "spool")
        os.makedirs(self.spool, exist_ok=True)
        uid, gid = worker_ids()
        os.chown(self.spool, uid, gid)
        for d in ("logs", "tmp"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.workers = workers
        self.error_log = os.path.join(self.prefix, "logs", "error.log")
        self.write_conf(http_extra, server_extra, workers, main_extra)
        self.proc = None

    def write_conf(self, http_extra="", server_extra="", workers=2,
                   main_extra=""):
        p = self.prefix
        conf = f"""
load_module {MODULE};
daemon off;
master_process on;
worker_processes {workers};
pid {p}/nginx.pid;
error_log {self.error_log} info;
{main_extra}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    tally_spool {self.spool};
    {http_extra}
    server {{
        listen 127.0.0.1:{self.port};
        location = /api/event {{ tally_collect; }}
        location = /baseline {{ return 204; }}
        {server_extra}
    }}
}}
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    def test_config(self):
        """Runs nginx -t; returns (exit code, combined output)."""
        r = subprocess.run([NGINX, "-t", "-p", self.prefix, "-c", self.conf],
                           capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def start(self):
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.prefix, "-c", self.conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: port_open(self.port) or self.proc.poll() is not None,
                   what="nginx to listen")
        if self.proc.poll() is not None:
            raise AssertionError("nginx exited: "
                                 + self.proc.stderr.read().decode()
                                 + self.read_error_log())
        return self

    def wait_segments(self, n=None, timeout=10):
        """Waits until the workers have created their spool segments (at
        least n, default one per worker): with tally_sync off they do so in
        init_process, after the port is already open (with `always` only on
        their first write, so do not wait on this there)."""
        n = self.workers if n is None else n
        return wait_until(lambda: len(segment_sizes(self.spool)) >= n,
                          timeout=timeout, what=f"{n} spool segments")

    def read_error_log(self):
        try:
            with open(self.error_log) as f:
                return f.read()
        except OSError:
            return ""

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def post(self, body, ctype="application/json", headers=None, conn=None,
             path="/api/event", method="POST"):
        h = {"Content-Type": ctype,
             "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) "
                           "AppleWebKit/537.36 (KHTML, like Gecko) "
                           "Chrome/120.0 Safari/537.36"}
        if headers:
            h.update(headers)
        return request(self.port, method, path, body, h, conn=conn)


class Tallyd:
    """The real tallyd on a temp database, draining a spool directory."""

    def __init__(self, spool, workdir=None, extra_args=()):
        self.dir = workdir or make_tmpdir("tally-agg-")
        self.db = os.path.join(self.dir, "tally.db")
        self.spool = spool
        self.port = free_port()
        self.log = os.path.join(self.dir, "tallyd.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.key = None

    def cli(self, *args, check=True):
        """Runs `tallyd ARGS...` (a one-shot command) and returns the
        CompletedProcess."""
        r = subprocess.run([TALLYD, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"tallyd {' '.join(args)} failed "
                                 f"({r.returncode}): {r.stderr}")
        return r

    def add_key(self, name="test"):
        r = self.cli("keys", "add", "--db", self.db, "--name", name)
        key = r.stdout.strip().splitlines()[-1].strip()
        assert key, "tallyd keys add printed no key"
        return key

    def start(self):
        if self.key is None:
            self.key = self.add_key()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [TALLYD, "serve", "--spool", self.spool, "--db", self.db,
             "--listen", f"127.0.0.1:{self.port}", *self.extra_args],
            stdout=self.logf, stderr=subprocess.STDOUT)
        wait_until(lambda: self.health() or self.proc.poll() is not None,
                   what="tallyd /health")
        if self.proc.poll() is not None:
            raise AssertionError("tallyd exited: " + self.read_log())
        return self

    def health(self):
        try:
            st, _, _ = request(self.port, "GET", "/health", timeout=2)
            return st == 200
        except OSError:
            return False

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def query(self, q, key=None, raw=False):
        """POST /api/v2/query.  Returns (status, parsed JSON or None)."""
        k = self.key if key is None else key
        headers = {"Content-Type": "application/json"}
        if k:
            headers["Authorization"] = f"Bearer {k}"
        st, _, body = request(self.port, "POST", "/api/v2/query", q, headers)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        return (st, body) if raw else (st, data)


def spool_bytes(spool):
    """Concatenated bytes of every file in the spool directory (for "nothing
    was written" and "no raw IP" checks)."""
    out = b""
    for name in sorted(os.listdir(spool)):
        p = os.path.join(spool, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out += f.read()
    return out


def segment_sizes(spool):
    """{segment name: size} for every segment file in the spool."""
    return {n: os.path.getsize(os.path.join(spool, n))
            for n in os.listdir(spool)
            if n.startswith("seg-") and n.endswith(".tsp")}


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
