--[[
gamebridge.mame: the game side of a lockstep game inside MAME.

Why it exists: MAME's Lua reaches the outside only through emu.file and its
magic names, "socket.HOST:PORT" (TCP) and "domain./PATH" (Unix socket).
Reads on such a file never block: file:read(n) returns what has arrived,
possibly fewer than n bytes, possibly "". The seed's script (Tempest,
docs/TEMPEST.md) took a short read as the whole reply, so one slow reply put
every later frame out of step. This link keeps reading until the whole
reply is there, and gives up after timeout_ms, closing the connection so
that no late bytes are mistaken for the next reply.

    local mame = require("gamebridge.mame")
    local link = assert(mame.connect("socket.127.0.0.1:9999",
      { framing = "u16be", reply_size = 5, handshake = 2 }))
    emu.add_machine_frame_notifier(function()
      local reply, problem = link:step(frame)
    end)

After a failure the next step() reconnects (at most once per
reconnect_ms) and sends the handshake again, as the seed's script did after
its 3.5 s timeout. `gamebridge sim --emu` emulates emu.file with real
sockets, so a script can be tried without MAME.
]]

local lockstep = require("gamebridge.lockstep")

local concat = table.concat
local setmetatable, tostring, type, pcall, rawget = setmetatable, tostring, type, pcall, rawget

local mame = {}

local Link = {}
Link.__index = Link

-- emu_file flags: OPEN_FLAG_READ | OPEN_FLAG_WRITE | OPEN_FLAG_CREATE.
local OPEN_FLAGS = 7

-- What file:open returned: nil on success in current MAME (an error string
-- on failure); older versions returned an error number, 0 for none.
local function open_failed(result)
  return result ~= nil and result ~= false and result ~= 0 and result ~= "" and result ~= "NONE"
end

--- Connects to target, a MAME file name such as "socket.127.0.0.1:9999" or
-- "domain./tmp/tempest.sock", and sends the handshake. Returns the link, or
-- nil and a message.
-- options: framing ("u16be" | "u32be", default "u16be"); reply_size (raw
-- reply bytes; default: length-prefixed replies); handshake (a string, or a
-- number of zero bytes); timeout_ms (how long a step waits for its reply,
-- default 3500); now_ms (millisecond clock; default gamebridge_host.now_ms
-- when present, else os.clock); reconnect (default true: a step after a
-- failure connects again); reconnect_ms (least time between two attempts,
-- default 1000); emu (the table that has file(); default the global emu).
function mame.connect(target, options)
  options = options or {}
  if type(target) ~= "string" or target == "" then
    error("gamebridge mame.connect: the target must be a MAME file name such as socket.127.0.0.1:9999", 2)
  end
  local config = lockstep.options(options)
  local emu = options.emu or rawget(_G, "emu")
  if type(emu) ~= "table" and type(emu) ~= "userdata" then
    return nil, "no emu table: run inside MAME, or under gamebridge sim --emu"
  end
  local link = setmetatable({
    target = target,
    config = config,
    emu = emu,
    reconnect = options.reconnect ~= false,
    reconnect_ms = options.reconnect_ms or 1000,
    last_attempt_ms = nil,
    file = nil,
    leftover = "", -- bytes read beyond a reply (only if a read returned more than asked)
    frames = 0,    -- replies received
    connects = 0,  -- successful connects
    failures = 0,  -- steps that failed after connecting (timeouts, write errors)
    closed = false,
  }, Link)
  local connected, problem = link:connect()
  if not connected then return nil, problem end
  return link
end

-- Opens the connection and sends the handshake. Returns true, or nil and a message.
function Link:connect()
  self.last_attempt_ms = self.config.now_ms()
  local ok, file = pcall(self.emu.file, "", OPEN_FLAGS)
  if not ok or file == nil then return nil, "emu.file failed: " .. tostring(file) end
  local opened, result = pcall(file.open, file, self.target)
  if not opened then return nil, "cannot open " .. self.target .. ": " .. tostring(result) end
  if open_failed(result) then return nil, "cannot open " .. self.target .. ": " .. tostring(result) end
  self.file = file
  self.leftover = ""
  if self.config.handshake then
    self.deadline = self.config.now_ms() + self.config.timeout_ms
    local sent, problem = self:write_all(self.config.handshake)
    if not sent then
      self:drop()
      return nil, "handshake failed: " .. problem
    end
  end
  self.connects = self.connects + 1
  return true
end

-- Closes the connection (the link may connect again).
function Link:drop()
  if self.file then pcall(self.file.close, self.file) end
  self.file = nil
  self.leftover = ""
end

-- Writes all of data before self.deadline. Returns true, or nil and a message.
function Link:write_all(data)
  local sent, total = 0, #data
  while sent < total do
    local rest = sent == 0 and data or data:sub(sent + 1)
    local ok, count = pcall(self.file.write, self.file, rest)
    if not ok then return nil, "write failed: " .. tostring(count) end
    -- A MAME that reports no count wrote it all.
    if type(count) ~= "number" then count = #rest end
    if count > 0 then
      sent = sent + count
    elseif self.config.now_ms() >= self.deadline then
      return nil, "timeout"
    end
  end
  return true
end

-- Exactly n bytes, gathered from as many reads as it takes before
-- self.deadline. Returns them, or nil and "timeout".
function Link:read_exact(n)
  local pieces, have = { self.leftover }, #self.leftover
  local file, now_ms, deadline = self.file, self.config.now_ms, self.deadline
  while have < n do
    local ok, data = pcall(file.read, file, n - have)
    if not ok then return nil, "read failed: " .. tostring(data) end
    if type(data) == "string" and data ~= "" then
      pieces[#pieces + 1] = data
      have = have + #data
    elseif now_ms() >= deadline then
      return nil, "timeout"
    end
  end
  local all = concat(pieces)
  self.leftover = all:sub(n + 1)
  return all:sub(1, n)
end

--- Sends one frame (the payload, without prefix) and waits for the whole
-- reply. Returns the reply, or nil and a message: "timeout" (no whole reply
-- within timeout_ms), a write or read error, "disconnected: ..." (not
-- connected, and no reconnect now), "closed" (after close()), or "frame too
-- large: ...". After "timeout" or an error the connection is dropped; the
-- next step connects again unless options.reconnect was false.
function Link:step(frame)
  if self.closed then return nil, "closed" end
  local wire, too_large = lockstep.frame(self.config.framing, frame)
  if not wire then return nil, too_large end
  if not self.file then
    if not self.reconnect then return nil, "disconnected" end
    local since = self.config.now_ms() - (self.last_attempt_ms or 0)
    if since >= 0 and since < self.reconnect_ms then return nil, "disconnected: waiting to reconnect" end
    local connected, problem = self:connect()
    if not connected then return nil, "disconnected: " .. problem end
  end
  self.deadline = self.config.now_ms() + self.config.timeout_ms
  local sent, write_error = self:write_all(wire)
  local reply, problem = nil, write_error
  if sent then
    reply, problem = lockstep.read_reply(self.config, function(n) return self:read_exact(n) end)
  end
  if not reply then
    self.failures = self.failures + 1
    self:drop()
    return nil, problem
  end
  self.frames = self.frames + 1
  return reply
end

--- Whether the link is connected now.
function Link:is_connected()
  return self.file ~= nil
end

--- Closes the connection for good.
function Link:close()
  self:drop()
  self.closed = true
end

return mame
