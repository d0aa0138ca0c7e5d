--[[
gamebridge.lockstep: the framing of lockstep games, shared by the FIFO and
MAME transports. No I/O.

Why it exists: a lockstep game (Tempest on MAME, docs/TEMPEST.md) sends one
frame per tick and waits for one reply. The frame is a big-endian length
prefix (u16 or u32) and the payload; the reply is either exactly reply_size
raw bytes or, without reply_size, a prefixed reply of the same width. Both
transports build frames and parse replies the same way, and the byte
arithmetic must run on Lua 5.1 to 5.4 and LuaJIT, so it lives here: no bit
operators, no integer division, only string.char, string.byte and
math.floor.

    local lockstep = require("gamebridge.lockstep")
    local config = lockstep.options({ framing = "u16be", reply_size = 5, handshake = 2 })
    local wire = lockstep.frame(config.framing, payload) -- prefix .. payload
]]

local char, byte, floor = string.char, string.byte, math.floor
local type, tostring, error = type, tostring, error

local lockstep = {}

--- Prefix width in bytes of each framing.
lockstep.PREFIX_SIZE = { u16be = 2, u32be = 4 }

local MAX_LENGTH = { u16be = 65535, u32be = 4294967295 }

local function is_count(n)
  return type(n) == "number" and n >= 0 and n == floor(n)
end

--- n (0..65535) as 2 big-endian bytes.
function lockstep.u16be(n)
  if not is_count(n) or n > 65535 then error("gamebridge lockstep: u16 out of range: " .. tostring(n), 2) end
  return char(floor(n / 256), n % 256)
end

--- n (0..4294967295) as 4 big-endian bytes.
function lockstep.u32be(n)
  if not is_count(n) or n > 4294967295 then error("gamebridge lockstep: u32 out of range: " .. tostring(n), 2) end
  return char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end

--- The big-endian u16 at position pos (default 1) of text, or nil if text is too short.
function lockstep.read_u16be(text, pos)
  pos = pos or 1
  local a, b = byte(text, pos, pos + 1)
  if not b then return nil end
  return a * 256 + b
end

--- The big-endian u32 at position pos (default 1) of text, or nil if text is too short.
function lockstep.read_u32be(text, pos)
  pos = pos or 1
  local a, b, c, d = byte(text, pos, pos + 3)
  if not d then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

--- The length prefix of framing for a payload of length bytes,
-- or nil and a message when it does not fit.
function lockstep.prefix(framing, length)
  local max = MAX_LENGTH[framing]
  if not max then error("gamebridge lockstep: unknown framing " .. tostring(framing), 2) end
  if length > max then
    return nil, "frame too large: " .. length .. " bytes, " .. framing .. " allows " .. max
  end
  if framing == "u16be" then return lockstep.u16be(length) end
  return lockstep.u32be(length)
end

--- The payload with its length prefix, or nil and a message when it is too large.
function lockstep.frame(framing, payload)
  if type(payload) ~= "string" then
    error("gamebridge lockstep: a frame must be a string, got " .. type(payload), 2)
  end
  local prefix, problem = lockstep.prefix(framing, #payload)
  if not prefix then return nil, problem end
  return prefix .. payload
end

--- Decodes the length prefix of framing at the start of text.
function lockstep.read_prefix(framing, text)
  if framing == "u16be" then return lockstep.read_u16be(text, 1) end
  return lockstep.read_u32be(text, 1)
end

--- Checks and completes the options shared by the lockstep transports:
-- framing ("u16be" or "u32be", default "u16be"), reply_size (bytes of a raw
-- reply, or nil for a length-prefixed reply), handshake (bytes sent once on
-- connect: a string, or a number of zero bytes; default none), timeout_ms
-- (default 3500; only the MAME transport waits with a clock) and now_ms (a
-- millisecond clock; default gamebridge_host.now_ms when the host has one,
-- else os.clock). Raises on an invalid option: that is a bug in the mod.
function lockstep.options(options)
  options = options or {}
  local framing = options.framing or "u16be"
  if not lockstep.PREFIX_SIZE[framing] then
    error("gamebridge lockstep: framing must be \"u16be\" or \"u32be\", got " .. tostring(framing), 3)
  end
  local reply_size = options.reply_size
  if reply_size ~= nil and (not is_count(reply_size) or reply_size < 1) then
    error("gamebridge lockstep: reply_size must be a positive whole number, got " .. tostring(reply_size), 3)
  end
  local handshake = options.handshake
  if type(handshake) == "number" then
    if not is_count(handshake) then
      error("gamebridge lockstep: handshake must be a string or a byte count, got " .. tostring(handshake), 3)
    end
    handshake = string.rep("\0", handshake)
  elseif handshake ~= nil and type(handshake) ~= "string" then
    error("gamebridge lockstep: handshake must be a string or a byte count, got " .. type(handshake), 3)
  end
  local timeout_ms = options.timeout_ms or 3500
  if type(timeout_ms) ~= "number" or timeout_ms < 0 then
    error("gamebridge lockstep: timeout_ms must be a non-negative number, got " .. tostring(timeout_ms), 3)
  end
  local now_ms = options.now_ms
  if now_ms == nil then
    local host = rawget(_G, "gamebridge_host")
    if type(host) == "table" and type(host.now_ms) == "function" then
      now_ms = host.now_ms
    else
      local clock = os.clock
      now_ms = function() return clock() * 1000 end
    end
  elseif type(now_ms) ~= "function" then
    error("gamebridge lockstep: now_ms must be a function", 3)
  end
  return {
    framing = framing,
    prefix_size = lockstep.PREFIX_SIZE[framing],
    reply_size = reply_size,
    handshake = handshake ~= "" and handshake or nil,
    timeout_ms = timeout_ms,
    now_ms = now_ms,
  }
end

--- Reads one reply with read_exact(n), a function that returns exactly n
-- bytes or nil and a message: reply_size raw bytes, or a length prefix and
-- that many bytes. Returns the reply, or nil and a message.
function lockstep.read_reply(config, read_exact)
  if config.reply_size then return read_exact(config.reply_size) end
  local prefix, problem = read_exact(config.prefix_size)
  if not prefix then return nil, problem end
  local length = lockstep.read_prefix(config.framing, prefix)
  if length == 0 then return "" end
  return read_exact(length)
end

return lockstep
