--[[
Tests of gamebridge.json: exact output for the cases the bridge depends on,
round trips of awkward values, and errors (not exceptions) for bad input.
]]

local json = require("gamebridge.json")
local check = require("tests.helpers")

local tests = {}

local GRINNING_FACE = "\240\159\152\128" -- U+1F600, outside the BMP
local G_CLEF = "\240\157\132\158"        -- U+1D11E
local EURO = "\226\130\172"              -- U+20AC
local E_ACUTE = "\195\169"               -- U+00E9
local REPLACEMENT = "\239\191\189"       -- U+FFFD

function tests.string_escapes_on_encode()
  check.equal(json.encode('say "hi"'), '"say \\"hi\\""')
  check.equal(json.encode("back\\slash"), '"back\\\\slash"')
  check.equal(json.encode("a/b"), '"a/b"', "slash needs no escape")
  check.equal(json.encode("\n\t\r\b\f"), '"\\n\\t\\r\\b\\f"')
  check.equal(json.encode("\0\1\31\127"), '"\\u0000\\u0001\\u001f\\u007f"')
  check.equal(json.encode(E_ACUTE .. EURO .. GRINNING_FACE), '"' .. E_ACUTE .. EURO .. GRINNING_FACE .. '"',
    "valid UTF-8 is written as is")
end

function tests.string_escapes_on_decode()
  check.equal(json.decode('"\\/"'), "/")
  check.equal(json.decode('"\\"\\\\\\b\\f\\n\\r\\t"'), '"\\\b\f\n\r\t')
  check.equal(json.decode('"\\u0041\\u00e9\\u20AC"'), "A" .. E_ACUTE .. EURO)
  check.equal(json.decode('"\\u0000"'), "\0")
  check.equal(json.decode('"\\ud83d\\ude00"'), GRINNING_FACE, "surrogate pair")
  check.equal(json.decode('"\\uD834\\uDD1E"'), G_CLEF, "upper-case surrogate pair")
  check.equal(json.decode('"x\\ud83d\\ude00y"'), "x" .. GRINNING_FACE .. "y")
end

function tests.tricky_strings_round_trip()
  local samples = {
    "", "plain", 'quote " inside', "back\\slash", "trailing\\", "/slash/", "\\u0041 literally",
    "line\nbreak\r\n", "\0nul and \1\2\31 controls\127", E_ACUTE .. EURO, GRINNING_FACE .. G_CLEF,
    string.rep("long ", 1000),
  }
  for _, sample in ipairs(samples) do
    check.equal(json.decode(json.encode(sample)), sample, "round trip of " .. check.describe(sample))
  end
end

function tests.invalid_utf8_is_replaced_on_encode()
  check.equal(json.encode("a\255b"), '"a' .. REPLACEMENT .. 'b"')
  check.equal(json.encode("\192\175"), '"' .. REPLACEMENT .. REPLACEMENT .. '"', "overlong form")
  check.equal(json.encode("\237\160\128"), '"' .. string.rep(REPLACEMENT, 3) .. '"', "encoded surrogate")
  check.equal(json.encode("cut " .. string.sub(EURO, 1, 2)), '"cut ' .. REPLACEMENT .. REPLACEMENT .. '"')
end

function tests.lone_surrogates_are_errors()
  local err = check.decode_fails('"\\ud800"')
  check.is_true(string.find(err, "surrogate", 1, true), "message names the surrogate: " .. err)
  check.decode_fails('"\\udc00"')
  check.decode_fails('"\\ud800\\u0041"')
  check.decode_fails('"\\ud800x"')
  check.decode_fails('"\\ud800\\ud800"')
end

function tests.integers_encode_without_decimal_point()
  check.equal(json.encode(0), "0")
  check.equal(json.encode(-0.0), "0")
  check.equal(json.encode(-1), "-1")
  check.equal(json.encode(3.0), "3")
  check.equal(json.encode(2 ^ 53), "9007199254740992")
  check.equal(json.encode(-(2 ^ 53)), "-9007199254740992")
  check.equal(json.encode(1700000000123), "1700000000123")
end

