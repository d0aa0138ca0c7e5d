-- A stand-in lockstep game (Tempest-like) over a FIFO pair, for
-- `gamebridge sim` (no --emu needed): it opens $STEP_TARGET_output and
-- $STEP_TARGET_input with gamebridge.fifo and sends one frame per tick,
-- blocking on each reply. Until the FIFOs exist it tries again every tick,
-- for up to 10 s; once they exist, opening waits for the bridge. Settings and
-- output: step_common.lua. The first failed frame ends the run.
--
--   STEP_TARGET=/tmp/tempest STEP_FRAMES=100 STEP_OUT=/tmp/out \
--     gamebridge sim tests/lua/step_fifo.lua --tick-ms 1

local fifo = require("gamebridge.fifo")
local common = require("step_common")

local settings = common.settings()
local write_line = common.output()
local started_ms = gamebridge_host.now_ms()
local link
local replies = 0
local next_frame = 1
local finished = false

local function finish(line)
  if line then write_line(line) end
  if link then link:close() end
  write_line("done " .. replies)
  finished = true
  gamebridge_host.stop()
end

function tick()
  if finished then return end
  if not link then
    local problem
    link, problem = fifo.open(settings.target, settings.link_options)
    if not link then
      if gamebridge_host.now_ms() - started_ms > 10000 then finish("error 1 " .. problem) end
      return
    end
  end
  if next_frame > settings.frames then return finish() end
  local reply, problem = link:step(common.frame(next_frame, settings.payload))
  if not reply then return finish("error " .. next_frame .. " " .. problem) end
  write_line(common.reply_line(next_frame, reply))
  replies = replies + 1
  next_frame = next_frame + 1
  if next_frame > settings.frames then finish() end
end
