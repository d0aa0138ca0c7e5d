--[[
gamebridge.fifo: the game side of a lockstep game over a FIFO pair.

Why it exists: some game Lua can reach the outside only through io.open. A
pair of named pipes (FIFOs) then gives a lockstep link: the game writes each
frame to PREFIX_output and blocks reading the reply from PREFIX_input. The
bridge (gamebridge serve --game NAME=fifo:PREFIX) creates both FIFOs and
opens them in the same order as the game (PREFIX_output, then
PREFIX_input), so neither side waits on the other forever; the seed's FIFO
version deadlocked because both sides opened the same end first.

    local fifo = require("gamebridge.fifo")
    local link = assert(fifo.open("/tmp/tempest", { framing = "u16be", reply_size = 5, handshake = 2 }))
    -- once per tick:
    local reply, problem = link:step(frame)

Reads block (plain io reads do), so no timeout applies here; the bridge
answers every frame, and closes the FIFO when it goes away, which ends the
read with EOF.
]]

local lockstep = require("gamebridge.lockstep")

local setmetatable, tostring, pcall = setmetatable, tostring, pcall

local fifo = {}

local Link = {}
Link.__index = Link

-- Writes data and flushes it. Returns true, or nil and a message.
local function send(file, data)
  local written, write_error = file:write(data)
  if not written then return nil, tostring(write_error) end
  local flushed, flush_error = file:flush()
  if not flushed then return nil, tostring(flush_error) end
  return true
end

--- Opens the FIFO pair PREFIX_output (written by the game) and PREFIX_input
-- (read by the game), then sends the handshake. Each open blocks until the
-- bridge has opened the other end. Returns the link, or nil and a message
-- (at once, creating nothing, when the FIFOs do not exist yet).
-- options: framing ("u16be" | "u32be", default "u16be"), reply_size (raw
-- reply bytes; default: length-prefixed replies), handshake (a string, or a
-- number of zero bytes).
function fifo.open(prefix, options)
  local config = lockstep.options(options)
  local output_path, input_path = prefix .. "_output", prefix .. "_input"
  -- io.open(path, "wb") creates a plain file where no FIFO exists yet, and
  -- that file would stand in the bridge's way. So first make sure the pair
  -- exists: "r+b" never creates a file, and on a FIFO it does not block
  -- (nor does it disturb a bridge that waits in its own open of _output).
  local probe, probe_error = io.open(input_path, "r+b")
  if not probe then
    -- io.open's message names the file.
    return nil, "cannot open " .. tostring(probe_error) .. " (the bridge creates the FIFOs: start it first)"
  end
  probe:close()
  local output, output_error = io.open(output_path, "wb")
  if not output then return nil, "cannot open " .. tostring(output_error) end
  -- A FIFO cannot seek; a plain file can. Writing frames into a file would
  -- look like a link that never answers, so say what is wrong instead.
  if output:seek("end") then
    output:close()
    return nil, output_path .. " is a plain file, not a FIFO: start the bridge first (it creates the FIFOs)"
  end
  local input, input_error = io.open(input_path, "rb")
  if not input then
    output:close()
    return nil, "cannot open " .. tostring(input_error)
  end
  local link = setmetatable({ output = output, input = input, config = config, frames = 0 }, Link)
  if config.handshake then
    local sent, problem = send(output, config.handshake)
    if not sent then
      link:close()
      return nil, "handshake failed: " .. problem
    end
  end
  return link
end

-- Exactly n bytes from the input FIFO, or nil and a message.
function Link:read_exact(n)
  local data = self.input:read(n)
  if data == nil then return nil, "eof" end
  if #data < n then return nil, "short read: " .. #data .. " of " .. n .. " bytes, then eof" end
  return data
end

--- Sends one frame (the payload, without prefix) and waits for the reply.
-- Returns the reply, or nil and a message ("eof", "short read: ...", a write
-- error, "closed", or "frame too large: ..."). After an I/O failure the link
-- is closed; open a new one to go on.
function Link:step(frame)
  if not self.output then return nil, "closed" end
  local wire, too_large = lockstep.frame(self.config.framing, frame)
  if not wire then return nil, too_large end
  local sent, write_error = send(self.output, wire)
  if not sent then
    self:close()
    return nil, write_error
  end
  local reply, problem = lockstep.read_reply(self.config, function(n) return self:read_exact(n) end)
  if not reply then
    self:close()
    return nil, problem
  end
  self.frames = self.frames + 1
  return reply
end

--- Whether the link is open.
function Link:is_open()
  return self.output ~= nil
end

--- Closes both FIFOs. The bridge sees EOF and ends the game's session.
function Link:close()
  if self.output then pcall(self.output.close, self.output) end
  if self.input then pcall(self.input.close, self.input) end
  self.output, self.input = nil, nil
end

return fifo
