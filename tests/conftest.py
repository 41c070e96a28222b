"""Shared pytest fixtures: where the built binaries are, temporary data dirs.

Integration and security tests drive the real binaries from
$CORDON_BUILD_DIR/bin (default: build/bin next to this folder).
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("CORDON_BUILD_DIR", ROOT / "build"))
BIN = BUILD / "bin"


def sanitized():
    """True when the build under test has ASan/UBSan (slower, some probes skip)."""
    cache = BUILD / "CMakeCache.txt"
    return cache.exists() and "CORDON_SANITIZE:STRING=address" in cache.read_text()


@pytest.fixture(scope="module", autouse=True)
def reap_cordonds():
    """After each module: stop every cordond it started and did not stop
    (a fixture that failed between start() and yield), so no cordond, chunk
    server or node outlives the module that started it."""
    yield
    import cordon_api
    for s in list(cordon_api.RUNNING):
        s.reap()


@pytest.fixture(scope="session")
def bin_dir():
    for name in ("cordon", "cordond", "cordon-node", "cordon-chunkd"):
        assert (BIN / name).exists(), f"{BIN / name} is not built (run make build)"
    return BIN


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


def run(args, timeout=60, **kw):
    """subprocess.run with captured text output and a timeout."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
