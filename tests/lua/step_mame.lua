-- A stand-in MAME lockstep game (Tempest-like) for `gamebridge sim --emu`:
-- it connects with gamebridge.mame to $STEP_TARGET (socket.HOST:PORT or
-- domain./PATH) and, from a frame notifier, sends one frame per tick and
-- waits for its reply. Settings and output: step_common.lua. A failed frame
-- is logged and sent again on a later tick (the link reconnects first); the
-- run gives up after 10 s without a reply. The stop notifier writes
-- "done N", so it also shows how far a run stopped early got.
--
--   STEP_TARGET=socket.127.0.0.1:9999 STEP_FRAMES=100 STEP_OUT=/tmp/out \
--     gamebridge sim --emu tests/lua/step_mame.lua --tick-ms 1

local mame = require("gamebridge.mame")
local common = require("step_common")

local settings = common.settings()
local write_line = common.output()
local link, last_error
local replies = 0
local next_frame = 1
local last_progress_ms = gamebridge_host.now_ms()
local last_connect_ms = nil

local function report_error(n, message)
  -- The link refuses to reconnect more than once a second; not worth a line each tick.
  if message ~= "disconnected: waiting to reconnect" then write_line("error " .. n .. " " .. message) end
  last_error = message
end

emu.add_machine_frame_notifier(function()
  if next_frame > settings.frames then return end
  local now = gamebridge_host.now_ms()
  if now - last_progress_ms > 10000 then
    write_line("error " .. next_frame .. " giving up: " .. tostring(last_error))
    next_frame = settings.frames + 1
    gamebridge_host.stop()
    return
  end
  if not link then
    -- Not connected yet (the server may start after the game): try every 100 ms.
    if last_connect_ms and now - last_connect_ms < 100 then return end
    last_connect_ms = now
    local problem
    link, problem = mame.connect(settings.target, settings.link_options)
    if not link then
      report_error(next_frame, problem)
      return
    end
  end
  local reply, problem = link:step(common.frame(next_frame, settings.payload))
  if not reply then
    report_error(next_frame, problem)
    return
  end
  write_line(common.reply_line(next_frame, reply))
  replies = replies + 1
  last_progress_ms = now
  next_frame = next_frame + 1
  if next_frame > settings.frames then gamebridge_host.stop() end
end)

emu.add_machine_stop_notifier(function()
  if link then link:close() end
  write_line("done " .. replies)
end)
