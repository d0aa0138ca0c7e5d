--[[
Tests of gamebridge.core: the messages it queues and the replies it gives,
with no transport involved.
]]

local core = require("gamebridge.core")
local json = require("gamebridge.json")
local check = require("tests.helpers")

local tests = {}

local NOW = 1700000000000

-- A bridge with a fixed clock whose errors are collected instead of printed.
local function new_bridge(options)
  options = options or {}
  local errors = {}
  options.now_ms = options.now_ms or function() return NOW end
  options.on_error = function(message) errors[#errors + 1] = message end
  return core.new(options), errors
end

local function call(bridge, name, args, id)
  return bridge:handle({ type = "lua_call", id = id or "c1", ["function"] = name, args = args })
end

function tests.positional_arguments_from_a_json_array()
  local bridge = new_bridge()
  bridge:register("add", "Adds two numbers", nil, function(a, b) return a + b end)
  check.equal(call(bridge, "add", json.array({ 2, 3 }), "7"),
    { type = "lua_response", id = "7", success = true, result = 5 })
  check.equal(call(bridge, "add", json.decode("[20,22]")).result, 42, "decoded array")
  check.equal(call(bridge, "add", { 1, 1 }).result, 2, "unmarked sequence")
end

function tests.nulls_in_positional_arguments_stay_json_null()
  local bridge = new_bridge()
  bridge:register("second", nil, nil, function(_, b, c) return { b == json.null, c } end)
  check.equal(call(bridge, "second", json.decode("[1,null,3]")).result, { true, 3 })
end

function tests.object_arguments_are_one_table()
  local bridge = new_bridge()
  bridge:register("double", nil, nil, function(args) return args.x * 2 end)
  check.equal(call(bridge, "double", json.decode('{"x":4}')).result, 8)
  bridge:register("count", nil, nil, function(...) return select("#", ...) end)
  check.equal(call(bridge, "count", json.object()).result, 1, "an empty object is one argument")
  check.equal(call(bridge, "count", json.array()).result, 0, "an empty array is no argument")
  check.equal(call(bridge, "count", nil).result, 0, "absent arguments")
  check.equal(call(bridge, "count", json.null).result, 0, "null arguments")
end

function tests.unknown_function()
  local bridge = new_bridge()
  local reply = call(bridge, "nope", json.array(), "9")
  check.equal(reply.type, "lua_response")
  check.equal(reply.id, "9")
  check.equal(reply.success, false)
  check.equal(reply.error.code, "INVALID_FUNCTION")
  check.is_true(string.find(reply.error.message, "nope", 1, true), "the message names the function")
end

function tests.handler_errors_become_lua_execution_error()
  local bridge = new_bridge()
  bridge:register("boom", nil, nil, function() error("the bridge is out") end)
  local reply = call(bridge, "boom", nil, "3")
  check.equal(reply.success, false)
  check.equal(reply.id, "3")
  check.equal(reply.error.code, "LUA_EXECUTION_ERROR")
  check.is_true(string.find(reply.error.message, "the bridge is out", 1, true), reply.error.message)
  check.is_nil(reply.result)
end

function tests.handlers_may_choose_the_error_code()
  local bridge = new_bridge()
  bridge:register("find", nil, nil, function() error({ code = "NOT_FOUND", message = "no unit 5" }) end)
  check.equal(call(bridge, "find").error, { code = "NOT_FOUND", message = "no unit 5" })
end

function tests.results()
  local bridge = new_bridge()
  bridge:register("nothing", nil, nil, function() end)
  bridge:register("two", nil, nil, function() return "first", "second" end)
  bridge:register("table", nil, nil, function() return { units = json.array() } end)
  local reply = call(bridge, "nothing")
  check.equal(reply.success, true)
  check.is_true(reply.result == json.null, "nil becomes json.null")
  check.equal(json.encode(reply), '{"id":"c1","result":null,"success":true,"type":"lua_response"}')
  check.equal(call(bridge, "two").result, "first", "only the first value")
  check.equal(json.encode(call(bridge, "table").result), '{"units":[]}')
end

function tests.register_queues_lua_register()
  local bridge = new_bridge()
  local schema = { type = "object", properties = { x = { type = "integer" } }, required = { "x" } }
  bridge:register("move", "Moves a unit", schema, function() end)
  bridge:register("ping", nil, nil, function() end)
  check.equal(bridge:take_outgoing(), {
    { type = "lua_register", ["function"] = "move", description = "Moves a unit", parameters = schema },
    { type = "lua_register", ["function"] = "ping" },
  })
  check.equal(bridge:take_outgoing(), {}, "take_outgoing empties the queue")
  check.equal(bridge:has_outgoing(), false)
end

function tests.register_checks_its_arguments()
  local bridge = new_bridge()
  check.raises(function() bridge:register("f", "no handler", nil, nil) end, "must be a function")
  check.raises(function() bridge:register("", nil, nil, print) end, "non-empty string")
  check.raises(function() bridge:register("f", nil, { default = print }, print) end, "not JSON")
  check.equal(bridge:registrations(), {})
end

function tests.registrations_follow_register_unregister_and_clear()
  local bridge = new_bridge()
  bridge:register("a", "first", nil, print)
  bridge:register("b", "second", nil, print)
  bridge:register("c", "third", nil, print)
  bridge:register("a", "first, again", nil, print)
  check.equal(bridge:unregister("b"), true)
  check.equal(bridge:unregister("b"), false)
  check.equal(bridge:registrations(), {
    { type = "lua_register", ["function"] = "a", description = "first, again" },
    { type = "lua_register", ["function"] = "c", description = "third" },
  })
  local queued = bridge:take_outgoing()
  check.equal(#queued, 6)
  check.equal(queued[5], { type = "lua_unregister", ["function"] = "b" })
  bridge:clear()
  check.equal(bridge:take_outgoing(), { { type = "lua_clear" } })
  check.equal(bridge:registrations(), {})
  check.equal(call(bridge, "a").error.code, "INVALID_FUNCTION")
end

function tests.emit_queues_game_event()
  local bridge = new_bridge()
  bridge:emit("TurnStart", { turn = 3 })
  bridge:emit("Tick")
  bridge:emit("UnitMoved", { unit = 1 }, 3000001)
  local queued = bridge:take_outgoing()
  check.equal(json.encode(queued[1]), '{"event":"TurnStart","payload":{"turn":3},"type":"game_event"}')
  check.equal(json.encode(queued[2]), '{"event":"Tick","payload":null,"type":"game_event"}')
  check.equal(queued[3].id, 3000001)
  check.raises(function() bridge:emit(nil, {}) end, "must be a string")
end

function tests.call_agent_success()
  local bridge = new_bridge()
  local calls = {}
  local id = bridge:call_agent("advise", { turn = 3 }, function(result, err)
    calls[#calls + 1] = { result = result, err = err }
  end)
  check.equal(type(id), "string")
  check.equal(bridge:take_outgoing(), {
    { type = "external_call", id = id, ["function"] = "advise", args = { turn = 3 }, async = true },
  })
  check.is_nil(bridge:handle({ type = "external_response", id = id, success = true, result = { plan = "attack" } }))
  check.equal(calls, { { result = { plan = "attack" } } })
  bridge:handle({ type = "external_response", id = id, success = true, result = 1 })
  check.equal(#calls, 1, "a second answer to the same id is ignored")
end

function tests.call_agent_error()
  local bridge = new_bridge()
  local got_result, got_error = "unset", "unset"
  local id = bridge:call_agent("advise", nil, function(result, err) got_result, got_error = result, err end)
  check.is_true(bridge:take_outgoing()[1].args == json.null, "absent arguments are null")
  bridge:handle({ type = "external_response", id = id, success = false,
    error = { code = "CALL_TIMEOUT", message = "the agent did not answer" } })
  check.is_nil(got_result)
  check.equal(got_error, { code = "CALL_TIMEOUT", message = "the agent did not answer" })
end

function tests.call_agent_ids_are_unique_and_callback_errors_are_contained()
  local bridge, errors = new_bridge()
  local first = bridge:call_agent("a", nil, function() error("callback broke") end)
  local second = bridge:call_agent("a", nil, nil)
  check.is_true(first ~= second, "fresh ids")
  bridge:handle({ type = "external_response", id = first, success = true, result = 1 })
  check.equal(#errors, 1)
  check.is_true(string.find(errors[1], "callback broke", 1, true), errors[1])
  bridge:handle({ type = "external_response", id = second, success = true })
  bridge:handle({ type = "external_response", id = "unknown", success = true })
end

function tests.execute_is_disabled_by_default()
  local bridge = new_bridge()
  local reply = bridge:handle({ type = "lua_execute", id = "e1", script = "return 1" })
  check.equal(reply.success, false)
  check.equal(reply.id, "e1")
  check.equal(reply.error.code, "INVALID_SCRIPT")
  check.is_true(string.find(reply.error.message, "disabled", 1, true), reply.error.message)
end

function tests.execute_when_enabled()
  local bridge = new_bridge({ allow_execute = true })
  check.equal(bridge:handle({ type = "lua_execute", id = "e1", script = "return 1 + 2, 'ignored'" }),
    { type = "lua_response", id = "e1", success = true, result = 3 })
  check.is_true(bridge:handle({ type = "lua_execute", id = "e2", script = "local x = 1" }).result == json.null)
  check.equal(bridge:handle({ type = "lua_execute", id = "e3", script = "return +" }).error.code, "INVALID_SCRIPT")
  local failed = bridge:handle({ type = "lua_execute", id = "e4", script = "error('nope')" })
  check.equal(failed.error.code, "LUA_EXECUTION_ERROR")
  check.is_true(string.find(failed.error.message, "nope", 1, true), failed.error.message)
  check.equal(bridge:handle({ type = "lua_execute", id = "e5" }).error.code, "INVALID_SCRIPT")
  local bytecode = string.dump(function() return 1 end)
  check.equal(bridge:handle({ type = "lua_execute", id = "e6", script = bytecode }).error.code, "INVALID_SCRIPT")
end

function tests.agent_function_registrations_are_tracked()
  local bridge = new_bridge()
  check.is_nil(bridge:handle({ type = "external_register", name = "advise", async = true }))
  bridge:handle({ type = "external_register", name = "log", async = false })
  check.equal(bridge.agent_functions, { advise = { async = true }, log = { async = false } })
  bridge:handle({ type = "external_unregister", name = "advise" })
  check.equal(bridge.agent_functions, { log = { async = false } })
end

function tests.pause_and_production_hooks()
  local bridge, errors = new_bridge()
  local seen = {}
  local function record(name) return function(...) seen[#seen + 1] = { name, ... } end end
  bridge.on_pause_player = record("pause_player")
  bridge.on_unpause_player = record("unpause_player")
  bridge.on_clear_paused_players = record("clear")
  bridge.on_pause_game = record("pause_game")
  bridge.on_resume_game = record("resume_game")
  bridge.on_production_mode = record("production")

  check.is_nil(bridge:handle({ type = "pause_player", playerID = 3 }))
  bridge:handle({ type = "pause_player", playerID = 4 })
  check.equal(bridge.paused_players, { [3] = true, [4] = true })
  bridge:handle({ type = "unpause_player", playerID = 3 })
  check.equal(bridge.paused_players, { [4] = true })
  bridge:handle({ type = "clear_paused_players" })
  check.equal(bridge.paused_players, {})
  bridge:handle({ type = "set_production_mode", enabled = true })
  check.equal(bridge.production_mode, true)
  bridge:handle({ type = "pause_game" })
  check.equal(bridge.game_paused, true)
  bridge:handle({ type = "resume_game" })
  check.equal(bridge.game_paused, false)
  check.equal(seen, {
    { "pause_player", 3 }, { "pause_player", 4 }, { "unpause_player", 3 }, { "clear" },
    { "production", true }, { "pause_game" }, { "resume_game" },
  })

  bridge.on_pause_game = function() error("hook broke") end
  bridge:handle({ type = "pause_game" })
  check.equal(#errors, 1, "a failing hook is reported, not raised")
end

function tests.hooks_are_optional_and_unknown_messages_ignored()
  local bridge = new_bridge()
  bridge:handle({ type = "pause_player", playerID = 1 })
  bridge:handle({ type = "set_production_mode", enabled = false })
  check.is_nil(bridge:handle({ type = "something_new", id = "x" }))
  check.is_nil(bridge:handle("not a table"))
  check.is_nil(bridge:handle({}))
  check.equal(bridge:take_outgoing(), {})
end

function tests.default_clock()
  local bridge = core.new()
  local now = bridge.now_ms()
  check.is_true(math.abs(now - os.time() * 1000) <= 1000, "Unix milliseconds from os.time")
  check.equal(bridge.clock_resolution_ms, 1000)
  check.equal(bridge.allow_execute, false)
  check.equal(new_bridge().clock_resolution_ms, 0, "a clock passed in is taken as exact")
end

function tests.init_module_gathers_the_parts()
  local gamebridge = require("gamebridge")
  check.is_true(gamebridge.json == json and gamebridge.core == core, "same modules")
  check.is_true(gamebridge.new == core.new, "new is core.new")
  check.is_true(gamebridge.mailbox == require("gamebridge.mailbox"), "mailbox")
end

return tests
