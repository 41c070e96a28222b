"""Container escape suite: each attempt runs in its own `cordon sandbox run`
container (tests/security/probe/probe.c) and must fail the intended way:
with the named errno, or by the container being killed for the named
syscall (reported from outside by the CLI), or by the named limit.
"""
import os
import socket
import subprocess

import pytest

from conftest import BUILD, run

PROBE = BUILD / "tests" / "cordon-probe"

# name -> expected outcome:
#   ("errno", {...})    the call failed with one of these errnos
#   ("seccomp", "name") the container was killed for that syscall
#   ("limit", "text")   Cordon ended it with that reason
#   ("value", "text")   what the probe read
ESCAPES = {
    # host files and dirs are not in the root at all
    "host_shadow": ("errno", {"ENOENT"}),
    "host_root_home": ("errno", {"ENOENT"}),
    "host_home": ("errno", {"ENOENT"}),
    "host_run": ("errno", {"ENOENT"}),
    # the root and /usr are read-only, /usr's files belong to host root
    "create_in_root": ("errno", {"EROFS"}),
    "mkdir_in_root": ("errno", {"EROFS"}),
    "create_in_usr": ("errno", {"EROFS"}),
    "write_usr_binary": ("errno", {"EACCES", "EROFS"}),
    "write_proc_self_exe": ("errno", {"EACCES", "ETXTBSY", "EROFS"}),
    # /proc is fresh and read-only; the init's /proc entries are closed
    "proc_sys_hostname": ("errno", {"EROFS"}),
    "proc_sys_core_pattern": ("errno", {"EROFS"}),
    "proc_sys_drop_caches": ("errno", {"EROFS"}),
    "proc_sysrq_trigger": ("errno", {"ENOENT", "EROFS", "EACCES"}),
    "proc_kcore": ("errno", {"ENOENT", "EACCES"}),
    "proc_oom_score_adj": ("errno", {"EROFS"}),
    "proc_init_mem": ("errno", {"EACCES"}),
    "proc_init_environ": ("errno", {"EACCES"}),
    "proc_init_root": ("errno", {"EACCES"}),
    # no /sys, only four devices, no device creation
    "sys_write": ("errno", {"ENOENT"}),
    "sys_cgroup": ("errno", {"ENOENT"}),
    "dev_mem": ("errno", {"ENOENT"}),
    "dev_block": ("errno", {"ENOENT"}),
    "dev_kmsg": ("errno", {"ENOENT"}),
    "dev_create": ("errno", {"EROFS"}),
    "mknod_char": ("seccomp", "mknodat"),
    "mknodat_block": ("seccomp", "mknodat"),
    "chown_root": ("errno", {"EINVAL", "EPERM"}),
    # mounts, old and new API
    "mount_tmpfs": ("seccomp", "mount"),
    "remount_rw": ("seccomp", "mount"),
    "umount_usr": ("seccomp", "umount2"),
    "pivot_root": ("seccomp", "pivot_root"),
    "chroot": ("seccomp", "chroot"),
    "fsopen": ("seccomp", "fsopen"),
    "open_tree": ("seccomp", "open_tree"),
    "move_mount": ("seccomp", "move_mount"),
    "mount_setattr": ("seccomp", "mount_setattr"),
    # nested namespaces
    "unshare_user": ("seccomp", "unshare"),
    "unshare_net": ("seccomp", "unshare"),
    "unshare_mount": ("seccomp", "unshare"),
    "clone_newuser": ("seccomp", "clone"),
    "clone_newpid": ("seccomp", "clone"),
    "clone3": ("errno", {"ENOSYS"}),
    "setns_net": ("seccomp", "setns"),
    # privileges
    "cap_sets": ("value", "CapInh:\t0000000000000000 CapPrm:\t0000000000000000 "
                 "CapEff:\t0000000000000000 CapBnd:\t0000000000000000 "
                 "CapAmb:\t0000000000000000 "),
    "no_new_privs": ("value", "1"),
    "setuid_root": ("seccomp", "setuid"),
    "setgroups": ("seccomp", "setgroups"),
    "capset_all": ("seccomp", "capset"),
    "ambient_raise": ("errno", {"EPERM"}),
    "ptrace_init": ("seccomp", "ptrace"),
    "process_vm_readv": ("seccomp", "process_vm_readv"),
    "pidfd_getfd": ("seccomp", "pidfd_open"),
    "visible_pids": ("value", "2"),  # the init and the probe
    # kernel attack surface
    "keyctl": ("seccomp", "keyctl"),
    "add_key": ("seccomp", "add_key"),
    "request_key": ("seccomp", "request_key"),
    "bpf": ("seccomp", "bpf"),
    "perf_event_open": ("seccomp", "perf_event_open"),
    "userfaultfd": ("seccomp", "userfaultfd"),
    "io_uring": ("seccomp", "io_uring_setup"),
    "kexec_load": ("seccomp", "kexec_load"),
    "init_module": ("seccomp", "init_module"),
    "finit_module": ("seccomp", "finit_module"),
    "delete_module": ("seccomp", "delete_module"),
    "open_by_handle_at": ("seccomp", "open_by_handle_at"),
    "name_to_handle_at": ("seccomp", "name_to_handle_at"),
    "modify_ldt": ("seccomp", "modify_ldt"),
    "iopl": ("seccomp", "iopl"),
    "ioperm": ("seccomp", "ioperm"),
    "syslog": ("seccomp", "syslog"),
    "settimeofday": ("seccomp", "settimeofday"),
    "clock_settime": ("seccomp", "clock_settime"),
    "adjtimex": ("seccomp", "adjtimex"),
    "reboot": ("seccomp", "reboot"),
    "swapon": ("seccomp", "swapon"),
    "acct": ("seccomp", "acct"),
    "sethostname": ("seccomp", "sethostname"),
    "tiocsti": ("seccomp", "ioctl"),
    "tiocsti_high_bits": ("seccomp", "ioctl"),
    "int80_i386": ("seccomp", "i386 getpid"),
    "x32_syscall": ("seccomp", "x32 getpid"),
    "personality": ("seccomp", "personality"),
    # sockets
    "socket_raw": ("seccomp", "socket"),
    "socket_packet": ("seccomp", "socket"),
    "socket_alg": ("seccomp", "socket"),
    "socket_vsock": ("seccomp", "socket"),
    "socket_netlink": ("seccomp", "socket"),
    "socket_sctp": ("seccomp", "socket"),
    "socket_ping": ("seccomp", "socket"),
    # resources
    "fork_bomb": ("limit", "pids limit 16 reached"),
    "memory_bomb": ("limit", "memory limit 64M reached"),
    "file_size": ("limit", "file size limit 512K reached"),
    "cpu_burn": ("limit", "cpu time limit 300ms reached"),
    "disk_fill": ("errno", {"ENOSPC"}),
    "fd_exhaustion": ("value", "EMFILE after 253"),  # 256 minus stdin/out/err
    # what the container looks like from inside
    "identity": ("value", "uid=1000 gid=1000 host=cordon map=      1000      65534          1"),
    "cgroup_view": None,  # checked below: every hierarchy rooted at "/"
}

