"""Drives `cordon-node stage --plan-fd N` with real fds: inputs, scripts and
resources are files (or pipes) whose fd numbers go into the plan, the sink
is a file read back after the node exits."""
import json
import os
import subprocess
import tempfile

import rowfmt

STATS_LUA = r"""
local M = {}
function M.mask_email(s)
  if s == nil then return nil end
  local user, host = s:match("^([^@]*)@(.+)$")
  if not user then return s end
  return user:sub(1, 1) .. string.rep("*", #user - 1) .. "@" .. host
end
M.geomean = {
  signature = "double->double",
  new_buffer = function() return { n = 0, s = 0.0 } end,
  iterate = function(b, x) if x and x > 0 then b.n = b.n + 1; b.s = b.s + math.log(x) end end,
  merge = function(b, o) b.n = b.n + o.n; b.s = b.s + o.s end,
  terminate = function(b) if b.n == 0 then return nil end return math.exp(b.s / b.n) end,
}
M.words = {
  signature = "string->string",
  process = function(ctx, s) for w in (s or ""):gmatch("%S+") do ctx.forward(w) end end,
}
M.pairs2 = {
  process = function(ctx, n) for i = 1, n do ctx.forward(i, i * i) end end,
}
function M.boom(x)
  if x == 13 then error("unlucky " .. x) end
  return x
end
function M.spin(x)
  while true do end
end
function M.greet(x)
  return resource.read("greeting.txt") .. x
end
return M
"""


class Result:
    def __init__(self, proc, sink):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.cols, self.rows, self.ended = (None, [], False)
        if sink is not None:
            self.cols, self.rows, self.ended = rowfmt.decode_stream(sink)
        lines = [l for l in self.stdout.splitlines() if l.strip()]
        self.summary = json.loads(lines[-1]) if lines else None


def stage_plan(sql, inputs, out_cols, functions=(), transform=None, job="j-test",
               stage="map", stage_index=0, node_index=0, node_count=1, limits=None):
    plan = {
        "version": 1, "job": job, "stage": stage, "stage_index": stage_index,
        "node_index": node_index, "node_count": node_count,
        "inputs": [{"table": t, "columns": [{"name": n, "type": ty} for n, ty in cols],
                    "source": src} for t, cols, src in inputs],
        "functions": list(functions),
        "sql": sql, "transform": transform,
        "output": {"columns": [{"name": n, "type": ty} for n, ty in out_cols]},
    }
    if limits:
        plan["limits"] = limits
    return plan


def run_stage(bin_dir, plan, inputs=None, scripts=None, resources=None, sink="fd",
              timeout=60, plan_text=None, wait=True):
    """inputs: {table: bytes} for inputs whose source is {"fd": None};
    scripts/resources: {name: text}. sink "fd" collects into a file.
    Returns a Result (or the Popen and the sink path when wait is False)."""
    inputs, scripts, resources = inputs or {}, scripts or {}, resources or {}
    tmp = tempfile.TemporaryDirectory()
    fds = []

    def file_fd(name, data):
        path = os.path.join(tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        fd = os.open(path, os.O_RDONLY)
        fds.append(fd)
        return fd

    for inp in plan.get("inputs", []):
        if "fd" in inp["source"] and inp["source"]["fd"] is None:
            inp["source"]["fd"] = file_fd("in-" + inp["table"], inputs[inp["table"]])
    plan["scripts"] = [{"name": n, "fd": file_fd("s-" + n, t.encode())}
                       for n, t in scripts.items()]
    plan["resources"] = [{"name": n, "fd": file_fd("r-" + n, t.encode())}
                         for n, t in resources.items()]
    sink_path = os.path.join(tmp.name, "sink")
    if sink == "fd":
        sfd = os.open(sink_path, os.O_WRONLY | os.O_CREAT, 0o600)
        fds.append(sfd)
        plan["output"]["sink"] = {"fd": sfd}
    text = plan_text if plan_text is not None else json.dumps(plan)
    pfd = file_fd("plan.json", text.encode())
    proc = subprocess.Popen([str(bin_dir / "cordon-node"), "stage", "--plan-fd", str(pfd)],
                            pass_fds=fds, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for fd in fds:
        os.close(fd)
    if not wait:
        return proc, sink_path, tmp
    out, err = proc.communicate(timeout=timeout)
    proc.stdout, proc.stderr = out, err
    data = open(sink_path, "rb").read() if sink == "fd" else None
    tmp.cleanup()
    return Result(proc, data)


def finish(proc, sink_path, tmp, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    proc.stdout, proc.stderr = out, err
    data = open(sink_path, "rb").read() if os.path.exists(sink_path) else None
    tmp.cleanup()
    return Result(proc, data)
