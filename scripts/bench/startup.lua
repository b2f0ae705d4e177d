-- scripts/bench/startup.lua: time to a usable library — `lunet -e 'require "lunet"'` against
-- `python3 -c 'import torch'` and `python3 -c 'import sklearn.neural_network'`.
-- Uses hyperfine (no shell, warm-up runs) when installed, else times the runs itself.
--
--   lunet scripts/bench/startup.lua [--quick]
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"

B.header("startup")
local REPS = B.reps(10, 3)
local have_hyperfine = os.execute("command -v hyperfine >/dev/null 2>&1") == true

-- seconds per run of `cmd`: an array of samples, or {min, median} from hyperfine's summary
local function measure(cmd)
  if not have_hyperfine then return B.time_command(cmd, REPS) end
  local csv = os.tmpname()
  local ok = os.execute(("hyperfine -N --style none --warmup 2 -r %d --export-csv %s %s >/dev/null 2>&1"):format(
    REPS, B.shell_quote(csv), B.shell_quote(cmd)))
  local f = io.open(csv)
  local text = f and f:read("a") or ""
  if f then f:close() end
  os.remove(csv)
  assert(ok, "hyperfine failed on " .. cmd)
  -- command,mean,stddev,median,user,system,min,max; the command is quoted and may hold commas
  local median, mn = text:match("\n.*,[^,]+,[^,]+,([^,]+),[^,]+,[^,]+,([^,]+),[^,]+%s*$")
  return {tonumber(mn), tonumber(median)}   -- B.stats of two values: min, then their mean
end

-- B.stats on {min, median} gives min and the mean of the two: keep hyperfine's median instead
local function summary(xs)
  if have_hyperfine then return xs end
  return {B.stats(xs)}
end

print(have_hyperfine and "timing with hyperfine -N" or "hyperfine not installed: timing runs with os.execute")
local lunet_s = summary(measure(B.shell_quote(B.lunet) .. [[ -e 'require "lunet"']]))
print(("lunet -e 'require \"lunet\"': min %s / med %s"):format(B.fmt_time(lunet_s[1]),
                                                            B.fmt_time(lunet_s[2])))

local function peer(name, mod, pkg)
  if not B.has_python(mod) then return B.skip("startup vs " .. name, mod, pkg, B.fmt_time(lunet_s[1])) end
  local p = summary(measure(("%s -c 'import %s'"):format(B.python, mod)))
  print(("python3 -c 'import %s': min %s / med %s"):format(mod, B.fmt_time(p[1]), B.fmt_time(p[2])))
  B.emit("startup vs " .. name, B.fmt_time(lunet_s[1]), ("%s %s"):format(name, B.fmt_time(p[1])),
         B.fmt_ratio(p[1] / lunet_s[1], p[2] / lunet_s[2]), "Lunet <= 20 ms")
end
peer("import torch", "torch", "python3-torch")
peer("import sklearn", "sklearn.neural_network", "python3-sklearn")
