"""How the UDF tests run a UDF: through `cordon udf run` (the container, as
a job node runs it) when this build has containers, else through
cordon-node directly with the same fds (the Lua sandbox alone)."""
import functools
import json
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
UDFS = ROOT / "udfs"


@functools.lru_cache(maxsize=None)
def containers_available(bin_dir):
    r = subprocess.run([str(bin_dir / "cordon"), "udf", "run", str(UDFS / "mask.lua"),
                        "--function", "mask_email"], capture_output=True, text=True, timeout=60)
    return not (r.returncode == 4 and "not available" in r.stderr)


def run_udf(bin_dir, script, function, lines=None, extra=(), via=None, timeout=60):
    """Runs FUNCTION of SCRIPT over LINES (lists of arguments, or None for one
    call without input). via: "cli", "node" or None (cli when available)."""
    text = None if lines is None else "".join(json.dumps(l) + "\n" for l in lines)
    if via is None:
        via = "cli" if containers_available(bin_dir) else "node"
    if via == "cli":
        args = [str(bin_dir / "cordon"), "udf", "run", str(script), "--function", function]
        if text is not None:
            args += ["--input", "-"]
        return subprocess.run(args + list(extra), input=text or "", capture_output=True,
                              text=True, timeout=timeout)
    with open(script, "rb") as sf, tempfile.TemporaryFile() as inp:
        args = [str(bin_dir / "cordon-node"), "udf", "--script-fd", str(sf.fileno()),
                "--script-name", pathlib.Path(script).name, "--function", function]
        fds = [sf.fileno()]
        if text is not None:
            inp.write(text.encode())
            inp.seek(0)
            args += ["--input-fd", str(inp.fileno())]
            fds.append(inp.fileno())
        return subprocess.run(args + list(extra), pass_fds=fds, capture_output=True, text=True,
                              timeout=timeout)


def outputs(r):
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr}"
    return [json.loads(l) for l in r.stdout.splitlines()]
