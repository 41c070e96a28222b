"""`cordon udf run`: usage, exit codes and what reaches the node. Tests that
need the container skip, saying so, in a build without containers; the
same behaviours are covered against cordon-node in the other UDF tests."""
import json

import pytest

from conftest import run
from udf_runner import UDFS, containers_available, outputs, run_udf


def cli(bin_dir, *args, input_text=None):
    return run([bin_dir / "cordon", "udf", *map(str, args)], input=input_text)


@pytest.fixture
def container(bin_dir):
    if not containers_available(bin_dir):
        pytest.skip("containers are not in this build (sandbox/ not merged yet)")


def test_help(bin_dir):
    r = cli(bin_dir, "run", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: cordon udf run")


@pytest.mark.parametrize("args", [
    [],
    ["run"],
    ["run", "x.lua"],
    ["run", "--function", "f"],
    ["run", "a.lua", "b.lua", "--function", "f"],
    ["run", "x.lua", "--function", "f", "--memory", "lots"],
    ["run", "x.lua", "--function", "f", "--cpu-time", "-1s"],
    ["run", "x.lua", "--function", "f", "--resource", "noequals"],
    ["run", "x.lua", "--function", "f", "--resource", "../etc=/etc/passwd"],
    ["run", "x.lua", "--function", "f", "--resource", "a/b=/etc/passwd"],
    ["run", "x.lua", "--function", "f", "--bogus"],
])
def test_usage_errors_exit_2(bin_dir, args):
    r = cli(bin_dir, *args)
    assert r.returncode == 2, r.stderr
    assert "usage: cordon udf run" in r.stderr


def test_missing_script_exit_2(bin_dir, tmp_path):
    r = cli(bin_dir, "run", tmp_path / "none.lua", "--function", "f")
    assert r.returncode == 2 and "none.lua" in r.stderr


def test_without_containers_says_so(bin_dir):
    if containers_available(bin_dir):
        pytest.skip("this build has containers")
    r = cli(bin_dir, "run", UDFS / "mask.lua", "--function", "mask_email")
    assert r.returncode == 4
    assert "cordon: udf: container:" in r.stderr


def test_exit_codes(bin_dir, container, tmp_path):
    s = tmp_path / "codes.lua"
    s.write_text("return { ok = function(x) return x + 1 end,\n"
                 "  boom = function() error('boom') end,\n"
                 "  spin = function() while true do end end }\n")
    r = cli(bin_dir, "run", s, "--function", "ok", "--input", "-", input_text="[1]\n[2]\n")
    assert r.returncode == 0 and r.stdout.split() == ["2", "3"]
    r = cli(bin_dir, "run", s, "--function", "boom")
    assert r.returncode == 1 and "codes.lua:2: boom" in r.stderr
    r = cli(bin_dir, "run", s, "--function", "spin", "--instructions", "1000000")
    assert r.returncode == 3 and "cordon: udf: limit exceeded: instructions" in r.stderr
    r = cli(bin_dir, "run", s, "--function", "ok", "--input", "-", input_text="[1]\n{bad\n")
    assert r.returncode == 2 and "input line 2" in r.stderr


def test_resource_and_aggregate(bin_dir, container, tmp_path):
    data = tmp_path / "stop.txt"
    data.write_text("the a an\n")
    s = tmp_path / "res.lua"
    s.write_text("return { f = function(w) local stop = resource.read('stop.txt')\n"
                 "  return stop:find(w, 1, true) ~= nil end }\n")
    r = cli(bin_dir, "run", s, "--function", "f", "--resource", f"stop.txt={data}", "--input", "-",
            input_text='["an"]\n["cat"]\n')
    assert r.returncode == 0 and r.stdout.split() == ["true", "false"]
    lines = "".join(json.dumps([v]) + "\n" for v in (1, 2, 3, 4, 5))
    r = cli(bin_dir, "run", UDFS / "agg.lua", "--function", "median", "--input", "-",
            input_text=lines)
    assert r.returncode == 0 and json.loads(r.stdout) == 3


def test_inner_and_outer_walls_agree(bin_dir, container):
    """The same library call gives the same answer inside and outside the container."""
    lines = [["x@y.z"], [None]]
    assert outputs(run_udf(bin_dir, UDFS / "mask.lua", "mask_email", lines, via="cli")) == \
        outputs(run_udf(bin_dir, UDFS / "mask.lua", "mask_email", lines, via="node"))


def test_container_ends_the_node_exit_4(bin_dir, container, tmp_path):
    """The outer wall holds where the inner limits were set loosely: with a
    4G output limit the node's print buffer outgrows the container's memory
    (sized from --memory), the container ends it, and the CLI says why."""
    s = tmp_path / "flood.lua"
    s.write_text("return { f = function() local line = string.rep('x', 1 << 20)\n"
                 "  for i = 1, 2000 do print(line) end return 'survived' end }\n")
    r = cli(bin_dir, "run", s, "--function", "f", "--memory", "4M", "--output-bytes", "4G")
    assert r.returncode == 4, r.stderr[-500:]
    assert "cordon: udf: the container ended the node: memory" in r.stderr
    assert "survived" not in r.stdout


def test_input_is_streamed(bin_dir, container):
    """A long input does not have to fit in the node: it is streamed."""
    lines = "".join('["u%d@x.y"]\n' % i for i in range(200000))
    r = cli(bin_dir, "run", UDFS / "mask.lua", "--function", "mask_email", "--input", "-",
            input_text=lines)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert len(out) == 200000 and out[-1] == '"u' + '*' * 6 + '@x.y"'
