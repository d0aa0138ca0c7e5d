--[[
gamebridge.json: the JSON codec of the gamebridge Lua SDK.

Why it exists: the bridge speaks JSON, and game Lua sandboxes ship no JSON
library. This one is plain Lua that runs unchanged on Lua 5.1 to 5.4 and
LuaJIT.

    local json = require("gamebridge.json")
    local text = json.encode({ unit = 5, path = json.array() })
    local value, err = json.decode(text)    -- err: "... at position N (line L, column C)"

json.encode(value) returns a string. It raises an error (naming where in the
value) for what JSON cannot hold: functions, NaN, infinities, tables that
contain themselves. json.decode(text) never raises: on bad input it returns
nil and a message.

JSON null
  json.null stands for null. json.decode returns json.null wherever the text
  says null: in arrays (so they keep their length), in objects (so the key is
  kept) and at top level. json.encode writes json.null, and a top-level nil,
  as null.

Empty tables: [] or {}? HOW TO FORCE AN ARRAY
  A Lua table does not say whether it is an array or an object, so:
  - json.array(t) marks t as an array; json.array() is a new empty array.
    An empty table is only encoded as [] when it is marked this way.
  - json.object(t) marks t as an object, even when its keys are 1..n.
  - Tables made by json.decode are marked, so decoding then encoding gives
    [] back as [] and {} back as {}.
  - An unmarked table whose keys are exactly 1..n (no holes) is an array.
  - An unmarked EMPTY table is an object: {}.
  - Any other unmarked table is an object; number keys become strings.
  A mark is a metatable. A table that already has a metatable of its own
  keeps it; its mark is then remembered in a weak table instead.
  In an array marked with json.array, holes (nil) are written as null.

Numbers
  Integral numbers within 2^53 are written without a decimal point or an
  exponent (3, not 3.0). Other numbers are written with the fewest digits
  (at most 17) that read back as the same number.

Strings
  Lua strings are bytes. encode expects UTF-8 and writes each byte that is
  not part of valid UTF-8 as U+FFFD, so the bridge's strict parser always
  accepts the result. Control characters are escaped. decode turns \uXXXX
  escapes, including surrogate pairs, into UTF-8; a lone surrogate is an
  error, as it is for the bridge.

Object keys are written in sorted order, so the output is deterministic.
]]

local json = {}

local byte, char, find, format, gsub, sub, match =
  string.byte, string.char, string.find, string.format, string.gsub, string.sub, string.match
local floor, huge = math.floor, math.huge
local math_type = math.type -- Lua 5.3+ only; nil elsewhere
local concat, sort = table.concat, table.sort
local type, pairs, next, tostring, tonumber = type, pairs, next, tostring, tonumber
local getmetatable, setmetatable, pcall, error = getmetatable, setmetatable, pcall, error

local MAX_EXACT_INTEGER = 9007199254740992 -- 2^53
local MAX_DEPTH = 500 -- deeper values are refused rather than risking a stack overflow

json.null = setmetatable({}, {
  __tostring = function() return "null" end,
  __newindex = function() error("json.null is a constant", 2) end,
})
local null = json.null

-- Marks -----------------------------------------------------------------

local array_mt = { __jsontype = "array" }
local object_mt = { __jsontype = "object" }
local kind_of_foreign = setmetatable({}, { __mode = "k" }) -- marks of tables with their own metatable

local function marked_kind(t)
  local mt = getmetatable(t)
  if mt == array_mt then return "array" end
  if mt == object_mt then return "object" end
  return kind_of_foreign[t]
end

local function mark(t, kind, mt)
  if t == nil then return setmetatable({}, mt) end
  if type(t) ~= "table" or t == null then
    error("json." .. kind .. " expects a table, got " .. type(t), 3)
  end
  local current = getmetatable(t)
  if current == nil or current == array_mt or current == object_mt then
    setmetatable(t, mt)
    kind_of_foreign[t] = nil
  else
    kind_of_foreign[t] = kind
  end
  return t
end

--- Marks t (or a new table) as a JSON array and returns it.
function json.array(t) return mark(t, "array", array_mt) end

--- Marks t (or a new table) as a JSON object and returns it.
function json.object(t) return mark(t, "object", object_mt) end

-- The length of t if its keys are exactly 1..n, else nil (0 for an empty table).
local function sequence_length(t)
  local count, largest = 0, 0
  for key in pairs(t) do
    if type(key) ~= "number" or key < 1 or key ~= floor(key) then return nil end
    count = count + 1
    if key > largest then largest = key end
  end
  if largest ~= count then return nil end
  return count
end

