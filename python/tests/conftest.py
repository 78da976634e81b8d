# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures for the tests against a running udo-vsockd (tests/vsock_python.sh).

The script starts the daemon and names it in the environment:
UDO_PY_VSOCK (vsock:1:PORT), UDO_PY_UNIX (unix:PATH), UDO_PY_DIR (a
scratch directory; the daemon's proxy command connects to echo.sock in
it), UDO_PY_FAKE_VMM (tests/fake-vmm).  Without them the daemon tests
are skipped, unless UDO_PY_REQUIRE=1 makes that an error.
"""

import contextlib
import importlib.util
import os
import subprocess
import sys

import pytest

if importlib.util.find_spec("udo_vsock") is None:
    # Not installed nor on PYTHONPATH: use the package next to these tests.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env(name):
    """The environment variable NAME, or a skip (an error under UDO_PY_REQUIRE=1)."""
    value = os.environ.get(name)
    if not value:
        if os.environ.get("UDO_PY_REQUIRE") == "1":
            pytest.fail(f"{name} is not set (tests/vsock_python.sh sets it)")
        pytest.skip(f"{name} is not set: run through tests/vsock_python.sh")
    return value


@pytest.fixture(scope="session")
def vsock_addr():
    return _env("UDO_PY_VSOCK")


@pytest.fixture(scope="session")
def unix_addr():
    return _env("UDO_PY_UNIX")


@pytest.fixture(scope="session")
def scratch():
    return _env("UDO_PY_DIR")


@pytest.fixture
def fake_vmm(scratch):
    """Starts tests/fake-vmm in a mode, serving one connection; yields its socket path."""
    binary = _env("UDO_PY_FAKE_VMM")
    procs = []

    @contextlib.contextmanager
    def start(mode, *options):
        path = os.path.join(scratch, "vmm.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        p = subprocess.Popen([binary, "-n", "1", "-m", mode, *options, path], stdout=subprocess.PIPE)
        procs.append(p)
        assert p.stdout.readline() == b"ready\n"
        yield path
        # It exits once its one connection is over.
        assert p.wait(timeout=30) == 0

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
