-- Shared by step_mame.lua and step_fifo.lua, the stand-in lockstep games
-- (Tempest-like) run under `gamebridge sim`. Reads the settings from the
-- environment and writes the output file.
--
-- Environment:
--   STEP_TARGET      MAME file name (step_mame) or FIFO prefix (step_fifo); required
--   STEP_FRAMES      frames to send (default 100)
--   STEP_PAYLOAD     payload bytes per frame, at least 4 (default 819, Tempest's)
--   STEP_FRAMING     u16be | u32be (default u16be)
--   STEP_REPLY_SIZE  raw reply bytes (default 5); 0 means length-prefixed replies
--   STEP_HANDSHAKE   handshake bytes, zeros (default 2)
--   STEP_TIMEOUT_MS  reply timeout of the MAME link (default 3500)
--   STEP_OUT         file the output lines are appended to (default: stdout)
--
-- Frame n (from 1) is n as 4 big-endian bytes, then STEP_PAYLOAD - 4 bytes
-- of value n % 256. Output lines:
--   reply N HEX      the reply to frame N, as lowercase hex
--   error N MESSAGE  frame N failed (step_mame sends it again on a later tick)
--   done N           the last line: N replies received

local lockstep = require("gamebridge.lockstep")

local common = {}

local function number_setting(name, default)
  local text = os.getenv(name)
  if text == nil or text == "" then return default end
  local value = tonumber(text)
  if not value then error(name .. " must be a number, got " .. text, 0) end
  return value
end

function common.settings()
  local target = os.getenv("STEP_TARGET")
  if not target or target == "" then error("set STEP_TARGET", 0) end
  local reply_size = number_setting("STEP_REPLY_SIZE", 5)
  local payload = number_setting("STEP_PAYLOAD", 819)
  if payload < 4 then error("STEP_PAYLOAD must be at least 4", 0) end
  return {
    target = target,
    frames = number_setting("STEP_FRAMES", 100),
    payload = payload,
    link_options = {
      framing = os.getenv("STEP_FRAMING") or "u16be",
      reply_size = reply_size > 0 and reply_size or nil,
      handshake = number_setting("STEP_HANDSHAKE", 2),
      timeout_ms = number_setting("STEP_TIMEOUT_MS", 3500),
    },
  }
end

function common.frame(n, payload)
  return lockstep.u32be(n) .. string.rep(string.char(n % 256), payload - 4)
end

local function hex(text)
  return (text:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- A function that appends one line to STEP_OUT (or prints it), flushed at once.
function common.output()
  local path = os.getenv("STEP_OUT")
  local file = path and path ~= "" and assert(io.open(path, "a")) or io.stdout
  return function(line)
    file:write(line, "\n")
    file:flush()
  end
end

function common.reply_line(n, reply)
  return "reply " .. n .. " " .. hex(reply)
end

return common
