--[[
End-to-end tests of gamebridge.mailbox in a temporary folder. The test plays
the bridge: it writes requests/ID.json, appends ID lines to requests.idx,
calls poll() and reads what the game wrote back.

Only these tests and test_fifo.lua use os.execute (to make and remove the
folder); the SDK itself must not, and the tests check that it does not.
]]

local core = require("gamebridge.core")
local json = require("gamebridge.json")
local mailbox = require("gamebridge.mailbox")
local check = require("tests.helpers")

local tests = {}

local START = 1700000000000

local function read_file(path)
  local file = io.open(path, "r")
  if not file then return nil end
  local text = file:read("*a")
  file:close()
  return text
end

local function write_file(path, mode, text)
  local file = assert(io.open(path, mode))
  file:write(text)
  file:close()
end

-- Runs test(dir) in a fresh folder laid out as the bridge leaves it, then removes it.
local function with_folder(test)
  local base = os.tmpname()
  local dir = base .. "-mailbox"
  assert(not string.find(dir, "[^%w/._-]"), "unexpected temporary name " .. dir)
  os.execute("mkdir -p " .. dir .. "/requests " .. dir .. "/responses")
  local ok, err = pcall(test, dir)
  os.execute("rm -rf " .. dir)
  os.remove(base)
  if not ok then error(err, 0) end
end

