"""pytest fixtures: a running NGINX edge with the module and a tallyd
draining its spool.  See tests/tally.py for the helpers."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Sealed days (aggregator/db_seal.h) move finished days' raw rows into
# column blocks, which the SQL oracles of most tests cannot read: tallyd
# seals nothing here unless a test asks for it (tests/aggregator/
# test_seal.py passes --seal-after or sets this itself).
os.environ["TALLY_SEAL_AFTER"] = "0"

import tally  # noqa: E402


@pytest.fixture
def edge():
    """A started NGINX with the module, endpoint at /api/event."""
    n = tally.Nginx().start()
    n.wait_segments()
    yield n
    n.stop()
    tally.rmtree(n.prefix)


@pytest.fixture
def stack():
    """NGINX + tallyd draining its spool.  Yields (nginx, tallyd)."""
    n = tally.Nginx().start()
    t = tally.Tallyd(n.spool).start()
    yield n, t
    t.stop()
    n.stop()
    tally.rmtree(n.prefix)
    tally.rmtree(t.dir)
