--[[
Assertions shared by the test files.

Why it exists: the SDK must be testable on every Lua version with nothing
installed, so the tests use these few checks instead of a test framework.
Each check raises an error pointing at the line of the test that failed.
]]

local json = require("gamebridge.json")

local check = {}

-- A readable form of any value for failure messages.
local function describe(value)
  if type(value) == "string" then return string.format("%q", value) end
  local ok, text = pcall(json.encode, value)
  if ok then return text end
  return tostring(value)
end
check.describe = describe

local function deep_equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for key, value in pairs(a) do
    if not deep_equal(value, b[key]) then return false end
  end
  for key in pairs(b) do
    if a[key] == nil then return false end
  end
  return true
end
check.deep_equal = deep_equal

function check.equal(actual, expected, label)
  if not deep_equal(actual, expected) then
    error((label and (label .. ": ") or "") .. "expected " .. describe(expected) .. ", got " .. describe(actual), 2)
  end
end

function check.is_true(value, label)
  if not value then error((label or "expected a true value") .. " (got " .. describe(value) .. ")", 2) end
end

function check.is_nil(value, label)
  if value ~= nil then error((label or "expected nil") .. " (got " .. describe(value) .. ")", 2) end
end

-- fn must raise an error whose message contains the plain text `fragment`.
function check.raises(fn, fragment, label)
  local ok, err = pcall(fn)
  if ok then error((label or "expected an error") .. ", but none was raised", 2) end
  if fragment and not string.find(tostring(err), fragment, 1, true) then
    error((label or "error") .. ": expected a message containing " .. describe(fragment) .. ", got " .. describe(tostring(err)), 2)
  end
end

-- json.decode must fail, with a message that gives a position.
function check.decode_fails(text, label)
  local value, err = json.decode(text)
  if value ~= nil then
    error((label or describe(text)) .. ": expected a decode error, got " .. describe(value), 2)
  end
  if type(err) ~= "string" or not string.find(err, "position %d+") then
    error((label or describe(text)) .. ": the error should give a position, got " .. describe(err), 2)
  end
  return err
end

return check