function tests.floats_round_trip()
  check.equal(json.encode(1.5), "1.5")
  check.equal(json.encode(0.1), "0.1")
  check.equal(json.decode(json.encode(1e-7)), 1e-7)
  local samples = { 1.5, -2.25, 0.1, 1 / 3, 1e-7, 1e300, -1e-300, 123456789.123, math.pi, 2 ^ 53 + 2, 2 ^ 60, 1.7976931348623157e308 }
  for _, sample in ipairs(samples) do
    local text = json.encode(sample)
    check.equal(json.decode(text), sample, "round trip of " .. text)
    check.is_true(not string.find(text, ","), "no locale comma in " .. text)
  end
end

-- Runs only where a comma-decimal locale is installed (e.g. de_DE.UTF-8).
function tests.numbers_ignore_a_comma_decimal_locale()
  local original = os.setlocale(nil, "numeric")
  local switched = os.setlocale("de_DE.UTF-8", "numeric") or os.setlocale("fr_FR.UTF-8", "numeric")
  if not switched then return end
  local ok, err = pcall(function()
    check.equal(json.encode(1.5), "1.5")
    check.equal(json.encode({ 0.1, -2.25e-8 }), "[0.1,-2.25e-08]")
    check.equal(json.decode("[1.5,2e-3]"), { 1.5, 0.002 })
    check.equal(json.decode(json.encode(1 / 3)), 1 / 3)
  end)
  os.setlocale(original, "numeric")
  assert(ok, err)
end

function tests.nan_and_infinity_are_refused()
  check.raises(function() json.encode(0 / 0) end, "NaN")
  check.raises(function() json.encode(math.huge) end, "infinity")
  check.raises(function() json.encode(-math.huge) end, "infinity")
  check.raises(function() json.encode({ a = { 1, 0 / 0 } }) end, "$.a[2]", "the error says where")
end

function tests.numbers_decode()
  check.equal(json.decode("0"), 0)
  check.equal(json.decode("-0"), 0)
  check.equal(json.decode("42"), 42)
  check.equal(json.decode("-1.5e-3"), -0.0015)
  check.equal(json.decode("1E+2"), 100)
  check.equal(json.decode("9007199254740992"), 2 ^ 53)
  for _, bad in ipairs({ "01", "1.", ".5", "-", "1e", "+1", "1e999", "0x10", "- 1" }) do
    check.decode_fails(bad)
  end
end

function tests.nested_structures_round_trip()
  local value = {
    name = "caravan",
    route = { { x = 1, y = 2 }, { x = 3, y = 4.5 } },
    flags = { true, false, json.null },
    nested = { deeper = { deepest = { "end" } } },
    [E_ACUTE] = "unicode key",
  }
  check.equal(json.decode(json.encode(value)), value)
end

function tests.keys_are_sorted()
  check.equal(json.encode({ b = 1, a = { 2, 3 }, c = { x = json.null } }), '{"a":[2,3],"b":1,"c":{"x":null}}')
end

function tests.empty_array_and_object_are_preserved()
  check.equal(json.encode(json.decode("[]")), "[]")
  check.equal(json.encode(json.decode("{}")), "{}")
  local text = '{"list":[],"map":{},"rows":[[],{}]}'
  check.equal(json.encode(json.decode(text)), text)
end

function tests.marking_arrays_and_objects()
  check.equal(json.encode({}), "{}", "an unmarked empty table is an object")
  check.equal(json.encode(json.array()), "[]")
  check.equal(json.encode(json.array({})), "[]")
  check.equal(json.encode(json.object({ 1, 2 })), '{"1":1,"2":2}')
  check.equal(json.encode(json.array({ [1] = "a", [3] = "c" })), '["a",null,"c"]', "holes become null")
  check.raises(function() json.encode(json.array({ 1, x = 2 })) end, "not an index")
  local with_own_metatable = setmetatable({}, { __index = {} })
  local own = getmetatable(with_own_metatable)
  json.array(with_own_metatable)
  check.equal(json.encode(with_own_metatable), "[]")
  check.is_true(getmetatable(with_own_metatable) == own, "its own metatable is kept")
  local decoded = json.decode("[]")
  json.object(decoded)
  check.equal(json.encode(decoded), "{}", "a decoded table can be re-marked")
