-- A stand-in for the Transport Fever 2 AI Builder mod's simple_ipc.lua, for
-- tests and benchmarks under `gamebridge sim`. Like the real mod, each tick it
-- polls the command file, runs the handler, writes the answer in place (not
-- atomically: in two writes), and deletes the command. Every command it runs
-- is appended to $TF2_RUNS, so tests can check that none ran twice or late.

local json = require("gamebridge.json")

local prefix = os.getenv("TF2_PREFIX") or "/tmp/tf2"
local command_file, answer_file = prefix .. "_cmd.json", prefix .. "_resp.json"
local runs_file = os.getenv("TF2_RUNS")
local last_command_id = nil
local money = 2500000

local handlers = {
  ping = function() return "pong" end,
  query_game_state = function()
    return { year = "1855", month = "3", money = tostring(money), speed = "1", paused = "false" }
  end,
  echo = function(params) return params end,
  add_money = function(params)
    money = money + tonumber(params.amount or "50000000")
    return { money = tostring(money) }
  end,
  build_road = function(params) return { cargo = params.cargo or "any" }, "pending" end,
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
  if not text then return end
  local command = json.decode(text)
  if not command or command.id == last_command_id then return end
  last_command_id = command.id
  if runs_file then
    local runs = io.open(runs_file, "a")
    runs:write(command.id, " ", tostring(command.cmd), "\n")
    runs:close()
  end
  local answer
  local handler = handlers[command.cmd]
  if not handler then
    answer = { id = command.id, status = "error", message = "Unknown command: " .. tostring(command.cmd) }
  else
    local ok, data, status = pcall(handler, command.params or {})
    if ok then
      answer = { id = command.id, status = status or "ok", data = data }
    else
      answer = { id = command.id, status = "error", message = tostring(data) }
    end
  end
  local encoded = json.encode(answer)
  local half = math.floor(#encoded / 2)
  local out = io.open(answer_file, "w")
  out:write(encoded:sub(1, half))
  out:flush()
  out:write(encoded:sub(half + 1))
  out:close()
  os.remove(command_file)
end
