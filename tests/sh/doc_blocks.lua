-- doc_blocks.lua FILE... — runs every ```lua block of the given Markdown files, in order, in this
-- one Lua state (the runner's, with the globals `lunet` and `help`), as if typed into the REPL:
-- globals carry from block to block, locals do not. Each block is its own chunk named
-- "FILE:LINE", so an error points at the document's line. A block opened with ```lua no-test
-- is skipped (for code that needs what CI does not have; keep them rare). Prints
-- "doc_blocks: N run, M skipped"; exits 1 at the first failing block, 2 if no block ran.
-- ```c blocks are listed to stdout as "C FILE LINE" for tests/sh/docs.sh to compile.
lunet = lunet or require "lunet"                  -- the REPL's globals
help = help or require("lunet.help").help
local run, skipped = 0, 0
for _, path in ipairs(arg) do
  local f = assert(io.open(path, "rb"))
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line end
  f:close()
  local i = 1
  while i <= #lines do
    local info = lines[i]:match("^```(%S.*)$")
    if info then
      local start, body = i, {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do
        body[#body + 1] = lines[i]
        i = i + 1
      end
      local lang, flags = info:match("^(%S+)%s*(.*)$")
      if lang == "lua" and flags:find("no-test", 1, true) then
        skipped = skipped + 1
      elseif lang == "lua" then
        local name = path:match("(docs/[^/]+)$") or path:match("([^/]+)$")
        local chunk, err = load(table.concat(body, "\n"), "=" .. name .. ":" .. (start + 1))
        if not chunk then
          io.stderr:write("doc_blocks: ", err, "\n")
          os.exit(1)
        end
        local ok, msg = xpcall(chunk, debug.traceback)
        if not ok then
          io.stderr:write("doc_blocks: the block at ", path, ":", start, " failed:\n", msg, "\n")
          os.exit(1)
        end
        run = run + 1
      elseif lang == "c" then
        print("C " .. path .. " " .. start)
      end
    end
    i = i + 1
  end
end
print(("doc_blocks: %d run, %d skipped"):format(run, skipped))
if run == 0 then os.exit(2) end