end

function tests.unmarked_tables_choose_array_or_object()
  check.equal(json.encode({ 1, 2, 3 }), "[1,2,3]")
  check.equal(json.encode({ [1] = "a", [3] = "c" }), '{"1":"a","3":"c"}', "sparse")
  check.equal(json.encode({ 1, 2, x = 3 }), '{"1":1,"2":2,"x":3}', "mixed")
  check.equal(json.encode({ [1.5] = true }), '{"1.5":true}')
  check.raises(function() json.encode({ [true] = 1 }) end, "boolean")
  check.raises(function() json.encode({ [1] = "a", ["1"] = "b" }) end, "both written")
end

function tests.is_array_follows_the_encoder()
  local is_array, length = json.is_array({ 1, 2 })
  check.equal({ is_array, length }, { true, 2 })
  check.equal(json.is_array({}), false)
  check.equal({ json.is_array(json.array()) }, { true, 0 })
  check.equal({ json.is_array(json.decode("[null,null]")) }, { true, 2 })
  check.equal(json.is_array(json.decode('{"1":1}')), false)
  check.equal(json.is_array(json.null), false)
end

function tests.null_sentinel()
  check.is_true(json.decode("null") == json.null, "top-level null")
  local list = json.decode("[1,null,3]")
  check.equal(#list, 3)
  check.is_true(list[2] == json.null, "null in an array")
  local object = json.decode('{"a":null}')
  check.is_true(object.a == json.null, "null in an object keeps the key")
  check.equal(json.encode(json.null), "null")
  check.equal(json.encode(nil), "null")
  check.equal(json.encode({ json.null, 1 }), "[null,1]")
  check.equal(tostring(json.null), "null")
  check.raises(function() json.null.x = 1 end, "constant")
end

function tests.literals_and_whitespace()
  check.equal(json.decode(" \n\t{ \"a\" : [ true , false ] } \r\n"), { a = { true, false } })
  check.equal(json.decode('{"a":1,"a":2}'), { a = 2 }, "the last duplicate key wins")
end

function tests.invalid_inputs_return_nil_and_a_message()
  local bad_inputs = {
    "", "   ", "[1,2", "[1,]", "[1 2]", '{"a":1,}', '{"a" 1}', "{a:1}", '{"a":}', '"abc',
    '"\\x"', '"\\u12"', '"\\u12G4"', '"a\nb"', "[1] x", "{}}", "tru", "nul", "falsey",
    "\239\187\191{}", "[", "{", '"\\', "NaN", "Infinity", "'single'",
  }
  for _, text in ipairs(bad_inputs) do
    check.decode_fails(text)
  end
  local err = check.decode_fails("[1,]")
  check.is_true(string.find(err, "position 4", 1, true), "position of the problem: " .. err)
  err = check.decode_fails('{\n  "a": x}')
  check.is_true(string.find(err, "line 2", 1, true), "line of the problem: " .. err)
  local value, message = json.decode(nil)
  check.is_nil(value)
  check.is_true(type(message) == "string", "non-string input gives a message")
  check.is_nil((json.decode(5)))
end

function tests.deep_nesting_is_an_error_not_a_crash()
  check.decode_fails(string.rep("[", 100000))
  check.decode_fails(string.rep("[", 100000) .. string.rep("]", 100000))
  local shallow = string.rep("[", 50) .. string.rep("]", 50)
  check.equal(json.encode(json.decode(shallow)), shallow)
end

function tests.unencodable_values_raise()
  local cycle = {}
  cycle.self = cycle
  check.raises(function() json.encode(cycle) end, "contains itself")
  local shared = { 1 }
  check.equal(json.encode({ a = shared, b = shared }), '{"a":[1],"b":[1]}', "a shared table is not a cycle")
  check.raises(function() json.encode({ callback = print }) end, "$.callback")
  check.raises(function() json.encode(coroutine.create(function() end)) end, "thread")
end

return tests