--- Whether value is encoded as a JSON array, and then its length.
-- Follows the encoder's rules: marked arrays, and unmarked non-empty 1..n tables.
function json.is_array(value)
  if type(value) ~= "table" or value == null then return false end
  local kind = marked_kind(value)
  if kind == "object" then return false end
  if kind == "array" then
    local largest = 0
    for key in pairs(value) do
      if type(key) == "number" and key > largest then largest = key end
    end
    return true, largest
  end
  local length = sequence_length(value)
  if length and length > 0 then return true, length end
  return false
end

-- Numbers ---------------------------------------------------------------

-- string.format and tonumber follow the C locale, and a game may have set one
-- whose decimal point is not "." (even after this file was loaded).
local function text_to_number(text)
  local number = tonumber(text)
  if number == nil then
    local point = match(tostring(0.5), "0(.+)5")
    if point and point ~= "." then number = tonumber((gsub(text, "%.", point))) end
  end
  return number
end

local function number_to_text(value)
  if value ~= value then return nil, "NaN" end
  if value == huge or value == -huge then return nil, "infinity" end
  if math_type and math_type(value) == "integer" then return tostring(value) end
  if value == 0 then return "0" end -- also -0
  if value == floor(value) and value >= -MAX_EXACT_INTEGER and value <= MAX_EXACT_INTEGER then
    return format("%.0f", value)
  end
  local text
  for digits = 15, 17 do
    text = format("%." .. digits .. "g", value)
    if text_to_number(text) == value then break end
  end
  if find(text, "[^%d%.eE+-]") then text = gsub(text, "[^%d%.eE+-]+", ".") end -- locale decimal point
  return text
end

-- Encoding --------------------------------------------------------------

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\127"] = "\\u007f",
}
for code = 0, 31 do
  local c = char(code)
  if not escapes[c] then escapes[c] = format("\\u%04x", code) end
end

local REPLACEMENT_CHARACTER = "\239\191\189" -- U+FFFD in UTF-8

-- Returns s with every byte that is not part of a valid UTF-8 sequence
-- replaced by U+FFFD (overlong forms, surrogates and > U+10FFFF are invalid).
local function valid_utf8(s)
  local parts, count = nil, 0
  local length, copied_up_to, i = #s, 0, 1
  while true do
    i = find(s, "[\128-\255]", i)
    if not i then break end
    local lead = byte(s, i)
    local size
    if lead >= 0xC2 and lead <= 0xDF then size = 2
    elseif lead >= 0xE0 and lead <= 0xEF then size = 3
    elseif lead >= 0xF0 and lead <= 0xF4 then size = 4 end
    local valid = size ~= nil and i + size - 1 <= length
    if valid then
      for j = i + 1, i + size - 1 do
        local b = byte(s, j)
        if b < 0x80 or b > 0xBF then valid = false; break end
      end
    end
    if valid then
      local second = byte(s, i + 1)
      if (lead == 0xE0 and second < 0xA0) or (lead == 0xED and second > 0x9F)
        or (lead == 0xF0 and second < 0x90) or (lead == 0xF4 and second > 0x8F) then
        valid = false
      end
    end
    if valid then
      i = i + size
    else
      parts = parts or {}
      parts[count + 1] = sub(s, copied_up_to + 1, i - 1)
      parts[count + 2] = REPLACEMENT_CHARACTER
      count = count + 2
      copied_up_to = i
      i = i + 1
    end
  end
  if not parts then return s end
  parts[count + 1] = sub(s, copied_up_to + 1)
  return concat(parts)
end

local function quote(s)
  if find(s, "[\128-\255]") then s = valid_utf8(s) end
  return '"' .. gsub(s, '[%z\1-\31"\\\127]', escapes) .. '"'
end

