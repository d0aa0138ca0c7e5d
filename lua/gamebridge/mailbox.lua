--[[
gamebridge.mailbox: the game side of the folder mailbox (docs/MAILBOX.md).

Why it exists: many games run mods in a sandbox without sockets. This
transport needs only io.open ("r", "w", "a"), file:seek, read, write and
close. It never renames or deletes files, and never lists a folder.

    local transport = mailbox.new(bridge, "/tmp/mygame", { heartbeat_ms = 1000 })
    -- in the game's tick function:
    transport:poll()

The folder is created by the bridge (gamebridge serve --game NAME=mailbox:DIR).
The game may start first: until the folder exists, outgoing messages wait in
memory (at most options.max_unsent, default 1000, the oldest dropped first)
and the transport tries again about once per heartbeat.
]]

local json = require("gamebridge.json")

local find, match, gmatch, gsub, concat = string.find, string.match, string.gmatch, string.gsub, table.concat
local ipairs, pcall, tostring, type, setmetatable = ipairs, pcall, tostring, type, setmetatable

local mailbox = {}

local Transport = {}
Transport.__index = Transport

-- The protocol guarantees ids of this shape; anything else could name a path
-- outside the folder, so it is refused.
local REQUEST_ID_PATTERN = "^[A-Za-z0-9_-]+$"

-- Messages that bridge:registrations() restates whenever outbox.jsonl starts over.
local REGISTRATION_TYPES = { lua_register = true, lua_unregister = true, lua_clear = true }

local function file_size(path)
  local file = io.open(path, "r")
  if not file then return nil end
  local size = file:seek("end")
  file:close()
  return size
end

-- Writes a whole file in mode "w" or "a". Returns true, or nil and a reason.
local function write_file(path, mode, text)
  local file, open_error = io.open(path, mode)
  if not file then return nil, open_error end
  local written, write_error = file:write(text)
  local closed, close_error = file:close()
  if not written then return nil, write_error end
  if not closed then return nil, close_error end
  return true
end

--- Starts the game side of the mailbox in folder dir for bridge.
-- options.heartbeat_ms: how often heartbeat.json is rewritten (default 1000).
-- options.max_unsent: messages kept while the folder is missing (default 1000).
-- options.outbox_limit: bytes after which outbox.jsonl starts over, once the
--   bridge has read all of it (default 1048576).
function mailbox.new(bridge, dir, options)
  options = options or {}
  dir = gsub(dir, "[/\\]+$", "")
  local now = bridge.now_ms()
  local self = setmetatable({
    bridge = bridge,
    dir = dir,
    heartbeat_ms = options.heartbeat_ms or 1000,
    max_unsent = options.max_unsent or 1000,
    index_path = dir .. "/requests.idx",
    outbox_path = dir .. "/outbox.jsonl",
    outbox_read_path = dir .. "/outbox.read",
    outbox_limit = options.outbox_limit or 1048576,
    -- Which start of outbox.jsonl this is, and its length as written.
    outbox_generation = 0,
    outbox_bytes = 0,
    heartbeat_path = dir .. "/heartbeat.json",
    started_ms = now,
    ticks = 0,
    last_heartbeat_ms = now,
    -- Requests already in the index were sent before this game started: never run them.
    offset = file_size(dir .. "/requests.idx") or 0,
    -- Whether outbox.jsonl was truncated and given the registrations; until then
    -- outgoing lines wait in unsent.
    outbox_started = false,
    unsent = {},          -- { type = message type, line = JSON text }
    dropped_messages = 0,
  }, Transport)
  self:take_from_bridge()
  self:start_outbox()
  self:write_heartbeat(now)
  return self
end

-- Outgoing -----------------------------------------------------------------

-- JSON text of an outgoing message, or nil when it cannot be encoded. An
-- agent call that cannot be sent is answered at once, so its callback runs.
function Transport:encode_outgoing(message)
  local ok, text = pcall(json.encode, message)
  if ok then return text end
  self.bridge:report_error("cannot send a " .. tostring(message.type) .. " message: " .. tostring(text))
  if message.type == "external_call" then
    self.bridge:handle({
      type = "external_response", id = message.id, success = false,
      error = { code = "SERIALIZATION_ERROR", message = tostring(text) },
    })
  end
  return nil
end

