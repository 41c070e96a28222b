-- expect: exit=0 stdout=""
-- Walks the globals and library tables (pairs, rawget, indexing) and reports
-- any dangerous name found: the expected answer is none.
return { run = function()
  local bad = {
    [""] = { "io", "package", "require", "debug", "dofile", "loadfile", "loadstring",
             "getfenv", "setfenv", "newproxy", "module", "warn", "net", "os_execute" },
    os = { "execute", "getenv", "exit", "remove", "rename", "tmpname", "setlocale" },
    string = { "dump" },
    coroutine = {}, math = {}, table = {}, utf8 = {},
  }
  local found = {}
  for lib, names in pairs(bad) do
    local t = lib == "" and _G or _G[lib]
    local seen = {}
    for k in pairs(t) do seen[k] = true end
    for _, b in ipairs(names) do
      if seen[b] or rawget(t, b) ~= nil or t[b] ~= nil then
        found[#found + 1] = lib .. "." .. b
      end
    end
  end
  return table.concat(found, ",")
end }
