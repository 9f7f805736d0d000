"""resp -- a minimal Redis client for tests (RESP2 over a socket, standard
library only), plus a helper that runs a private redis-server.

    r = resp.Redis(port)
    r.call("XADD", "s", "1-1", "r", b"bytes")   -> b"1-1"
    r.call("XLEN", "s")                          -> 1
    r.call("XADD", "s", "1-1", "r", b"x")        -> raises resp.Error

Replies: simple strings and bulk strings as bytes, integers as int, nil as
None, arrays as lists; error replies raise resp.Error (its .message is the
server's text).  Arguments may be str, bytes or int.
"""

import os
import socket
import subprocess
import time


class Error(Exception):
    """An error reply from the server."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Redis:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, int):
                a = str(a).encode()
            elif isinstance(a, str):
                a = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return Error(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        raise ConnectionError("bad RESP reply: %r" % line)

    def pipeline(self, commands):
        """Sends every command, then reads every reply (errors are returned
        as Error objects, not raised)."""
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.read_reply() for _ in commands]

    def call(self, *args):
        r = self.pipeline([args])[0]
        if isinstance(r, Error):
            raise r
        return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A private redis-server on 127.0.0.1:port with its data in dir (AOF,
    appendfsync always, no RDB snapshots).  stop() then start() again keeps
    the data (same --dir, same AOF)."""

    def __init__(self, dir, port=None):
        self.dir = dir
        self.port = port or free_port()
        self.proc = None

    def start(self, deadline_s=20.0):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--appendonly", "yes",
             "--appendfsync", "always", "--save", "", "--daemonize", "no",
             "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited: " + self.log())
            try:
                with Redis(self.port, timeout=2) as r:
                    if r.call("PING") == b"PONG":
                        return self
            except (OSError, Error) as e:   # not listening / still LOADING
                last = e
            time.sleep(0.02)
        raise AssertionError("redis-server did not answer PING: %r" % last)

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """Stops it with SIGTERM (AOF is fsynced on every write anyway)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self):
        return Redis(self.port)
