--[[
gamebridge.core: the game side of the gamebridge protocol, without any I/O.

Why it exists: a game mod registers functions, emits events and calls agents
the same way whatever carries the messages (a folder mailbox, a pipe, a test).
The core turns those calls into protocol messages queued for a transport, and
turns messages from the bridge into handler calls and replies. A transport
only moves message tables: it passes each incoming one to bridge:handle()
and sends what bridge:take_outgoing() returns.

    local core = require("gamebridge.core")
    local bridge = core.new({ now_ms = my_clock, allow_execute = false })
    bridge:register("get_turn", "The current turn", nil, function() return turn end)

JSON null is json.null everywhere: in call arguments (also positional ones),
in results and in agent answers.
]]

local json = require("gamebridge.json")

local unpack = table.unpack or unpack
-- loadstring(text, name) on 5.1 and LuaJIT, load(text, name) on 5.2+. Chosen by
-- version so that no missing global is read (some games run Lua in strict mode).
local load_chunk = load
if _VERSION == "Lua 5.1" then load_chunk = loadstring end
local format = string.format
local type, ipairs, pcall, tostring, setmetatable = type, ipairs, pcall, tostring, setmetatable

local core = {}

local Bridge = {}
Bridge.__index = Bridge

local function default_now_ms()
  return os.time() * 1000
end

-- A host that offers a millisecond clock (`gamebridge sim` sets
-- gamebridge_host.now_ms) is used when the mod passes no clock of its own.
local function host_clock()
  local host = rawget(_G, "gamebridge_host")
  return type(host) == "table" and type(host.now_ms) == "function" and host.now_ms or nil
end

--- Creates a bridge.
-- options.now_ms: function returning Unix time in milliseconds (default: the host's
--   millisecond clock when there is one, else os.time() * 1000).
-- options.clock_resolution_ms: how coarse now_ms is (default: 1000 with the default clock,
--   0 with a clock you pass). Deadlines are checked against the latest time it could be.
-- options.allow_execute: run lua_execute scripts (default false).
-- options.on_error: function(message) for errors in callbacks and hooks (default: print).
function core.new(options)
  options = options or {}
  local exact_clock = options.now_ms or host_clock()
  local now_ms = exact_clock or default_now_ms
  local clock_resolution_ms = options.clock_resolution_ms
  if clock_resolution_ms == nil then
    clock_resolution_ms = exact_clock and 0 or 1000
  end
  local bridge = setmetatable({
    now_ms = now_ms,
    clock_resolution_ms = clock_resolution_ms,
    allow_execute = options.allow_execute == true,
    on_error = options.on_error,
    -- Agent functions the game may call: name -> { async = boolean }.
    agent_functions = {},
    -- State the bridge asked for, kept for mods that prefer polling to hooks.
    paused_players = {},
    game_paused = false,
    production_mode = false,
    functions = {},        -- name -> { description, parameters, handler }
    function_order = {},   -- names in registration order
    outgoing = {},
    pending_agent_calls = {}, -- external_call id -> callback
    call_prefix = format("lua-%.0f-", now_ms()), -- ids stay unique across game restarts
    call_count = 0,
  }, Bridge)
  return bridge
end

