-- A small game mod built on the Lua SDK, for the modern mailbox tests under
-- `gamebridge sim`. The folder comes from $GAME_DIR; every call the game runs
-- is appended to $GAME_RUNS.

local gamebridge = require("gamebridge")

-- Under `gamebridge sim` the SDK uses the host's millisecond clock by itself.
local bridge = gamebridge.new()
local runs_file = os.getenv("GAME_RUNS")

local function record(text)
  if not runs_file then return end
  local runs = io.open(runs_file, "a")
  runs:write(text, "\n")
  runs:close()
end

bridge:register("MoveUnit", "Move a unit to a tile", {
  type = "object",
  properties = { unit = { type = "integer" }, x = { type = "integer" }, y = { type = "integer" } },
  required = { "unit", "x", "y" },
}, function(args)
  record("MoveUnit " .. args.unit)
  bridge:emit("UnitMoved", { unit = args.unit, x = args.x, y = args.y })
  return { unit = args.unit, x = args.x, y = args.y }
end)

bridge:register("Add", "Add two numbers", nil, function(a, b)
  record("Add " .. a .. " " .. b)
  return a + b
end)

bridge:register("Fail", "Always fails", nil, function()
  error("no such city", 0)
end)

bridge:register("AskAgent", "Asks the agent function Advise", nil, function(args)
  bridge:call_agent("Advise", args, function(result, err)
    bridge:emit("Advice", { result = result, error = err })
  end)
  return "asked"
end)

-- Emits `count` events numbered on from the last: a busy game's outbox.
local emitted = 0
bridge:register("Burst", "Emits numbered events", nil, function(count)
  for _ = 1, count do
    emitted = emitted + 1
    bridge:emit("Burst", { n = emitted })
  end
  return emitted
end)

local transport = gamebridge.mailbox.new(bridge, os.getenv("GAME_DIR"), {
  outbox_limit = tonumber(os.getenv("GAME_OUTBOX_LIMIT") or ""),
})

function tick()
  transport:poll()
end