LIMITS = ["--pids", "16", "--memory", "64M", "--cpu-time", "300ms", "--wall-time", "20s"]


def sandbox(bin_dir, probe, *args, opts=(), **kw):
    cmd = [str(bin_dir / "cordon"), "sandbox", "run", *LIMITS, *opts,
           "--ro-bind", f"{PROBE}:/probe", "--", "/probe", probe, *args]
    return run(cmd, **kw)


def check(proc, name, expect):
    kind, want = expect
    if kind == "seccomp":
        assert proc.returncode == 137, (proc.stdout, proc.stderr)
        assert proc.stdout == "", f"{name} ran past the forbidden call: {proc.stdout}"
        assert f"cordon: sandbox: syscall {want} (" in proc.stderr, proc.stderr
        assert proc.stderr.rstrip().endswith("not allowed"), proc.stderr
        return
    if kind == "limit":
        assert proc.returncode in (137, 128 + 25), (proc.returncode, proc.stderr)
        assert proc.stderr.strip().splitlines()[-1] == f"cordon: sandbox: {want}", proc.stderr
        return
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    line = proc.stdout.rstrip("\n")
    assert line.startswith(f"{name}: "), line
    outcome = line[len(name) + 2:]
    if kind == "errno":
        assert outcome.startswith("errno="), f"{name} succeeded: {outcome}"
        assert outcome[len("errno="):] in want, outcome
    else:
        assert outcome == f"value={want}", outcome


def test_probe_covers_every_escape(bin_dir):
    listed = run([str(PROBE), "--list"]).stdout.split()
    assert set(listed) >= set(ESCAPES), set(ESCAPES) - set(listed)
    attempts = [n for n, e in ESCAPES.items() if e is None or e[0] != "value"]
    assert len(attempts) >= 60


@pytest.mark.parametrize("name", [n for n, e in ESCAPES.items() if e is not None])
def test_escape(bin_dir, name):
    opts = ["--fsize", "512K"] if name == "file_size" else []
    if name == "disk_fill":
        opts = ["--tmpfs-size", "1M"]
    check(sandbox(bin_dir, name, opts=opts), name, ESCAPES[name])


def test_cgroup_namespace_hides_host_paths(bin_dir):
    proc = sandbox(bin_dir, "cgroup_view")
    assert proc.returncode == 0, proc.stderr
    paths = proc.stdout.strip().split("value=", 1)[1].rstrip(";").split(";")
    assert paths and all(p == "/" for p in paths), paths


def test_host_pids_are_invisible(bin_dir):
    proc = sandbox(bin_dir, "kill_host_pid", str(os.getpid()))
    check(proc, "kill_host_pid", ("errno", {"ESRCH"}))


