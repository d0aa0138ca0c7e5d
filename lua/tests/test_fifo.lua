--[[
Tests of gamebridge.fifo on real FIFOs, in one process. The test plays the
bridge: it opens each FIFO read-write ("r+b"), which on Linux neither blocks
nor waits for the other end, so the link's blocking opens succeed at once.
The pipe buffers hold a reply written before step() and the frame written by
step().

Like test_mailbox.lua, this file uses os.execute (mkfifo, rm); the SDK does not.
]]

local fifo = require("gamebridge.fifo")
local check = require("tests.helpers")

local tests = {}

-- Runs test(prefix, bridge) with fresh FIFOs PREFIX_output and PREFIX_input,
-- bridge.output / bridge.input being the bridge's ends, then removes them.
local function with_fifos(test)
  local base = os.tmpname()
  local prefix = base .. "-fifo"
  assert(not string.find(prefix, "[^%w/._-]"), "unexpected temporary name " .. prefix)
  os.execute("mkfifo -m 600 " .. prefix .. "_output " .. prefix .. "_input")
  local bridge = {}
  local ok, err = pcall(function()
    bridge.output = assert(io.open(prefix .. "_output", "r+b"))
    bridge.input = assert(io.open(prefix .. "_input", "r+b"))
    test(prefix, bridge)
  end)
  if bridge.output then pcall(bridge.output.close, bridge.output) end
  if bridge.input then pcall(bridge.input.close, bridge.input) end
  os.execute("rm -f " .. prefix .. "_output " .. prefix .. "_input")
  os.remove(base)
  if not ok then error(err, 0) end
end

-- The bridge answers: bytes into PREFIX_input.
local function answer(bridge, bytes)
  bridge.input:write(bytes)
  bridge.input:flush()
end

function tests.fifo_sends_handshake_and_frames_and_reads_raw_replies()
  with_fifos(function(prefix, bridge)
    local link = assert(fifo.open(prefix, { framing = "u16be", reply_size = 5, handshake = "\0\0" }))
    answer(bridge, "\0\0\0\1\1" .. "\0\0\0\2\1")
    check.equal(link:step("\0\0\0\1payload"), "\0\0\0\1\1")
    check.equal(link:step("\0\0\0\2"), "\0\0\0\2\1")
    check.equal(bridge.output:read(2), "\0\0", "the handshake comes first")
    check.equal(bridge.output:read(2 + 11), "\0\11\0\0\0\1payload")
    check.equal(bridge.output:read(2 + 4), "\0\4\0\0\0\2")
    check.equal(link.frames, 2)
    link:close()
    check.is_true(not link:is_open())
  end)
end

function tests.fifo_reads_length_prefixed_replies()
  with_fifos(function(prefix, bridge)
    local link = assert(fifo.open(prefix, { framing = "u32be" }))
    answer(bridge, "\0\0\0\3abc" .. "\0\0\0\0")
    check.equal(link:step("hi"), "abc")
    check.equal(link:step(""), "", "an empty reply")
    check.equal(bridge.output:read(6), "\0\0\0\2hi")
    link:close()
  end)
end

function tests.fifo_reports_eof_and_short_reads()
  with_fifos(function(prefix, bridge)
    local link = assert(fifo.open(prefix, { reply_size = 5 }))
    answer(bridge, "\1\2")
    bridge.input:close() -- the bridge goes away after part of a reply
    bridge.input = nil
    local reply, problem = link:step("x")
    check.is_nil(reply)
    check.equal(problem, "short read: 2 of 5 bytes, then eof")
    check.is_true(not link:is_open(), "a failed link is closed")
    check.equal(select(2, link:step("x")), "closed")
  end)
  with_fifos(function(prefix, bridge)
    local link = assert(fifo.open(prefix, {}))
    bridge.input:close()
    bridge.input = nil
    check.equal(select(2, link:step("x")), "eof")
  end)
end

function tests.fifo_open_fails_at_once_and_creates_nothing_without_the_fifos()
  local base = os.tmpname()
  local ok, err = pcall(function()
    local link, problem = fifo.open(base, { reply_size = 5 })
    check.is_nil(link)
    check.is_true(string.find(problem, base .. "_input", 1, true), problem)
    check.is_true(string.find(problem, "start it first", 1, true), problem)
    check.is_nil(io.open(base .. "_output", "rb"), "no file was created")
    check.is_nil(io.open(base .. "_input", "rb"), "no file was created")
  end)
  os.remove(base)
  if not ok then error(err, 0) end
end

function tests.fifo_refuses_plain_files()
  local base = os.tmpname()
  local ok, err = pcall(function()
    for _, suffix in ipairs({ "_output", "_input" }) do
      local file = assert(io.open(base .. suffix, "wb"))
      file:close()
    end
    local link, problem = fifo.open(base, { reply_size = 5 })
    check.is_nil(link)
    check.is_true(string.find(problem, "not a FIFO", 1, true), problem)
  end)
  os.remove(base .. "_output")
  os.remove(base .. "_input")
  os.remove(base)
  if not ok then error(err, 0) end
end

function tests.fifo_frames_too_large_fail_alone()
  with_fifos(function(prefix, bridge)
    local link = assert(fifo.open(prefix, { reply_size = 1 }))
    local reply, problem = link:step(string.rep("x", 65536))
    check.is_nil(reply)
    check.is_true(string.find(problem, "frame too large", 1, true), problem)
    check.is_true(link:is_open())
    answer(bridge, "k")
    check.equal(link:step("ok"), "k")
    link:close()
  end)
end

return tests