-- Describes where the encoder is, for error messages: $.units[2].name
local function path_text(path, depth)
  local parts = { "$" }
  for i = 1, depth do
    local key = path[i]
    if type(key) == "number" then parts[#parts + 1] = "[" .. tostring(key) .. "]"
    else parts[#parts + 1] = "." .. tostring(key) end
  end
  return concat(parts)
end

local encode_value

local function encode_failure(state, depth, message)
  error("json.encode: " .. message .. " at " .. path_text(state.path, depth), 0)
end

local function encode_array(t, length, buffer, state, depth)
  buffer[#buffer + 1] = "["
  for i = 1, length do
    if i > 1 then buffer[#buffer + 1] = "," end
    state.path[depth + 1] = i
    encode_value(t[i], buffer, state, depth + 1)
  end
  buffer[#buffer + 1] = "]"
end

local function encode_object(t, buffer, state, depth)
  local names, key_of_name = {}, {}
  for key in pairs(t) do
    local name
    local key_type = type(key)
    if key_type == "string" then
      name = key
    elseif key_type == "number" then
      local problem
      name, problem = number_to_text(key)
      if not name then encode_failure(state, depth, "cannot use " .. problem .. " as an object key") end
    else
      encode_failure(state, depth, "cannot use a " .. key_type .. " as an object key")
    end
    if key_of_name[name] ~= nil then
      encode_failure(state, depth, "two keys are both written as \"" .. name .. "\"")
    end
    key_of_name[name] = key
    names[#names + 1] = name
  end
  sort(names)
  buffer[#buffer + 1] = "{"
  for i = 1, #names do
    local name = names[i]
    if i > 1 then buffer[#buffer + 1] = "," end
    buffer[#buffer + 1] = quote(name) .. ":"
    state.path[depth + 1] = name
    encode_value(t[key_of_name[name]], buffer, state, depth + 1)
  end
  buffer[#buffer + 1] = "}"
end

encode_value = function(value, buffer, state, depth)
  local value_type = type(value)
  if value == nil or value == null then
    buffer[#buffer + 1] = "null"
  elseif value_type == "string" then
    buffer[#buffer + 1] = quote(value)
  elseif value_type == "number" then
    local text, problem = number_to_text(value)
    if not text then encode_failure(state, depth, "cannot encode " .. problem) end
    buffer[#buffer + 1] = text
  elseif value_type == "boolean" then
    buffer[#buffer + 1] = value and "true" or "false"
  elseif value_type == "table" then
    if state.visiting[value] then encode_failure(state, depth, "the table contains itself") end
    if depth >= MAX_DEPTH then encode_failure(state, depth, "nested deeper than " .. MAX_DEPTH) end
    state.visiting[value] = true
    local kind = marked_kind(value)
    if kind == "array" then
      local largest = 0
      for key in pairs(value) do
        if type(key) ~= "number" or key < 1 or key ~= floor(key) then
          state.path[depth + 1] = key
          encode_failure(state, depth + 1, "a table marked as array has a key that is not an index")
        end
        if key > largest then largest = key end
      end
      encode_array(value, largest, buffer, state, depth)
    elseif kind == "object" then
      encode_object(value, buffer, state, depth)
    else
      local length = sequence_length(value)
      if length and length > 0 then
        encode_array(value, length, buffer, state, depth)
      else
        encode_object(value, buffer, state, depth)
      end
    end
    state.visiting[value] = nil
  else
    encode_failure(state, depth, "cannot encode a " .. value_type)
  end
end

--- Encodes value as compact JSON. Raises an error for values JSON cannot hold.
function json.encode(value)
  local buffer = {}
  encode_value(value, buffer, { visiting = {}, path = {} }, 0)
  return concat(buffer)
end

-- Decoding --------------------------------------------------------------

local function decode_failure(text, position, message)
  local line, column = 1, position
  local before = sub(text, 1, position - 1)
  for newline in string.gmatch(before, "()\n") do
    line = line + 1
    column = position - newline
  end
  error(format("json.decode: %s at position %d (line %d, column %d)", message, position, line, column), 0)
end

local function skip_whitespace(text, position)
  return find(text, "[^ \t\r\n]", position) or #text + 1
end

local simple_unescapes = {
  [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n", [114] = "\r", [116] = "\t",
}

local function utf8_char(code)
  if code < 0x80 then return char(code) end
  if code < 0x800 then
    return char(0xC0 + floor(code / 0x40), 0x80 + code % 0x40)
  end
  if code < 0x10000 then
    return char(0xE0 + floor(code / 0x1000), 0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return char(0xF0 + floor(code / 0x40000), 0x80 + floor(code / 0x1000) % 0x40,
    0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

-- Reads the \uXXXX escape starting at the backslash at position, and a
-- second one when the first is a high surrogate. Returns UTF-8 and the next position.
local function decode_unicode_escape(text, position)
  local hex = match(text, "^%x%x%x%x", position + 2)
  if not hex then decode_failure(text, position, "invalid \\u escape") end
  local code = tonumber(hex, 16)
  if code >= 0xDC00 and code <= 0xDFFF then
    decode_failure(text, position, "lone low surrogate \\u" .. hex)
  end
  if code >= 0xD800 and code <= 0xDBFF then
    local low_hex = match(text, "^\\u(%x%x%x%x)", position + 6)
    local low = low_hex and tonumber(low_hex, 16)
    if not low or low < 0xDC00 or low > 0xDFFF then
      decode_failure(text, position, "lone high surrogate \\u" .. hex)
    end
    return utf8_char(0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)), position + 12
  end
  return utf8_char(code), position + 6
end

-- position is at the opening quote.
local function decode_string(text, position)
  local parts, count = nil, 0
  local i = position + 1
  while true do
    local j = find(text, '["\\%z\1-\31]', i)
    if not j then decode_failure(text, position, "unterminated string") end
    local c = byte(text, j)
    if c == 34 then
      if not parts then return sub(text, i, j - 1), j + 1 end
      parts[count + 1] = sub(text, i, j - 1)
      return concat(parts), j + 1
    elseif c == 92 then
      parts = parts or {}
      count = count + 1
      parts[count] = sub(text, i, j - 1)
      local escaped = byte(text, j + 1)
      count = count + 1
      if escaped == 117 then
        parts[count], i = decode_unicode_escape(text, j)
      else
        local unescaped = simple_unescapes[escaped]
        if not unescaped then
          if escaped == nil then decode_failure(text, position, "unterminated string") end
          decode_failure(text, j, "invalid escape \\" .. char(escaped))
        end
        parts[count] = unescaped
        i = j + 2
      end
    else
      decode_failure(text, j, "unescaped control character in string")
    end
  end
end

local function decode_number(text, position)
  local _, last = find(text, "^-?%d+", position)
  if not last then decode_failure(text, position, "invalid number") end
  local first_digit = byte(text, position) == 45 and position + 1 or position
  if byte(text, first_digit) == 48 and last > first_digit then
    decode_failure(text, position, "number with a leading zero")
  end
  local _, fraction_end = find(text, "^%.%d+", last + 1)
  if fraction_end then
    last = fraction_end
  elseif byte(text, last + 1) == 46 then
    decode_failure(text, last + 1, "digits expected after '.'")
  end
  local _, exponent_end = find(text, "^[eE][-+]?%d+", last + 1)
  if exponent_end then
    last = exponent_end
  elseif find(text, "^[eE]", last + 1) then
    decode_failure(text, last + 1, "digits expected in exponent")
  end
  local number = text_to_number(sub(text, position, last))
  if not number or number == huge or number == -huge then
    decode_failure(text, position, "number out of range")
  end
  return number, last + 1
end

local decode_value

local function decode_array(text, position, depth)
  local result, count = setmetatable({}, array_mt), 0
  position = skip_whitespace(text, position + 1)
  if byte(text, position) == 93 then return result, position + 1 end
  while true do
    local value
    value, position = decode_value(text, position, depth + 1)
    count = count + 1
    result[count] = value
    position = skip_whitespace(text, position)
    local c = byte(text, position)
    if c == 93 then return result, position + 1 end
    if c ~= 44 then decode_failure(text, position, "expected ',' or ']' in array") end
    position = position + 1
  end
end

local function decode_object(text, position, depth)
  local result = setmetatable({}, object_mt)
  position = skip_whitespace(text, position + 1)
  if byte(text, position) == 125 then return result, position + 1 end
  while true do
    if byte(text, position) ~= 34 then decode_failure(text, position, "expected a string key") end
    local key, value
    key, position = decode_string(text, position)
    position = skip_whitespace(text, position)
    if byte(text, position) ~= 58 then decode_failure(text, position, "expected ':' after key") end
    value, position = decode_value(text, position + 1, depth + 1)
    result[key] = value
    position = skip_whitespace(text, position)
    local c = byte(text, position)
    if c == 125 then return result, position + 1 end
    if c ~= 44 then decode_failure(text, position, "expected ',' or '}' in object") end
    position = skip_whitespace(text, position + 1)
  end
end

local literals = { [116] = { "true", true }, [102] = { "false", false }, [110] = { "null", null } }

decode_value = function(text, position, depth)
  if depth > MAX_DEPTH then decode_failure(text, position, "nested deeper than " .. MAX_DEPTH) end
  position = skip_whitespace(text, position)
  local c = byte(text, position)
  if c == 34 then return decode_string(text, position) end
  if c == 123 then return decode_object(text, position, depth) end
  if c == 91 then return decode_array(text, position, depth) end
  if c == 45 or (c and c >= 48 and c <= 57) then return decode_number(text, position) end
  local literal = literals[c]
  if literal then
    local word = literal[1]
    if sub(text, position, position + #word - 1) == word then return literal[2], position + #word end
  end
  if c == nil then decode_failure(text, position, "unexpected end of input") end
  decode_failure(text, position, "unexpected character '" .. char(c) .. "'")
end

local function decode_whole(text)
  local value, position = decode_value(text, 1, 0)
  position = skip_whitespace(text, position)
  if position <= #text then decode_failure(text, position, "unexpected text after the value") end
  return value
end

--- Decodes JSON text. Returns the value, or nil and a message; never raises.
function json.decode(text)
  if type(text) ~= "string" then
    return nil, "json.decode: expected a string, got " .. type(text)
  end
  local ok, result = pcall(decode_whole, text)
  if not ok then
    return nil, tostring(result)
  end
  return result
end

return json
