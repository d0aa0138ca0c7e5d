-- A stand-in for the Transport Fever 2 AI Builder mod's simple_ipc.lua, for
-- tests and benchmarks under `gamebridge sim`. It keeps the real mod's order
-- within a tick exactly: read the command file; skip it if its id is the
-- one run last; run the handler (the game waits for it); write the answer in
-- place (not atomically: in two writes); write the log; only then delete the
-- command file. Every command it runs is appended to $TF2_RUNS, so tests can
-- check that none ran twice or late.
--
-- Timing, to make the real mod's races happen on purpose:
--   TF2_HANDLER_MS  every handler takes this long (default 0);
--   TF2_GAP_MS      between writing the answer and deleting the command, as
--                   the real mod's log writes take under load (default 0);
--   a command's own `delay_ms` parameter makes that one handler slow.

local json = require("gamebridge.json")

local prefix = os.getenv("TF2_PREFIX") or "/tmp/tf2"
local command_file, answer_file = prefix .. "_cmd.json", prefix .. "_resp.json"
local runs_file = os.getenv("TF2_RUNS")
local handler_ms = tonumber(os.getenv("TF2_HANDLER_MS") or "0")
local gap_ms = tonumber(os.getenv("TF2_GAP_MS") or "0")
local last_command_id = nil
local money = 2500000

-- Handlers answer as the real mod's do: a whole response table.
local handlers = {
  ping = function() return { status = "ok", data = "pong" } end,
  query_game_state = function()
    return { status = "ok", data = { year = "1855", month = "3", money = tostring(money), speed = "1", paused = "false" } }
  end,
  echo = function(params) return { status = "ok", data = params } end,
  add_money = function(params)
    money = money + tonumber(params.amount or "50000000")
    return { status = "ok", data = { money = tostring(money) } }
  end,
  pause = function() return { status = "ok", message = "Ignored - game stays at 4x" } end,
  build_road = function(params) return { status = "pending", data = { cargo = params.cargo or "any" } } end,
  fail = function() error("Invalid town_id parameter", 0) end,
}

local function read_all(path)
  local file = io.open(path, "r")
  if not file then return nil end
  local text = file:read("*a")
  file:close()
  return text
end

function tick()
  local text = read_all(command_file)
  if not text or #text == 0 then return end
  local ok, command = pcall(json.decode, text)
  if not ok or not command then
    os.remove(command_file)
    return
  end
  if command.id == last_command_id then return end
  last_command_id = command.id
  if runs_file then
    local runs = io.open(runs_file, "a")
    runs:write(command.id, " ", tostring(command.cmd), "\n")
    runs:close()
  end
  local params = command.params or {}
  local delay = handler_ms + (tonumber(params.delay_ms or "0") or 0)
  if delay > 0 then gamebridge_host.sleep_ms(delay) end
  local answer
  local handler = handlers[command.cmd]
  if not handler then
    answer = { status = "error", message = "Unknown command: " .. tostring(command.cmd) }
  else
    local success, result = pcall(handler, params)
    answer = success and result or { status = "error", message = tostring(result) }
  end
  answer.id = command.id
  local encoded = json.encode(answer)
  local half = math.floor(#encoded / 2)
  local out = io.open(answer_file, "w")
  out:write(encoded:sub(1, half))
  out:flush()
  out:write(encoded:sub(half + 1))
  out:close()
  if gap_ms > 0 then gamebridge_host.sleep_ms(gap_ms) end
  os.remove(command_file)
end