def test_caller_fds_not_inherited(bin_dir):
    r, w = os.pipe()  # inheritable on purpose
    os.set_inheritable(r, True)
    try:
        proc = sandbox(bin_dir, "inherited_fds", pass_fds=(r,))
    finally:
        os.close(r)
        os.close(w)
    check(proc, "inherited_fds", ("value", "0 1 2 "))


def test_controls_still_work(bin_dir):
    """The rules are narrow: ordinary ioctls and personality queries pass."""
    check(sandbox(bin_dir, "ioctl_fionread"), "ioctl_fionread", ("value", "2"))
    assert sandbox(bin_dir, "socket_tcp_udp").stdout == "socket_tcp_udp: ok\n"
    proc = sandbox(bin_dir, "personality_query")
    assert proc.stdout == "personality_query: ok\n", proc.stderr


@pytest.fixture
def tcp_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s
    s.close()


def host_address():
    out = run(["ip", "-o", "-4", "addr", "show", "scope", "global"]).stdout.split()
    for i, tok in enumerate(out):
        if tok == "inet":
            return out[i + 1].split("/")[0]
    return None


@pytest.mark.parametrize("net", ["loopback", "none"])
def test_host_loopback_listener_unreachable(bin_dir, tcp_listener, net):
    port = tcp_listener.getsockname()[1]
    proc = sandbox(bin_dir, "connect_tcp", f"127.0.0.1:{port}", opts=["--net", net])
    check(proc, "connect_tcp", ("errno", {"ECONNREFUSED", "ENETUNREACH"}))


def test_host_address_listener_unreachable(bin_dir):
    addr = host_address()
    if addr is None:
        pytest.skip("this host has no global IPv4 address")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((addr, 0))
    s.listen(1)
    try:
        proc = sandbox(bin_dir, "connect_tcp", f"{addr}:{s.getsockname()[1]}")
    finally:
        s.close()
    check(proc, "connect_tcp", ("errno", {"ENETUNREACH", "ECONNREFUSED"}))


def test_host_abstract_unix_socket_unreachable(bin_dir):
    name = f"cordon-probe-{os.getpid()}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name)
    s.listen(1)
    try:
        proc = sandbox(bin_dir, "connect_abstract", name)
    finally:
        s.close()
    check(proc, "connect_abstract", ("errno", {"ECONNREFUSED"}))


# The udf profile: the same denials, and no new process or program after the
# start (threads are covered in test_sandbox_cli.py).
UDF = {
    "fork_once": ("seccomp", "clone"),
    "exec_again": ("seccomp", "execve"),
    "ptrace_init": ("seccomp", "ptrace"),
    "unshare_user": ("seccomp", "unshare"),
    "clone3": ("errno", {"ENOSYS"}),
    "socket_raw": ("seccomp", "socket"),
    "tiocsti_high_bits": ("seccomp", "ioctl"),
    "int80_i386": ("seccomp", "i386 getpid"),
    "io_uring": ("seccomp", "io_uring_setup"),
    "mount_tmpfs": ("seccomp", "mount"),
    "cap_sets": ESCAPES["cap_sets"],
    "visible_pids": ("value", "2"),
}


@pytest.mark.parametrize("name", sorted(UDF))
def test_escape_udf_profile(bin_dir, name):
    check(sandbox(bin_dir, name, opts=["--profile", "udf"]), name, UDF[name])


def test_transform_profile_may_fork_and_exec(bin_dir):
    proc = sandbox(bin_dir, "fork_once")
    assert proc.stdout == "fork_once: ok\n", proc.stderr
    proc = sandbox(bin_dir, "exec_again")
    assert proc.stdout == "no_new_privs: value=1\n", proc.stderr


REAPER_ATTACK = r"""
import os, signal
print(open("/proc/1/comm").read().strip())
for path in ("/proc/1/mem", "/proc/1/environ", "/proc/1/exe"):
    try:
        open(path, "rb").read(1)
        print(path, "READ")
    except OSError as e:
        print(path, e.errno)
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGINT):
    try:
        os.kill(1, sig)
    except OSError as e:
        print("kill", sig, e.errno)
print("alive", flush=True)
os._exit(3)
"""


def test_pid1_reaper_survives_the_payload(bin_dir):
    """pid 1 execs cordon-reap once the payload exists (sandbox.md): the
    payload can neither read it (non-dumpable, execute-only memfd) nor kill
    or stop it, and its status still reaches the caller through it."""
    proc = run([str(bin_dir / "cordon"), "sandbox", "run", *LIMITS, "--", "/usr/bin/python3",
                "-c", REAPER_ATTACK])
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    assert lines[0] == "memfd:cordon-re", lines  # the comm of an execveat'd memfd
    assert "/proc/1/mem 13" in lines and "/proc/1/environ 13" in lines, lines
    assert not any(l.endswith("READ") for l in lines), lines
    assert lines[-1] == "alive", lines
