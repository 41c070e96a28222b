"""`cordon sandbox run`: defaults, exit statuses, the report, options."""
import json
import os
import pty
import subprocess

import pytest

from conftest import BUILD, run

PROBE = BUILD / "tests" / "cordon-probe"


def sbx(bin_dir, *args, **kw):
    return run([str(bin_dir / "cordon"), "sandbox", "run", *args], **kw)


def test_runs_and_passes_stdio(bin_dir):
    proc = sbx(bin_dir, "--", "/bin/cat", input="through the pipe\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "through the pipe\n"
    assert proc.stderr == ""


def test_bare_command_is_found_on_path(bin_dir):
    proc = sbx(bin_dir, "--", "echo", "hi")
    assert (proc.returncode, proc.stdout) == (0, "hi\n"), proc.stderr


def test_exit_status_is_the_commands(bin_dir):
    assert sbx(bin_dir, "--", "/bin/sh", "-c", "exit 42").returncode == 42


def test_signal_death_is_128_plus_n_without_a_cordon_line(bin_dir):
    proc = sbx(bin_dir, "--", "/bin/sh", "-c", "kill -TERM $$")
    assert proc.returncode == 128 + 15
    assert "cordon: sandbox:" not in proc.stderr


def test_environment_is_only_path_and_env_options(bin_dir):
    os.environ["CORDON_SECRET_FOR_TEST"] = "leak"
    try:
        proc = sbx(bin_dir, "--", "/usr/bin/env")
        assert proc.stdout == "PATH=/usr/local/bin:/usr/bin:/bin\n", proc.stdout
        proc = sbx(bin_dir, "--env", "A=1", "--env=B=two", "--", "/usr/bin/env")
        assert proc.stdout.splitlines() == ["A=1", "B=two", "PATH=/usr/local/bin:/usr/bin:/bin"]
    finally:
        del os.environ["CORDON_SECRET_FOR_TEST"]


def test_terminal_is_never_controlling(bin_dir):
    """Even when the caller's stdin is a terminal, the command gets no
    controlling tty (new session), and TIOCSTI on it is fatal."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([str(bin_dir / "cordon"), "sandbox", "run", "--",
                               "/bin/sh", "-c", "cut -d' ' -f7 /proc/self/stat; test -t 0 && echo tty"],
                              stdin=slave, capture_output=True, text=True, timeout=60)
        assert proc.stdout == "0\ntty\n", proc.stderr  # tty_nr 0: no controlling terminal
        proc = subprocess.run([str(bin_dir / "cordon"), "sandbox", "run", "--ro-bind",
                               f"{PROBE}:/probe", "--", "/probe", "tiocsti"],
                              stdin=slave, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 137
        assert "cordon: sandbox: syscall ioctl (16) not allowed" in proc.stderr
    finally:
        os.close(master)
        os.close(slave)


def test_report_json(bin_dir, tmp_path):
    report = tmp_path / "r.json"
    proc = sbx(bin_dir, "--report", str(report), "--", "/bin/sh", "-c", "exit 3")
    assert proc.returncode == 3
    r = json.loads(report.read_text())
    assert r["end"] == "exit" and r["exit_code"] == 3 and r["syscall"] is None
    assert r["reason"] == "exited with status 3"
    assert r["wall_ns"] > 0 and r["cpu_ns"] > 0 and r["peak_memory_bytes"] > 0


def test_report_names_the_syscall(bin_dir, tmp_path):
    report = tmp_path / "r.json"
    proc = sbx(bin_dir, "--report", str(report), "--ro-bind", f"{PROBE}:/probe", "--",
               "/probe", "ptrace_init")
    assert proc.returncode == 137
    assert proc.stderr.strip() == "cordon: sandbox: syscall ptrace (101) not allowed"
    r = json.loads(report.read_text())
    assert r["end"] == "seccomp"
    assert r["syscall"] == {"name": "ptrace", "nr": 101}


@pytest.mark.parametrize("args", [
    [],                                   # no command
    ["--profile", "root", "--", "/bin/true"],
    ["--memory", "lots", "--", "/bin/true"],
    ["--pids", "0", "--", "/bin/true"],
    ["--net", "host", "--", "/bin/true"],
    ["--env", "NOEQUALS", "--", "/bin/true"],
    ["--ro-bind", "relative", "--", "/bin/true"],
    ["--frobnicate", "--", "/bin/true"],
    ["--wall-time"],
])
def test_usage_errors_exit_2(bin_dir, args):
    proc = sbx(bin_dir, *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("cordon: sandbox run: ")


def test_start_failure_exits_125(bin_dir):
    proc = sbx(bin_dir, "--", "/nonexistent/program")
    assert proc.returncode == 125
    assert "execve /nonexistent/program: No such file or directory" in proc.stderr


def test_help_documents_the_defaults(bin_dir):
    proc = run([str(bin_dir / "cordon"), "sandbox", "run", "--help"])
    assert proc.returncode == 0
    for text in ("[transform]", "[512M]", "[64]", "[60s]", "[64M]", "[256]", "[loopback]"):
        assert text in proc.stdout, text


def test_binds_read_only_and_writable(bin_dir, tmp_path):
    # tmp_path sits in a 0700 dir of root: binds are opened as the caller,
    # so that is fine; what is inside is read as nobody.
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "data").write_text("host data\n")
    rw = tmp_path / "rw"
    rw.mkdir()
    rw.chmod(0o777)  # the container is nobody on the host
    proc = sbx(bin_dir, "--ro-bind", f"{tmp_path}/ro:/in", "--bind", f"{rw}:/work/out", "--",
               "/bin/sh", "-c",
               "cat /in/data; echo x > /in/new 2>/dev/null || echo refused; echo made > /work/out/f")
    assert proc.stdout == "host data\nrefused\n", proc.stderr
    assert (rw / "f").read_text() == "made\n"
    assert (rw / "f").stat().st_uid == 65534  # nobody on the host, never root
    assert not (tmp_path / "ro" / "new").exists()


def test_udf_profile_allows_the_start_only(bin_dir):
    assert sbx(bin_dir, "--profile", "udf", "--", "/bin/echo", "ok").stdout == "ok\n"
    proc = sbx(bin_dir, "--profile", "udf", "--", "/bin/sh", "-c", "exec /bin/true")
    assert proc.returncode == 137
    assert "cordon: sandbox: syscall execve (59) not allowed" in proc.stderr
    proc = sbx(bin_dir, "--profile", "udf", "--", "/bin/sh", "-c", "/bin/true; echo no")
    assert "cordon: sandbox: syscall vfork (58) not allowed" in proc.stderr
    # threads are fine
    proc = sbx(bin_dir, "--profile", "udf", "--", "/usr/bin/python3", "-c",
               "import threading; t = threading.Thread(target=print, args=('thread',)); "
               "t.start(); t.join()")
    assert (proc.returncode, proc.stdout) == (0, "thread\n"), proc.stderr


def test_net_none_has_loopback_down(bin_dir):
    script = "cat /sys/class/net/lo/operstate 2>/dev/null; grep -c . /proc/net/dev"
    assert sbx(bin_dir, "--net", "none", "--", "/bin/sh", "-c", script).stdout == "3\n"
    py = ("import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
          "c = socket.create_connection(s.getsockname()); print('lo works')")
    assert sbx(bin_dir, "--", "/usr/bin/python3", "-c", py).stdout == "lo works\n"
    proc = sbx(bin_dir, "--net", "none", "--", "/usr/bin/python3", "-c", py)
    assert "Network is unreachable" in proc.stderr or "Cannot assign" in proc.stderr


def test_netns_joins_the_named_namespace(bin_dir):
    name = f"cordon-sbx-test-{os.getpid()}"
    if run(["ip", "netns", "add", name]).returncode != 0:
        pytest.skip("cannot create a named netns here")
    try:
        want = os.stat(f"/run/netns/{name}").st_ino
        proc = sbx(bin_dir, "--netns", f"/run/netns/{name}", "--", "/usr/bin/stat", "-L",
                   "-c", "%i", "/proc/self/ns/net")
        assert proc.stdout == f"{want}\n", proc.stderr
        assert os.stat("/proc/self/ns/net").st_ino != want
    finally:
        run(["ip", "netns", "del", name])


def test_pids_limit_counts_the_commands_processes(bin_dir):
    ok = sbx(bin_dir, "--pids", "3", "--", "/bin/sh", "-c", "sleep 0.1 & sleep 0.1 & wait; echo ok")
    assert (ok.returncode, ok.stdout) == (0, "ok\n"), ok.stderr
    over = sbx(bin_dir, "--pids", "3", "--", "/bin/sh", "-c",
               "sleep 1 & sleep 1 & sleep 1 & wait; echo no")
    assert over.returncode == 137
    assert over.stderr.strip().endswith("cordon: sandbox: pids limit 3 reached")


@pytest.mark.parametrize("opts,script,end,reason", [
    (["--wall-time", "200ms"], "sleep 5", "wall", "wall time limit 200ms reached"),
    (["--cpu-time", "200ms"], "while :; do :; done", "cpu", "cpu time limit 200ms reached"),
    (["--memory", "32M"], "exec /usr/bin/python3 -c 'b = bytearray(100 << 20)'", "memory",
     "memory limit 32M reached"),
    (["--fsize", "64K"], "exec head -c 1048576 /dev/zero > /work/f",
     "fsize", "file size limit 64K reached"),
])
def test_limit_reason_in_report_and_stderr(bin_dir, tmp_path, opts, script, end, reason):
    report = tmp_path / "r.json"
    proc = sbx(bin_dir, *opts, "--report", str(report), "--", "/bin/sh", "-c", script)
    assert proc.stderr.strip().splitlines()[-1] == f"cordon: sandbox: {reason}"
    r = json.loads(report.read_text())
    assert (r["end"], r["reason"]) == (end, reason)
    assert proc.returncode == (128 + 25 if end == "fsize" else 137)


def test_small_nofile_applies_to_the_command_only(bin_dir):
    proc = sbx(bin_dir, "--nofile", "5", "--", "/bin/sh", "-c", "ulimit -n")
    assert (proc.returncode, proc.stdout) == (0, "5\n"), proc.stderr