function Bridge:queue(message)
  self.outgoing[#self.outgoing + 1] = message
end

--- Returns the queued outgoing messages, oldest first, and empties the queue.
function Bridge:take_outgoing()
  local messages = self.outgoing
  self.outgoing = {}
  return messages
end

--- Whether take_outgoing() would return anything (cheap; for polling transports).
function Bridge:has_outgoing()
  return self.outgoing[1] ~= nil
end

function Bridge:report_error(message)
  message = "gamebridge: " .. message
  if self.on_error then
    self.on_error(message)
  elseif print then
    print(message)
  end
end

-- Runs a mod-supplied callback or hook so that its error cannot stop the
-- transport in the middle of a batch of messages.
function Bridge:run_protected(what, fn, ...)
  local ok, err = pcall(fn, ...)
  if not ok then self:report_error(what .. " failed: " .. tostring(err)) end
end

local function registration_message(name, entry)
  return {
    type = "lua_register",
    ["function"] = name,
    description = entry.description,
    parameters = entry.parameters,
  }
end

--- Makes handler callable by agents as `name`. parameters is a JSON Schema
-- table describing the arguments, or nil. Registering a name again replaces it.
function Bridge:register(name, description, parameters, handler)
  if type(name) ~= "string" or name == "" then
    error("gamebridge register: the name must be a non-empty string", 2)
  end
  if type(handler) ~= "function" then
    error("gamebridge register: the handler of " .. name .. " must be a function", 2)
  end
  if description ~= nil and type(description) ~= "string" then
    error("gamebridge register: the description of " .. name .. " must be a string or nil", 2)
  end
  -- Checked now, so a bad schema fails here rather than later inside a transport.
  local encodable, problem = pcall(json.encode, parameters)
  if not encodable then
    error("gamebridge register: the parameters of " .. name .. " are not JSON: " .. tostring(problem), 2)
  end
  if not self.functions[name] then
    self.function_order[#self.function_order + 1] = name
  end
  local entry = { description = description, parameters = parameters, handler = handler }
  self.functions[name] = entry
  self:queue(registration_message(name, entry))
end

--- Withdraws a function. Returns whether it was registered.
function Bridge:unregister(name)
  local was_registered = self.functions[name] ~= nil
  if was_registered then
    self.functions[name] = nil
    for i = #self.function_order, 1, -1 do
      if self.function_order[i] == name then table.remove(self.function_order, i) end
    end
  end
  self:queue({ type = "lua_unregister", ["function"] = name })
  return was_registered
end

--- Withdraws every function.
function Bridge:clear()
  self.functions = {}
  self.function_order = {}
  self:queue({ type = "lua_clear" })
end

--- The lua_register message of every registered function, in registration order.
function Bridge:registrations()
  local messages = {}
  for i, name in ipairs(self.function_order) do
    messages[i] = registration_message(name, self.functions[name])
  end
  return messages
end

--- Publishes a game event to every subscribed agent. id is optional.
function Bridge:emit(event, payload, id)
  if type(event) ~= "string" then error("gamebridge emit: the event name must be a string", 2) end
  if payload == nil then payload = json.null end
  self:queue({ type = "game_event", event = event, payload = payload, id = id })
end

--- Calls an agent function. callback(result, nil) or callback(nil, {code, message})
-- runs when the answer arrives (from inside a later transport poll). Returns the call id.
function Bridge:call_agent(name, args, callback)
  if type(name) ~= "string" then error("gamebridge call_agent: the name must be a string", 2) end
  self.call_count = self.call_count + 1
  local id = self.call_prefix .. self.call_count
  if callback then self.pending_agent_calls[id] = callback end
  if args == nil then args = json.null end
  self:queue({ type = "external_call", id = id, ["function"] = name, args = args, async = true })
  return id
end

-- Replies -----------------------------------------------------------------

local function success_reply(id, result)
  if result == nil then result = json.null end
  return { type = "lua_response", id = id, success = true, result = result }
end

local function error_reply(id, code, message)
  return { type = "lua_response", id = id, success = false, error = { code = code, message = message } }
end

-- A handler may raise error({ code = "NOT_FOUND", message = "..." }) to choose
-- the error code; anything else it raises is a LUA_EXECUTION_ERROR.
local function failure_reply(id, err)
  if type(err) == "table" and type(err.code) == "string" then
    return error_reply(id, err.code, tostring(err.message or err.code))
  end
  return error_reply(id, "LUA_EXECUTION_ERROR", tostring(err))
end

-- pcall's results as a reply: the first value the function returned.
local function reply_from(id, ok, result_or_error)
  if ok then return success_reply(id, result_or_error) end
  return failure_reply(id, result_or_error)
end

-- Incoming messages ---------------------------------------------------------

local handlers = {}

handlers.lua_call = function(self, message)
  local name = message["function"]
  local entry = self.functions[name]
  if not entry then
    return error_reply(message.id, "INVALID_FUNCTION", "no game function is registered as " .. tostring(name))
  end
  local args = message.args
  if args == nil or args == json.null then
    return reply_from(message.id, pcall(entry.handler))
  end
  local is_array, length = json.is_array(args)
  if is_array then
    return reply_from(message.id, pcall(entry.handler, unpack(args, 1, length)))
  end
  return reply_from(message.id, pcall(entry.handler, args))
end

handlers.lua_execute = function(self, message)
  if not self.allow_execute then
    return error_reply(message.id, "INVALID_SCRIPT",
      "lua_execute is disabled in this game (the mod creates its bridge without allow_execute)")
  end
  if type(message.script) ~= "string" then
    return error_reply(message.id, "INVALID_SCRIPT", "the script must be a string")
  end
  -- Precompiled bytecode can crash the interpreter; only source text is run.
  if string.byte(message.script, 1) == 27 then
    return error_reply(message.id, "INVALID_SCRIPT", "precompiled chunks are not accepted")
  end
  local chunk, compile_error = load_chunk(message.script, "=lua_execute")
  if not chunk then
    return error_reply(message.id, "INVALID_SCRIPT", tostring(compile_error))
  end
  return reply_from(message.id, pcall(chunk))
end

handlers.external_register = function(self, message)
  if type(message.name) == "string" then
    self.agent_functions[message.name] = { async = message.async == true }
  end
end

handlers.external_unregister = function(self, message)
  if type(message.name) == "string" then
    self.agent_functions[message.name] = nil
  end
end

handlers.external_response = function(self, message)
  local callback = self.pending_agent_calls[message.id]
  if not callback then return end
  self.pending_agent_calls[message.id] = nil
  if message.success then
    local result = message.result
    if result == nil then result = json.null end
    self:run_protected("the callback of agent call " .. tostring(message.id), callback, result, nil)
  else
    local err = message.error
    if type(err) ~= "table" then
      err = { code = "LUA_EXECUTION_ERROR", message = "the agent call failed without details" }
    end
    self:run_protected("the callback of agent call " .. tostring(message.id), callback, nil, err)
  end
end

local function run_hook(self, hook_name, ...)
  local hook = self[hook_name]
  if hook then self:run_protected(hook_name, hook, ...) end
end

handlers.pause_player = function(self, message)
  if message.playerID ~= nil then self.paused_players[message.playerID] = true end
  run_hook(self, "on_pause_player", message.playerID)
end

handlers.unpause_player = function(self, message)
  if message.playerID ~= nil then self.paused_players[message.playerID] = nil end
  run_hook(self, "on_unpause_player", message.playerID)
end

handlers.clear_paused_players = function(self)
  self.paused_players = {}
  run_hook(self, "on_clear_paused_players")
end

handlers.set_production_mode = function(self, message)
  self.production_mode = message.enabled == true
  run_hook(self, "on_production_mode", self.production_mode)
end

handlers.pause_game = function(self)
  self.game_paused = true
  run_hook(self, "on_pause_game")
end

handlers.resume_game = function(self)
  self.game_paused = false
  run_hook(self, "on_resume_game")
end

--- Dispatches one decoded bridge → game message. Returns the reply message
-- (for lua_call and lua_execute) or nil. Unknown message types are ignored.
function Bridge:handle(message)
  if type(message) ~= "table" then return nil end
  local handler = handlers[message.type]
  if not handler then return nil end
  return handler(self, message)
end

return core
