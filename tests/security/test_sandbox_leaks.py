"""Nothing of a container outlives it: after many runs no cgroup, no mount,
no process is left; a run whose supervisor was SIGKILLed loses its container
(parent-death signal) and its cgroup is removed by the next start.
The caller-fd side of this is tests/unit/sandbox (200 library runs)."""
import os
import pathlib
import signal
import subprocess
import time

import pytest

from conftest import run


def cgroup_bases():
    """The cordon-sbx dirs sandbox/cgroup.c uses, found the same way."""
    own = {}
    for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            own[c] = "" if path == "/" else path
    bases = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ")
        mnt = left.split()[4]
        fstype, _, opts = right.split()[:3]
        if fstype == "cgroup2" and "memory" in pathlib.Path(mnt, own.get("", "").lstrip("/"),
                                                            "cgroup.controllers").read_text():
            bases.append(pathlib.Path(mnt + own[""]) / "cordon-sbx")
        if fstype == "cgroup":
            for c in ("memory", "pids", "cpuacct"):
                if c in opts.split(","):
                    bases.append(pathlib.Path(mnt + own.get(c, "")) / "cordon-sbx")
    return bases


def cgroups_of(pid):
    return [d for b in cgroup_bases() if b.exists() for d in b.iterdir()
            if d.is_dir() and d.name.startswith(f"{pid}-")]


def mounts():
    return sorted(l.split(" ", 4)[4] for l in
                  pathlib.Path("/proc/self/mountinfo").read_text().splitlines())


def processes_in(cgroup_dirs):
    pids = set()
    for d in cgroup_dirs:
        procs = d / "cgroup.procs"
        if procs.exists():
            pids |= {int(p) for p in procs.read_text().split()}
    return pids


def wait_for(cond, what, limit=30.0):
    """Waits for a state (not a timing assertion: the limit only bounds a hang)."""
    end = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_200_runs_leave_nothing(bin_dir):
    before_mounts = mounts()
    pids = []
    for i in range(200):
        p = subprocess.Popen([str(bin_dir / "cordon"), "sandbox", "run", "--",
                              "/bin/sh", "-c", "sleep 0 & echo $((1+1))"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=60)
        assert (p.returncode, out) == (0, "2\n"), err
        pids.append(p.pid)
    assert mounts() == before_mounts
    leftovers = [d for pid in pids for d in cgroups_of(pid)]
    assert leftovers == []
    # No process of any of those containers survives anywhere on the host.
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cg = (proc / "cgroup").read_text()
        except OSError:
            continue
        assert not any(f"cordon-sbx/{pid}-" in cg for pid in pids), (proc.name, cg)


def v1_dirs(name):
    """name in the caller's own cgroup of each v1 hierarchy sandbox/ uses."""
    own = {}
    for line in pathlib.Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            own[c] = "" if path == "/" else path
    dirs = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ")
        fstype, _, opts = right.split()[:3]
        for c in ("memory", "pids", "cpuacct"):
            if fstype == "cgroup" and c in opts.split(","):
                dirs.append(pathlib.Path(left.split()[4] + own.get(c, "")) / name)
    return dirs


@pytest.fixture
def private_cgroup():
    """A cgroup of the test's own, so that the leftover it makes is not
    collected first by another Cordon process running on this host (their
    GC only looks under their own cgroup)."""
    v2_used = any(not any(str(b).startswith(str(d.parent)) for d in v1_dirs("x"))
                  for b in cgroup_bases())
    if v2_used or len(v1_dirs("x")) != 3:
        pytest.skip("needs the v1 memory, pids and cpuacct hierarchies")
    dirs = v1_dirs(f"cordon-leak-test-{os.getpid()}")
    for d in dirs:
        d.mkdir()
    yield dirs
    for d in dirs:
        for sub in (d / "cordon-sbx").glob("*"):
            if sub.is_dir():
                sub.rmdir()
        if (d / "cordon-sbx").exists():
            (d / "cordon-sbx").rmdir()
        d.rmdir()


def in_cgroup(dirs, argv):
    """argv, started from a shell that first moves itself into dirs."""
    moves = "; ".join(f"echo $$ > {d}/cgroup.procs" for d in dirs)
    return ["/bin/sh", "-c", f'{moves}; exec "$@"', "sh", *argv]


def test_killed_supervisor_takes_its_container_and_next_start_cleans_up(bin_dir, private_cgroup):
    bases = [d / "cordon-sbx" for d in private_cgroup]
    mine = lambda pid: [x for b in bases if b.exists() for x in b.iterdir()  # noqa: E731
                        if x.is_dir() and x.name.startswith(f"{pid}-")]
    p = subprocess.Popen(in_cgroup(private_cgroup, [str(bin_dir / "cordon"), "sandbox", "run",
                                                    "--", "/bin/sleep", "60"]),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(processes_in(mine(p.pid))) >= 2, "the container to start")
        dirs = mine(p.pid)
        inside = processes_in(dirs)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        # The init dies with its parent (PR_SET_PDEATHSIG) and takes the pid ns.
        wait_for(lambda: not any(os.path.exists(f"/proc/{q}") and
                                 not open(f"/proc/{q}/stat").read().split(") ")[1].startswith("Z")
                                 for q in inside), "the container's processes to die")
        assert dirs and all(d.exists() for d in dirs)  # the leftover the next start must remove
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    proc = run(in_cgroup(private_cgroup, [str(bin_dir / "cordon"), "sandbox", "run", "--",
                                          "/bin/true"]))
    assert proc.returncode == 0, proc.stderr
    assert mine(p.pid) == []
