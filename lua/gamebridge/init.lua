--[[
gamebridge: the game-side Lua SDK of gamebridge, in one table.

Why it exists: one require gives a mod everything. The parts are required by
their dotted names ("gamebridge.json", ...) because some game hosts register
modules only under those names.

    local gamebridge = require("gamebridge")
    local bridge = gamebridge.new({ allow_execute = false })
    local transport = gamebridge.mailbox.new(bridge, "/tmp/mygame")
]]

local json = require("gamebridge.json")
local core = require("gamebridge.core")
local mailbox = require("gamebridge.mailbox")

return {
  json = json,
  core = core,
  mailbox = mailbox,
  new = core.new,
}
