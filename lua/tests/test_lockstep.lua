--[[
Tests of gamebridge.lockstep (the framing of lockstep games) and of
gamebridge.mame against a fake emu.file that behaves as MAME's: reads never
block and return whatever has arrived, in pieces, or "".
]]

local lockstep = require("gamebridge.lockstep")
local mame = require("gamebridge.mame")
local check = require("tests.helpers")

local tests = {}

-- Framing -------------------------------------------------------------------

function tests.u16be_encodes_and_decodes_big_endian()
  check.equal(lockstep.u16be(0), "\0\0")
  check.equal(lockstep.u16be(1), "\0\1")
  check.equal(lockstep.u16be(255), "\0\255")
  check.equal(lockstep.u16be(256), "\1\0")
  check.equal(lockstep.u16be(819), "\3\51", "the Tempest payload length")
  check.equal(lockstep.u16be(65535), "\255\255")
  for _, n in ipairs({ 0, 1, 255, 256, 819, 4660, 65534, 65535 }) do
    check.equal(lockstep.read_u16be(lockstep.u16be(n)), n, "round trip of " .. n)
  end
  check.equal(lockstep.read_u16be("x\1\2", 2), 258, "at a position")
  check.is_nil(lockstep.read_u16be("\1"), "too short")
  check.raises(function() lockstep.u16be(65536) end, "out of range")
  check.raises(function() lockstep.u16be(-1) end, "out of range")
  check.raises(function() lockstep.u16be(1.5) end, "out of range")
end

function tests.u32be_encodes_and_decodes_big_endian()
  check.equal(lockstep.u32be(0), "\0\0\0\0")
  check.equal(lockstep.u32be(305419896), "\18\52\86\120", "0x12345678")
  check.equal(lockstep.u32be(4294967295), "\255\255\255\255")
  check.equal(lockstep.u32be(16777216), "\1\0\0\0")
  for _, n in ipairs({ 0, 1, 256, 65535, 65536, 16777215, 16777216, 2147483648, 4294967295 }) do
    check.equal(lockstep.read_u32be(lockstep.u32be(n)), n, "round trip of " .. n)
  end
  check.is_nil(lockstep.read_u32be("\1\2\3"), "too short")
  check.raises(function() lockstep.u32be(4294967296) end, "out of range")
end

