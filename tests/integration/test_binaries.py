"""Every Cordon binary runs, answers --help and --version, and refuses bad usage."""
import pytest

from conftest import run

BINARIES = ["cordon", "cordond", "cordon-node", "cordon-chunkd"]


@pytest.mark.parametrize("name", BINARIES)
def test_help(bin_dir, name):
    r = run([bin_dir / name, "--help"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: " + name)


@pytest.mark.parametrize("name", BINARIES)
def test_version(bin_dir, name):
    r = run([bin_dir / name, "--version"])
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(name + " ")
    assert first.split()[1].count(".") == 2


@pytest.mark.parametrize("name", BINARIES)
def test_unknown_option_is_usage_error(bin_dir, name):
    r = run([bin_dir / name, "--no-such-option"])
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr


def test_cli_lists_commands(bin_dir):
    r = run([bin_dir / "cordon", "--help"])
    for cmd in ("sql", "whoami", "admin", "audit", "sandbox", "udf", "overlay"):
        assert f"\n  {cmd} " in r.stdout


def test_cli_version_names_dependencies(bin_dir):
    out = run([bin_dir / "cordon", "--version"]).stdout
    for dep in ("libseccomp", "Lua 5.4", "SQLite", "libnl", "OpenSSL 3", "libevent", "jansson"):
        assert dep in out


def test_cli_unknown_command(bin_dir):
    r = run([bin_dir / "cordon", "frobnicate"])
    assert r.returncode == 2
    assert "unknown command 'frobnicate'" in r.stderr
