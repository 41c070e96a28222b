"""Processes as the host's /proc shows them, for tests that check what a
cordond started and what it left behind (by ancestry: other tests' and
other sessions' processes on the machine are never counted)."""
import os


def stat_of(pid):
    """(ppid, start time) of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s.rsplit(")", 1)[1].split()
    return int(rest[1]), int(rest[19])


def descendants(root):
    """pids of every live descendant of root."""
    parent = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            st = stat_of(int(pid))
            if st:
                parent[int(pid)] = st[0]
    out = []
    for pid in parent:
        p = pid
        while p in parent and p > 1:
            p = parent[p]
            if p == root:
                out.append(pid)
                break
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""