-- A bridge with a clock the test moves by hand.
local function new_bridge(options)
  local clock = { now = START }
  local errors = {}
  options = options or {}
  options.now_ms = function() return clock.now end
  options.on_error = function(message) errors[#errors + 1] = message end
  return core.new(options), clock, errors
end

-- What the bridge does to send a request: the file first, then the index line.
local function send_request(dir, id, message)
  write_file(dir .. "/requests/" .. id .. ".json", "w", type(message) == "string" and message or json.encode(message))
  write_file(dir .. "/requests.idx", "a", id .. "\n")
end

local function lua_call(id, name, args, deadline_ms)
  return { type = "lua_call", id = id, ["function"] = name, args = args, deadline_ms = deadline_ms or (START + 60000) }
end

local function response(dir, id)
  local text = read_file(dir .. "/responses/" .. id .. ".json")
  return text and assert(json.decode(text)), read_file(dir .. "/responses/" .. id .. ".ready")
end

-- The messages in outbox.jsonl, without its start line.
local function outbox_messages(dir)
  local messages = {}
  for line in string.gmatch(read_file(dir .. "/outbox.jsonl") or "", "([^\n]*)\n") do
    local message = assert(json.decode(line))
    if message.type ~= "outbox_start" then messages[#messages + 1] = message end
  end
  return messages
end

-- The first line of outbox.jsonl, decoded.
local function outbox_start(dir)
  return assert(json.decode(string.match(read_file(dir .. "/outbox.jsonl") or "", "^([^\n]*)\n") or ""))
end

function tests.lua_call_is_answered_with_json_and_ready_marker()
  with_folder(function(dir)
    local bridge = new_bridge()
    bridge:register("add", "Adds", nil, function(a, b) return a + b end)
    local transport = mailbox.new(bridge, dir)
    send_request(dir, "r1", lua_call("r1", "add", json.array({ 2, 3 })))
    check.equal(transport:poll(), 1)
    local answer, ready = response(dir, "r1")
    check.equal(answer, { type = "lua_response", id = "r1", success = true, result = 5 })
    check.equal(ready, "", "the marker is an empty file")
    check.equal(transport:poll(), 0, "an id is run once")
  end)
end

function tests.errors_are_answered_too()
  with_folder(function(dir)
    local bridge = new_bridge()
    bridge:register("boom", nil, nil, function() error("kaput") end)
    bridge:register("bad_result", nil, nil, function() return { f = print } end)
    local transport = mailbox.new(bridge, dir)
    send_request(dir, "a", lua_call("a", "boom"))
    send_request(dir, "b", lua_call("b", "missing"))
    send_request(dir, "c", { type = "lua_execute", id = "c", script = "return 1", deadline_ms = START + 1000 })
    send_request(dir, "d", lua_call("d", "bad_result"))
    check.equal(transport:poll(), 4)
    check.equal(response(dir, "a").error.code, "LUA_EXECUTION_ERROR")
    check.equal(response(dir, "b").error.code, "INVALID_FUNCTION")
    check.equal(response(dir, "c").error.code, "INVALID_SCRIPT")
    local unencodable = response(dir, "d")
    check.equal(unencodable.success, false)
    check.equal(unencodable.error.code, "SERIALIZATION_ERROR")
    check.equal(unencodable.id, "d")
  end)
end

function tests.requests_from_before_the_game_started_are_ignored()
  with_folder(function(dir)
    local bridge = new_bridge()
    local runs = 0
    bridge:register("count", nil, nil, function() runs = runs + 1 end)
    send_request(dir, "old", lua_call("old", "count"))
    local transport = mailbox.new(bridge, dir)
    check.equal(transport:poll(), 0)
    check.is_nil(response(dir, "old"))
    send_request(dir, "new", lua_call("new", "count"))
    check.equal(transport:poll(), 1)
    check.equal(runs, 1, "only the new request ran")
    check.is_nil(response(dir, "old"))
    check.is_true(response(dir, "new"), "the new request is answered")
  end)
end

function tests.expired_deadline_is_not_run()
  with_folder(function(dir)
    local bridge, clock = new_bridge()
    local runs = 0
    bridge:register("count", nil, nil, function() runs = runs + 1 end)
    local transport = mailbox.new(bridge, dir)
    clock.now = START + 5000
    send_request(dir, "late", lua_call("late", "count", nil, START + 4999))
    send_request(dir, "just_in_time", lua_call("just_in_time", "count", nil, START + 5000))
    send_request(dir, "no_deadline", { type = "lua_call", id = "no_deadline", ["function"] = "count" })
    check.equal(transport:poll(), 2)
    check.equal(runs, 2)
    check.is_nil(response(dir, "late"), "no answer for an expired request")
    check.is_true(response(dir, "just_in_time"), "a deadline equal to now still runs")
  end)
end

function tests.coarse_default_clock_checks_deadlines_conservatively()
  with_folder(function(dir)
    local bridge = core.new({ on_error = function() end }) -- os.time() clock, 1 s resolution
    local runs = 0
    bridge:register("count", nil, nil, function() runs = runs + 1 end)
    local transport = mailbox.new(bridge, dir)
    local now = os.time() * 1000
    send_request(dir, "maybe_late", lua_call("maybe_late", "count", nil, now + 500))
    send_request(dir, "in_time", lua_call("in_time", "count", nil, now + 30000))
    check.equal(transport:poll(), 1)
    check.is_nil(response(dir, "maybe_late"), "could be past its deadline within the clock's second")
    check.is_true(response(dir, "in_time"))
  end)
end

function tests.partial_index_line_waits_until_complete()
  with_folder(function(dir)
    local bridge = new_bridge()
    bridge:register("ping", nil, nil, function() return "pong" end)
    local transport = mailbox.new(bridge, dir)
    write_file(dir .. "/requests/p1.json", "w", json.encode(lua_call("p1", "ping")))
    write_file(dir .. "/requests/p2.json", "w", json.encode(lua_call("p2", "ping")))
    write_file(dir .. "/requests.idx", "a", "p1\np")
    check.equal(transport:poll(), 1, "only the complete line")
    check.is_true(response(dir, "p1"))
    check.is_nil(response(dir, "p2"))
    check.equal(transport:poll(), 0, "still partial")
    write_file(dir .. "/requests.idx", "a", "2")
    check.equal(transport:poll(), 0, "still no newline")
    write_file(dir .. "/requests.idx", "a", "\n")
    check.equal(transport:poll(), 1)
    check.equal(response(dir, "p2").result, "pong")
  end)
end

function tests.missing_request_file_is_skipped()
  with_folder(function(dir)
    local bridge = new_bridge()
    bridge:register("ping", nil, nil, function() return "pong" end)
    local transport = mailbox.new(bridge, dir)
    write_file(dir .. "/requests.idx", "a", "withdrawn\n")
    send_request(dir, "kept", lua_call("kept", "ping"))
    check.equal(transport:poll(), 1)
    check.is_nil(response(dir, "withdrawn"))
    check.equal(response(dir, "kept").result, "pong")
  end)
end

function tests.malformed_ids_and_requests_are_skipped()
  with_folder(function(dir)
    local bridge, _, errors = new_bridge()
    bridge:register("ping", nil, nil, function() return "pong" end)
    local transport = mailbox.new(bridge, dir)
    write_file(dir .. "/requests.idx", "a", "../outside\n\n")
    write_file(dir .. "/requests/broken.json", "w", '{"type":"lua_call",')
    write_file(dir .. "/requests.idx", "a", "broken\n")
    send_request(dir, "fine", lua_call("fine", "ping"))
    check.equal(transport:poll(), 1)
    check.equal(response(dir, "fine").result, "pong")
    check.is_nil(response(dir, "broken"))
    check.equal(#errors, 2, "both problems are reported")
  end)
end

function tests.index_truncation_resets_the_offset()
  with_folder(function(dir)
    local bridge = new_bridge()
    bridge:register("ping", nil, nil, function() return "pong" end)
    local transport = mailbox.new(bridge, dir)
    send_request(dir, "a-long-request-id-from-the-first-bridge", lua_call("x", "ping"))
    check.equal(transport:poll(), 1)
    -- A new bridge starts the index again, shorter than the old offset.
    write_file(dir .. "/requests/n1.json", "w", json.encode(lua_call("n1", "ping")))
    write_file(dir .. "/requests.idx", "w", "n1\n")
    check.equal(transport:poll(), 1)
    check.equal(response(dir, "n1").result, "pong")
  end)
end

function tests.outbox_gets_registrations_then_messages()
  with_folder(function(dir)
    write_file(dir .. "/outbox.jsonl", "w", '{"type":"game_event","event":"FromLastSession"}\n')
    local bridge = new_bridge()
    bridge:register("first", "registered before the transport", { type = "object" }, print)
    bridge:register("dropped", nil, nil, print)
    bridge:unregister("dropped")
    bridge:emit("Early", { n = 1 })
    local transport = mailbox.new(bridge, dir)
    check.equal(outbox_messages(dir), {
      { type = "lua_register", ["function"] = "first", description = "registered before the transport",
        parameters = { type = "object" } },
      { type = "game_event", event = "Early", payload = { n = 1 } },
    }, "the file starts over with the registrations")
    bridge:register("second", nil, nil, print)
    bridge:emit("TurnStart", { turn = 2 })
    local id = bridge:call_agent("advise", json.array({ 1 }))
    transport:poll()
    local messages = outbox_messages(dir)
    check.equal(#messages, 5)
    check.equal(messages[3], { type = "lua_register", ["function"] = "second" })
    check.equal(messages[4], { type = "game_event", event = "TurnStart", payload = { turn = 2 } })
    check.equal(messages[5], { type = "external_call", id = id, ["function"] = "advise", args = { 1 }, async = true })
    check.equal(json.encode(messages[5].args), "[1]")
  end)
end

function tests.a_long_outbox_starts_over_once_the_bridge_has_read_it_all()
  with_folder(function(dir)
    local bridge = new_bridge()
    bridge:register("ping", nil, nil, function() return "pong" end)
    local transport = mailbox.new(bridge, dir, { outbox_limit = 200 })
    local function size() return #(read_file(dir .. "/outbox.jsonl") or "") end
    local function acknowledge(generation, offset)
      write_file(dir .. "/outbox.read", "w",
        json.encode({ started_ms = START, generation = generation, offset = offset }))
    end
    check.equal(outbox_start(dir), { type = "outbox_start", started_ms = START, generation = 1 })
    for n = 1, 10 do
      bridge:emit("Tick", { n = n })
      transport:poll()
    end
    check.is_true(size() > 200, "past the limit")
    check.equal(#outbox_messages(dir), 11, "unread by the bridge, the outbox keeps growing")

    acknowledge(1, size() - 1)
    bridge:emit("Tick", { n = 11 })
    transport:poll()
    check.equal(#outbox_messages(dir), 12, "part read is not all read")
    acknowledge(0, size())
    bridge:emit("Tick", { n = 12 })
    transport:poll()
    check.equal(#outbox_messages(dir), 13, "an acknowledgement of another start counts for nothing")

    acknowledge(1, size())
    bridge:emit("Tick", { n = 13 })
    transport:poll()
    check.equal(outbox_start(dir), { type = "outbox_start", started_ms = START, generation = 2 })
    check.equal(outbox_messages(dir), {
      { type = "lua_register", ["function"] = "ping" },
      { type = "game_event", event = "Tick", payload = { n = 13 } },
    }, "started over: the registrations, then what waited")
    bridge:emit("Tick", { n = 14 })
    transport:poll()
    check.equal(#outbox_messages(dir), 3, "and appended to again")
  end)
end

function tests.messages_queued_by_handlers_are_sent_in_the_same_poll()
  with_folder(function(dir)
    local bridge = new_bridge()
    bridge:register("build", nil, nil, function(args)
      bridge:emit("Built", { what = args.what })
      return true
    end)
    local transport = mailbox.new(bridge, dir)
    send_request(dir, "b1", lua_call("b1", "build", { what = "road" }))
    check.equal(transport:poll(), 1)
    local messages = outbox_messages(dir)
    check.equal(messages[#messages], { type = "game_event", event = "Built", payload = { what = "road" } })
  end)
end

function tests.agent_answers_arrive_as_requests()
  with_folder(function(dir)
    local bridge = new_bridge()
    local transport = mailbox.new(bridge, dir)
    local answer
    local id = bridge:call_agent("advise", { turn = 1 }, function(result, err) answer = { result, err } end)
    transport:poll()
    send_request(dir, "m7", { type = "external_response", id = id, success = true, result = { plan = "wait" } })
    send_request(dir, "m8", { type = "external_register", name = "advise", async = true })
    check.equal(transport:poll(), 2)
    check.equal(answer, { { plan = "wait" } })
    check.is_nil(response(dir, "m7"), "no answer to an answer")
    check.equal(bridge.agent_functions.advise, { async = true })
  end)
end

function tests.heartbeat_is_written_and_refreshed()
  with_folder(function(dir)
    local bridge, clock = new_bridge()
    local transport = mailbox.new(bridge, dir, { heartbeat_ms = 1000 })
    local function heartbeat() return assert(json.decode(read_file(dir .. "/heartbeat.json"))) end
    check.equal(heartbeat(), { started_ms = START, ticks = 0 })
    transport:poll()
    clock.now = START + 999
    transport:poll()
    check.equal(heartbeat(), { started_ms = START, ticks = 0 }, "not rewritten before heartbeat_ms")
    clock.now = START + 1000
    transport:poll()
    check.equal(heartbeat(), { started_ms = START, ticks = 3 })
    clock.now = START + 1500
    transport:poll()
    check.equal(heartbeat().ticks, 3)
    clock.now = START + 2000
    transport:poll()
    check.equal(heartbeat(), { started_ms = START, ticks = 5 })
  end)
end

function tests.idle_poll_opens_only_the_index()
  with_folder(function(dir)
    local bridge = new_bridge()
    local transport = mailbox.new(bridge, dir)
    local real_open = io.open
    local opened = {}
    io.open = function(path, mode)
      opened[#opened + 1] = path .. " " .. mode
      return real_open(path, mode)
    end
    local ok, err = pcall(function()
      transport:poll()
      transport:poll()
    end)
    io.open = real_open
    assert(ok, err)
    check.equal(opened, { dir .. "/requests.idx r", dir .. "/requests.idx r" })
  end)
end

function tests.sdk_never_renames_removes_or_runs_commands()
  with_folder(function(dir)
    local forbidden = { "rename", "remove", "execute", "tmpname" }
    local saved = {}
    for _, name in ipairs(forbidden) do
      saved[name] = os[name]
      os[name] = function() error("the SDK called os." .. name) end
    end
    local saved_popen = io.popen
    io.popen = function() error("the SDK called io.popen") end
    local ok, err = pcall(function()
      local bridge, clock = new_bridge()
      bridge:register("ping", nil, nil, function() return "pong" end)
      local transport = mailbox.new(bridge, dir)
      bridge:emit("Event", {})
      send_request(dir, "r1", lua_call("r1", "ping"))
      transport:poll()
      clock.now = START + 5000
      transport:poll()
      check.equal(response(dir, "r1").result, "pong")
    end)
    for _, name in ipairs(forbidden) do os[name] = saved[name] end
    io.popen = saved_popen
    assert(ok, err)
  end)
end

function tests.game_started_before_the_bridge_made_the_folder()
  with_folder(function(parent)
    local dir = parent .. "/later"
    local bridge, clock = new_bridge()
    bridge:register("ping", nil, nil, function() return "pong" end)
    local transport = mailbox.new(bridge, dir, { heartbeat_ms = 1000 })
    bridge:emit("WhileAlone", { n = 1 })
    check.equal(transport:poll(), 0, "no folder, no error")
    os.execute("mkdir -p " .. dir .. "/requests " .. dir .. "/responses")
    clock.now = START + 1000
    transport:poll()
    check.equal(outbox_messages(dir), {
      { type = "lua_register", ["function"] = "ping" },
      { type = "game_event", event = "WhileAlone", payload = { n = 1 } },
    })
    check.is_true(read_file(dir .. "/heartbeat.json"), "the heartbeat starts once the folder exists")
    send_request(dir, "r1", lua_call("r1", "ping"))
    check.equal(transport:poll(), 1)
    check.equal(response(dir, "r1").result, "pong")
  end)
end

function tests.messages_waiting_for_the_folder_are_bounded()
  with_folder(function(parent)
    local dir = parent .. "/never"
    local bridge, _, errors = new_bridge()
    local transport = mailbox.new(bridge, dir, { max_unsent = 3 })
    for i = 1, 5 do bridge:emit("E", i) end
    transport:poll()
    check.equal(#transport.unsent, 3)
    check.equal(transport.dropped_messages, 2)
    check.equal(json.decode(transport.unsent[1].line).payload, 3, "the oldest are dropped")
    check.equal(#errors, 1)
  end)
end

return tests
