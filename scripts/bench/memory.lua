-- scripts/bench/memory.lua: peak resident memory of `lunet scripts/digits.lua` and of
-- `lunet scripts/fashion_mlp.lua 1` (one epoch), next to their Python peers and, for Fashion-MNIST,
-- the float32 size of the training set (60000×784×4 bytes) as the yardstick.
--
--   lunet scripts/bench/memory.lua [--quick]
--
-- Peak RSS comes from GNU time's %M when /usr/bin/time exists, else from VmHWM in /proc/<pid>/status
-- read by a shell wrapper just before the process exits (polled, so it can miss a last peak).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local B = require "common"
local lunet = require "lunet"

B.header("memory")
local have_time = os.execute("test -x /usr/bin/time") == true

-- peak RSS in bytes of `cmd` (a shell command line)
local function peak_rss(cmd)
  local probe
  if have_time then
    probe = ("/usr/bin/time -f 'MAXRSS %%M' %s 2>&1 >/dev/null | tail -1"):format(cmd)
  else
    probe = ("%s >/dev/null 2>&1 & p=$!; m=0; while kill -0 $p 2>/dev/null; do "
             .. "v=$(awk '/VmHWM/ {print $2}' /proc/$p/status 2>/dev/null); "
             .. "[ -n \"$v\" ] && m=$v; sleep 0.02; done; echo MAXRSS $m"):format(cmd)
  end
  local p = assert(io.popen(probe))
  local out = p:read("a")
  p:close()
  local kb = tonumber(out:match("MAXRSS (%d+)"))
  assert(kb, "could not read the peak RSS of " .. cmd .. ":\n" .. out)
  return kb * 1024
end

local function mb(bytes) return ("%.1f MB"):format(bytes / 1e6) end
print(have_time and "peak RSS from /usr/bin/time -f %M" or "peak RSS from /proc/<pid>/status VmHWM")

local tmp = os.tmpname()
local L = B.shell_quote(B.lunet)
local digits = peak_rss(("%s %s %s"):format(L, B.shell_quote(B.root .. "/scripts/digits.lua"),
                                            B.shell_quote(tmp .. ".svg")))
print("lunet scripts/digits.lua: " .. mb(digits))
if B.has_python("sklearn.neural_network") then
  local py = peak_rss(("%s %s %s"):format(B.python, B.shell_quote(B.dir .. "/digits.py"),
                                          B.shell_quote(tmp .. ".py.svg")))
  print("python3 scripts/bench/digits.py: " .. mb(py))
  B.emit("peak RSS digits script", mb(digits), "python " .. mb(py),
         ("%.2f× less"):format(py / digits), "<= 50 MB")
else
  B.skip("peak RSS digits script", "sklearn.neural_network", "python3-sklearn", mb(digits))
end
os.remove(tmp); os.remove(tmp .. ".svg"); os.remove(tmp .. ".py.svg")

local train_bytes = 60000 * 784 * 4
local ok = pcall(lunet.data.load_fashion_mnist, "train")
if not ok then
  print("SKIP fashion_mlp memory: dataset-fashion-mnist not installed")
  B.emit("peak RSS fashion 1 epoch", nil, nil, nil, "skipped: dataset-fashion-mnist not installed")
  return
end
local fashion = peak_rss(("%s %s 1"):format(L, B.shell_quote(B.root .. "/scripts/fashion_mlp.lua")))
print(("lunet scripts/fashion_mlp.lua 1: %s = %.2f× the float32 train set (%s; the script also "
       .. "loads the 10000-row test set, %s)"):format(mb(fashion), fashion / train_bytes,
       mb(train_bytes), mb(10000 * 784 * 4)))
local peer = "skipped: python3-torch not installed"
if B.has_python("torch") then
  local py = peak_rss(("%s %s 1 1"):format(B.python, B.shell_quote(B.dir .. "/fashion_mlp.py")))
  print(("python3 fashion_mlp.py (PyTorch, one epoch, train set only): %s = %.2f× the train set"):format(
    mb(py), py / train_bytes))
  peer = ("torch %s (%.2f×)"):format(mb(py), py / train_bytes)
else
  print("SKIP peak RSS fashion vs torch: python3-torch not installed")
end
B.emit("peak RSS fashion 1 epoch", ("%s (%.2f× train set)"):format(mb(fashion), fashion / train_bytes),
       peer, "-", "<= 2× train set")
