--[[
Runs the SDK's tests: cd lua && lua5.4 tests/run.lua (or lua5.1, luajit, ...).

Why it exists: the SDK must work on every Lua a game may embed, and this
runner needs nothing but the interpreter. Each test file returns a table of
named test functions; a test fails when it raises an error. The last line is
"N passed, M failed"; the exit status is 1 when anything failed.
]]

package.path = "./?.lua;./?/init.lua;" .. package.path

local test_files = {
  "tests/test_json.lua", "tests/test_core.lua", "tests/test_mailbox.lua",
  "tests/test_lockstep.lua", "tests/test_fifo.lua",
}

local passed, failed = 0, 0

local function fail(where, message)
  failed = failed + 1
  print("FAIL " .. where .. ": " .. tostring(message))
end

for _, path in ipairs(test_files) do
  local chunk, load_error = loadfile(path)
  local ok, tests = false, load_error
  if chunk then ok, tests = pcall(chunk) end
  if not ok or type(tests) ~= "table" then
    fail(path, tests)
  else
    local names = {}
    for name in pairs(tests) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local test_ok, err = pcall(tests[name])
      if test_ok then passed = passed + 1 else fail(path .. " " .. name, err) end
    end
  end
end

print(passed .. " passed, " .. failed .. " failed")
if failed > 0 then os.exit(1) end
