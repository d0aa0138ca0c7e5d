-- example.lua: the example mod of lua/README.md (run: gamebridge sim lua/example.lua)
local gamebridge = require("gamebridge")

local bridge = gamebridge.new()
local turn = 1

bridge:register("get_turn", "The current turn number", nil, function()
  return turn
end)

bridge:register("move_unit", "Moves a unit to a tile", {
  type = "object",
  properties = { unit = { type = "integer" }, x = { type = "integer" }, y = { type = "integer" } },
  required = { "unit", "x", "y" },
}, function(args)
  print(("unit %d moves to %d,%d"):format(args.unit, args.x, args.y))
  return { moved = true }
end)

local transport = gamebridge.mailbox.new(bridge, "/tmp/mygame")
bridge:emit("GameStarted", { turn = turn })

-- Call this from the game's per-frame (tick) event.
function tick()
  transport:poll()
end