-- Moves the bridge's queued messages to unsent, encoded.
function Transport:take_from_bridge()
  for _, message in ipairs(self.bridge:take_outgoing()) do
    local line = self:encode_outgoing(message)
    if line then self.unsent[#self.unsent + 1] = { type = message.type, line = line } end
  end
  local excess = #self.unsent - self.max_unsent
  if excess > 0 then
    if self.dropped_messages == 0 then
      self.bridge:report_error("the mailbox folder " .. self.dir .. " is missing; dropping the oldest messages")
    end
    self.dropped_messages = self.dropped_messages + excess
    local kept = {}
    for i = excess + 1, #self.unsent do kept[#kept + 1] = self.unsent[i] end
    self.unsent = kept
  end
end

-- Truncates outbox.jsonl and writes a start line (new for every start, so
-- the bridge sees the file begin again), the registrations, then whatever
-- waited. The bridge reads the file from the start, so it learns every
-- function.
function Transport:start_outbox()
  local generation = self.outbox_generation + 1
  local lines = {
    json.encode({ type = "outbox_start", started_ms = self.started_ms, generation = generation }) .. "\n",
  }
  for _, message in ipairs(self.bridge:registrations()) do
    local line = self:encode_outgoing(message)
    if line then lines[#lines + 1] = line .. "\n" end
  end
  for _, entry in ipairs(self.unsent) do
    if not REGISTRATION_TYPES[entry.type] then lines[#lines + 1] = entry.line .. "\n" end
  end
  local text = concat(lines)
  if write_file(self.outbox_path, "w", text) then
    self.outbox_started = true
    self.outbox_generation = generation
    self.outbox_bytes = #text
    self.unsent = {}
  end
  return self.outbox_started
end

-- Whether the bridge says it has read all of this outbox (outbox.read). The
-- file's own size is compared, not the bytes written: text-mode line endings
-- may make it longer.
function Transport:outbox_all_read()
  local file = io.open(self.outbox_read_path, "r")
  if not file then return false end
  local text = file:read("*a")
  file:close()
  local ok, note = pcall(json.decode, text or "")
  return ok and type(note) == "table" and note.started_ms == self.started_ms
    and note.generation == self.outbox_generation and note.offset == file_size(self.outbox_path)
end

-- Step 1 of a poll: append the queued messages to outbox.jsonl in one write.
function Transport:flush_outgoing()
  if not self.bridge:has_outgoing() then return end
  self:take_from_bridge()
  if not self.outbox_started or not self.unsent[1] then return end
  -- A long outbox starts over once the bridge has read it all, so it stays small.
  if self.outbox_bytes >= self.outbox_limit and self:outbox_all_read() then
    self:start_outbox()
    return
  end
  local lines = {}
  for i, entry in ipairs(self.unsent) do lines[i] = entry.line .. "\n" end
  local text = concat(lines)
  if write_file(self.outbox_path, "a", text) then
    self.outbox_bytes = self.outbox_bytes + #text
    self.unsent = {}
  else
    -- The folder went away; start the file over when it is back.
    self.outbox_started = false
  end
end

function Transport:write_heartbeat(now)
  self.last_heartbeat_ms = now
  write_file(self.heartbeat_path, "w", json.encode({ started_ms = self.started_ms, ticks = self.ticks }))
end

-- Incoming -----------------------------------------------------------------

-- The complete new lines of requests.idx, advancing the offset past them,
-- or nil when there are none. A partial last line stays for the next poll.
function Transport:read_new_index_lines()
  local file = io.open(self.index_path, "r")
  if not file then
    self.offset = 0 -- the bridge removed the index; its successor starts a new one
    return nil
  end
  local size = file:seek("end")
  if not size or size == self.offset then
    file:close()
    return nil
  end
  if size < self.offset then self.offset = 0 end -- a new bridge started the index again
  file:seek("set", self.offset)
  local data = file:read(size - self.offset)
  file:close()
  local last_newline = data and match(data, "^.*()\n")
  if not last_newline then return nil end
  self.offset = self.offset + last_newline
  return data:sub(1, last_newline)
end

function Transport:write_response(id, reply)
  local ok, text = pcall(json.encode, reply)
  if not ok then
    self.bridge:report_error("the answer to request " .. id .. " cannot be encoded: " .. tostring(text))
    text = json.encode({
      type = "lua_response", id = reply.id, success = false,
      error = { code = "SERIALIZATION_ERROR", message = tostring(text) },
    })
  end
  local response_path = self.dir .. "/responses/" .. id
  local written, reason = write_file(response_path .. ".json", "w", text)
  if not written then
    self.bridge:report_error("cannot answer request " .. id .. ": " .. tostring(reason))
    return
  end
  -- The marker comes last: the bridge reads an answer only once it exists.
  write_file(response_path .. ".ready", "w", "")
end

-- Runs request id. Returns 1 when it was handled, 0 when skipped.
function Transport:run_request(id)
  local file = io.open(self.dir .. "/requests/" .. id .. ".json", "r")
  if not file then return 0 end -- withdrawn by the bridge
  local text = file:read("*a")
  file:close()
  local message, decode_error = json.decode(text or "")
  if type(message) ~= "table" then
    self.bridge:report_error("request " .. id .. " is not a JSON object: " .. tostring(decode_error))
    return 0
  end
  local deadline = message.deadline_ms
  if type(deadline) == "number" then
    -- The latest time it could be, given how coarse the clock is.
    local latest_now = self.bridge.now_ms() + (self.bridge.clock_resolution_ms or 0)
    if latest_now > deadline then return 0 end -- too late: the agent has been told it timed out
  end
  local reply = self.bridge:handle(message)
  if reply then self:write_response(id, reply) end
  return 1
end

--- Call once per game tick. Sends what the game queued, keeps the heartbeat
-- fresh, and runs new requests. Returns the number of requests handled.
-- When nothing is new it costs one open, seek and close of requests.idx.
function Transport:poll()
  local now = self.bridge.now_ms()
  self.ticks = self.ticks + 1
  self:flush_outgoing()

  local since_heartbeat = now - self.last_heartbeat_ms
  if since_heartbeat >= self.heartbeat_ms or since_heartbeat < 0 then
    if not self.outbox_started then self:start_outbox() end
    self:write_heartbeat(now)
  end

  local handled = 0
  local lines = self:read_new_index_lines()
  if lines then
    for line in gmatch(lines, "([^\n]*)\n") do
      local id = match(line, "^%s*(.-)%s*$")
      if find(id, REQUEST_ID_PATTERN) then
        handled = handled + self:run_request(id)
      elseif id ~= "" then
        self.bridge:report_error("ignoring a malformed request id in requests.idx: " .. id)
      end
    end
  end

  self:flush_outgoing()
  return handled
end

return mailbox
