--[[
tempest_like.lua: a small game that speaks Tempest AI's wire format, for
trying agents and environments without MAME or the ROM.

    gamebridge serve --game tempest &
    gamebridge sim --emu --tick-ms 1 examples/lua/tempest_like.lua

Each frame is what the real script sends: the 39-byte big-endian header and
195 f32 values (docs/TEMPEST.md). The game: the player sits on one of 16
segments of the tube rim and an enemy on another; the spinner byte of each
reply moves the player (sign only), fire scores when the player is on the
enemy's segment (subjective reward 1), and the enemy then jumps elsewhere.
An episode lasts 200 frames. state[1] is the player's segment / 15 and state[2]
the enemy's; state[3] is their signed distance / 15.
]]

local mame = require("gamebridge.mame")

local SEGMENTS, EPISODE, VALUES = 16, 200, 195
local target = os.getenv("TEMPEST_ADDRESS") or "socket.127.0.0.1:9999"
local link = assert(mame.connect(target, { framing = "u16be", reply_size = 5, handshake = 2 }))

local player, enemy, frame, score, reward, episodes = 0, 7, 0, 0, 0.0, 0
local seed = 12345

local function next_enemy()
  -- A small linear congruential generator: the same run on every interpreter.
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % SEGMENTS
end

local function distance()
  local d = (enemy - player) % SEGMENTS
  if d > SEGMENTS / 2 then d = d - SEGMENTS end
  return d
end

local function pack_frame(done)
  local header = string.pack(">HddBBBHIBBBhhBBBBB",
    VALUES, reward, 0.0, 4, 0, done and 1 or 0, frame % 65536, score, 0, 0, 0, 0, enemy, player, 1, 0, 0, 1)
  local state = { string.pack(">f", frame / EPISODE), string.pack(">f", player / 15),
    string.pack(">f", enemy / 15), string.pack(">f", distance() / 15) }
  local zero = string.pack(">f", 0.0)
  for _ = #state + 1, VALUES do state[#state + 1] = zero end
  return header .. table.concat(state)
end

emu.add_machine_frame_notifier(function()
  frame = frame + 1
  local done = frame >= EPISODE
  local reply, problem = link:step(pack_frame(done))
  reward = 0.0
  if not reply then
    emu.print_error("no reply: " .. tostring(problem))
    return
  end
  local fire, _, spinner = string.unpack("bbb", reply)
  if done then
    episodes = episodes + 1
    emu.print_info(("episode %d: score %d"):format(episodes, score))
    player, frame, score = 0, 0, 0
    return
  end
  if spinner > 0 then player = (player + 1) % SEGMENTS elseif spinner < 0 then player = (player - 1) % SEGMENTS end
  if fire ~= 0 and player == enemy then
    reward, score = 1.0, score + 1
    enemy = next_enemy()
  end
end)