function tests.frames_carry_a_length_prefix()
  check.equal(lockstep.frame("u16be", "abc"), "\0\3abc")
  check.equal(lockstep.frame("u32be", "abc"), "\0\0\0\3abc")
  check.equal(lockstep.frame("u16be", ""), "\0\0")
  local payload = string.rep("x", 819)
  check.equal(#lockstep.frame("u16be", payload), 821, "a Tempest frame is 821 bytes on the wire")
  check.equal(#lockstep.frame("u16be", string.rep("x", 65535)), 65537)
  local frame, problem = lockstep.frame("u16be", string.rep("x", 65536))
  check.is_nil(frame)
  check.is_true(string.find(problem, "frame too large", 1, true), problem)
  check.equal(#lockstep.frame("u32be", string.rep("x", 65536)), 65540)
  check.raises(function() lockstep.frame("u8", "x") end, "unknown framing")
  check.raises(function() lockstep.frame("u16be", 5) end, "must be a string")
end

function tests.options_are_checked_and_completed()
  local config = lockstep.options({ now_ms = function() return 0 end })
  check.equal(config.framing, "u16be")
  check.equal(config.prefix_size, 2)
  check.is_nil(config.reply_size)
  check.is_nil(config.handshake)
  check.equal(config.timeout_ms, 3500)
  check.equal(lockstep.options({ framing = "u32be" }).prefix_size, 4)
  check.equal(lockstep.options({ handshake = 2 }).handshake, "\0\0", "a byte count is that many zeros")
  check.equal(lockstep.options({ handshake = "\0\7" }).handshake, "\0\7")
  check.is_nil(lockstep.options({ handshake = 0 }).handshake, "no bytes, no handshake")
  check.equal(type(lockstep.options().now_ms()), "number", "a default clock")
  check.raises(function() lockstep.options({ framing = "lines" }) end, "framing must be")
  check.raises(function() lockstep.options({ reply_size = 0 }) end, "reply_size")
  check.raises(function() lockstep.options({ reply_size = 2.5 }) end, "reply_size")
  check.raises(function() lockstep.options({ handshake = true }) end, "handshake")
  check.raises(function() lockstep.options({ now_ms = 5 }) end, "now_ms")
end

function tests.the_host_clock_is_the_default()
  local saved = rawget(_G, "gamebridge_host")
  rawset(_G, "gamebridge_host", { now_ms = function() return 1234 end })
  local ok, err = pcall(function()
    check.equal(lockstep.options().now_ms(), 1234)
  end)
  rawset(_G, "gamebridge_host", saved)
  if not ok then error(err, 0) end
end

function tests.read_reply_reads_raw_or_prefixed_replies()
  local function reader(text)
    local pos = 1
    return function(n)
      if pos + n - 1 > #text then return nil, "short" end
      local piece = text:sub(pos, pos + n - 1)
      pos = pos + n
      return piece
    end
  end
  check.equal(lockstep.read_reply(lockstep.options({ reply_size = 5 }), reader("\1\2\3\4\5\6")), "\1\2\3\4\5")
  check.equal(lockstep.read_reply(lockstep.options(), reader("\0\3abcd")), "abc")
  check.equal(lockstep.read_reply(lockstep.options({ framing = "u32be" }), reader("\0\0\0\2hi")), "hi")
  check.equal(lockstep.read_reply(lockstep.options(), reader("\0\0rest")), "", "an empty reply")
  local reply, problem = lockstep.read_reply(lockstep.options(), reader("\0\9abc"))
  check.is_nil(reply)
  check.equal(problem, "short")
end

-- MAME link against a fake emu ----------------------------------------------

-- A fake of MAME's emu.file over a scripted peer. arrivals is a list of
-- what each read finds: a string (returned up to n bytes, the rest kept
-- for later reads) or "" (nothing has arrived yet). Reads past the list find
-- nothing. Writes are recorded; write_limit caps how much one write takes.
local function fake_emu(options)
  options = options or {}
  local emu = { files = {}, clock = 0 }
  -- Every call of the clock moves it 1 ms, so a wait for a reply ends.
  emu.now_ms = function()
    emu.clock = emu.clock + 1
    return emu.clock
  end
  function emu.file(path, flags)
    check.equal(path, "")
    check.equal(flags, 7)
    local file = { written = {}, reads = {}, arrivals = {}, closed = false }
    emu.files[#emu.files + 1] = file
    function file:open(name)
      self.name = name
      if options.refuse then return options.refuse end
      return nil
    end
    function file:write(data)
      assert(not self.closed, "write after close")
      local take = options.write_limit and math.min(options.write_limit, #data) or #data
      self.written[#self.written + 1] = data:sub(1, take)
      return take
    end
    function file:read(n)
      assert(not self.closed, "read after close")
      self.reads[#self.reads + 1] = n
      local next_piece = table.remove(self.arrivals, 1)
      if next_piece == nil then return "" end
      if #next_piece > n then
        table.insert(self.arrivals, 1, next_piece:sub(n + 1))
        next_piece = next_piece:sub(1, n)
      end
      return next_piece
    end
    function file:close() self.closed = true end
    return file
  end
  return emu
end

local function connect(emu, options)
  options = options or {}
  options.emu = emu
  options.now_ms = emu.now_ms
  return mame.connect("socket.127.0.0.1:9999", options)
end

local function arrive(file, ...)
  for _, piece in ipairs({ ... }) do file.arrivals[#file.arrivals + 1] = piece end
end

function tests.mame_connect_opens_the_target_and_sends_the_handshake()
  local emu = fake_emu()
  local link = assert(connect(emu, { handshake = 2, reply_size = 5 }))
  check.equal(#emu.files, 1)
  check.equal(emu.files[1].name, "socket.127.0.0.1:9999")
  check.equal(emu.files[1].written, { "\0\0" })
  check.is_true(link:is_connected())
  check.equal(link.connects, 1)
end

function tests.mame_connect_reports_what_open_returned()
  local link, problem = connect(fake_emu({ refuse = "ECONNREFUSED" }), {})
  check.is_nil(link)
  check.is_true(string.find(problem, "ECONNREFUSED", 1, true), problem)
  local without_emu, why = mame.connect("socket.127.0.0.1:1", { emu = false })
  check.is_nil(without_emu)
  check.is_true(why ~= nil)
  check.raises(function() mame.connect("") end, "target")
end

function tests.mame_step_accumulates_a_reply_that_arrives_in_pieces()
  local emu = fake_emu()
  local link = assert(connect(emu, { reply_size = 5 }))
  local file = emu.files[1]
  arrive(file, "", "\0", "", "", "\0\0", "", "\7", "", "\1")
  check.equal(link:step("frame"), "\0\0\0\7\1")
  check.equal(file.written, { "\0\5frame" })
  check.equal(file.reads, { 5, 5, 4, 4, 4, 2, 2, 1, 1 }, "never asks for more than the rest of the reply")
  -- The next reply is read from where the last ended: nothing is lost or reused.
  arrive(file, "\0\0\0\8\1")
  check.equal(link:step("again"), "\0\0\0\8\1")
  check.equal(link.frames, 2)
end

function tests.mame_step_reads_length_prefixed_replies()
  local emu = fake_emu()
  local link = assert(connect(emu, { framing = "u32be" }))
  local file = emu.files[1]
  arrive(file, "\0", "", "\0\0", "\3a", "", "bc")
  check.equal(link:step("xy"), "abc")
  check.equal(file.written, { "\0\0\0\2xy" })
  arrive(file, "\0\0\0\0")
  check.equal(link:step(""), "", "an empty reply")
end

function tests.mame_step_times_out_then_reconnects()
  local emu = fake_emu()
  local link = assert(connect(emu, { reply_size = 5, handshake = "\0\0", timeout_ms = 50, reconnect_ms = 100 }))
  local first = emu.files[1]
  arrive(first, "\1\2") -- only part of the reply, then nothing
  local reply, problem = link:step("frame")
  check.is_nil(reply)
  check.equal(problem, "timeout")
  check.is_true(first.closed, "the connection is dropped, so late bytes cannot pass for the next reply")
  check.is_true(not link:is_connected())
  check.is_true(#first.reads > 40, "it kept reading until the deadline")
  check.is_true(emu.clock < 200, "and stopped there")

  reply, problem = link:step("frame")
  check.is_nil(reply)
  check.equal(problem, "disconnected: waiting to reconnect")
  check.equal(#emu.files, 1, "no attempt before reconnect_ms")

  emu.clock = emu.clock + 1000
  -- The new connection gets the handshake, then the frame, and its reply.
  local saved_file = emu.file
  emu.file = function(...)
    local file = saved_file(...)
    arrive(file, "\9\9\9\9\9")
    return file
  end
  reply, problem = link:step("frame")
  check.equal(reply, "\9\9\9\9\9", problem)
  check.equal(emu.files[2].written, { "\0\0", "\0\5frame" })
  check.equal(link.connects, 2)
  check.equal(link.failures, 1)
end

function tests.mame_step_without_reconnect_stays_disconnected()
  local emu = fake_emu()
  local link = assert(connect(emu, { reply_size = 1, timeout_ms = 5, reconnect = false }))
  check.equal(select(2, link:step("a")), "timeout")
  emu.clock = emu.clock + 100000
  check.equal(select(2, link:step("a")), "disconnected")
  check.equal(#emu.files, 1)
end

function tests.mame_step_finishes_partial_writes()
  local emu = fake_emu({ write_limit = 3 })
  local link = assert(connect(emu, { reply_size = 1, handshake = "\0\0" }))
  local file = emu.files[1]
  arrive(file, "k")
  check.equal(link:step("abcdefg"), "k")
  check.equal(table.concat(file.written), "\0\0\0\7abcdefg")
  check.equal(file.written[2], "\0\7a", "at most 3 bytes a write")
end

function tests.mame_frames_too_large_fail_alone()
  local emu = fake_emu()
  local link = assert(connect(emu, { reply_size = 1 }))
  local reply, problem = link:step(string.rep("x", 70000))
  check.is_nil(reply)
  check.is_true(string.find(problem, "frame too large", 1, true), problem)
  check.is_true(link:is_connected(), "the connection is kept")
  check.equal(emu.files[1].written, {}, "nothing was sent")
end

function tests.mame_close_is_final()
  local emu = fake_emu()
  local link = assert(connect(emu, { reply_size = 1 }))
  link:close()
  check.is_true(emu.files[1].closed)
  check.equal(select(2, link:step("a")), "closed")
  link:close()
end

return tests
