-- A stand-in for pktgen-dpdk's `pktgen` Lua table, for pktgen-profiles/check.sh.
--
--   lua5.3 tests/pktgen_stub.lua pktgen/udp_64b_flows.lua     (log to $STUB_LOG)
--
-- Defines the pktgen functions the scripts use, with the argument counts and values that
-- pktgen's lpktgenlib.c accepts (a wrong call raises an error, as pktgen would), records every
-- call, and pretends to send: a started port transmits at its rate on a 10 Gbit/s link, up to
-- its count, and the other port receives everything (no loss), so the scripts' statistics and
-- completion logic run. No real time passes: pktgen.delay only advances a virtual clock.
-- At the end it writes one line per call to $STUB_LOG: name<TAB>arg1<TAB>arg2..., then
-- "END<TAB>virtual_ms".

local script = arg[1]
local log_path = os.getenv("STUB_LOG") or "/dev/stdout"
local LINK_MBPS = 10000

local calls = {}
local clock_ms = 0
local state = {}   -- per port: rate, size, count, sending, tx, rx

local function port_state(p)
    if state[p] == nil then
        state[p] = { rate = 100, size = 64, count = 0, sending = false, tx = 0, rx = 0,
                     range = false }
    end
    return state[p]
end

local function record(name, ...)
    local t = { name }
    for i = 1, select("#", ...) do t[#t + 1] = tostring((select(i, ...))) end
    calls[#calls + 1] = t
end

local function fail(fmt, ...)
    error(string.format(fmt, ...), 3)
end

local function nargs(name, want, ...)
    local n = select("#", ...)
    if n ~= want then fail("%s, wrong number of arguments (%d, pktgen wants %d)", name, n, want) end
end

-- portlist: "0", "1", "0-1", "0,1", "all"
local function ports_of(pl)
    if type(pl) ~= "string" and type(pl) ~= "number" then fail("portlist must be a string") end
    pl = tostring(pl)
    if pl == "all" then return { 0, 1 } end
    local out = {}
    for item in string.gmatch(pl, "[^,]+") do
        local a, b = string.match(item, "^(%d+)%-(%d+)$")
        if a then
            for p = tonumber(a), tonumber(b) do out[#out + 1] = p end
        elseif string.match(item, "^%d+$") then
            out[#out + 1] = tonumber(item)
        else
            fail("bad portlist %q", pl)
        end
    end
    for _, p in ipairs(out) do
        if p > 1 then fail("port %d: the stub has ports 0 and 1", p) end
    end
    return out
end

local function is_ip(s)
    local a, b, c, d = string.match(tostring(s), "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    return a and tonumber(a) < 256 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256
end

local function is_mac(s)
    return string.match(tostring(s), "^%x%x:%x%x:%x%x:%x%x:%x%x:%x%x$") ~= nil
end

local function advance(ms)
    for p, st in pairs(state) do
        if st.sending then
            local pps = LINK_MBPS * 1e6 * st.rate / 100 / ((st.size + 20) * 8)
            local n = math.floor(pps * ms / 1000)
            if st.count > 0 and st.tx + n >= st.count then
                n = st.count - st.tx
                st.sending = false
            end
            st.tx = st.tx + n
            local other = port_state(1 - p)
            other.rx = other.rx + n
        end
    end
    clock_ms = clock_ms + ms
end

pktgen = { range = {} }

local SET_WHAT = { count = true, size = true, rate = true, burst = true, sport = true,
                   dport = true, ttl = true, prime = true }

function pktgen.set(...)
    nargs("set", 3, ...)
    local pl, what, value = ...
    if not SET_WHAT[what] then fail("set does not support %s", tostring(what)) end
    if tonumber(value) == nil then fail("set %s: not a number: %s", what, tostring(value)) end
    for _, p in ipairs(ports_of(pl)) do
        local st = port_state(p)
        if what == "rate" then
            local r = tonumber(value)
            if r <= 0 or r > 100 then fail("rate must be 0 < rate <= 100 (percent)") end
            st.rate = r
        elseif what == "size" then
            local s = tonumber(value)
            if s < 64 or s > 9216 then fail("size %d out of 64..9216", s) end
            st.size = s
        elseif what == "count" then
            st.count = math.floor(tonumber(value))
        end
    end
    record("set", pl, what, value)
end

function pktgen.set_mac(...)
    nargs("set_mac", 3, ...)
    local pl, which, mac = ...
    if which ~= "src" and which ~= "dst" then fail("set_mac: src or dst") end
    if not is_mac(mac) then fail("set_mac: bad MAC %s", tostring(mac)) end
    ports_of(pl)
    record("set_mac", pl, which, mac)
end

function pktgen.set_ipaddr(...)
    nargs("set_ipaddr", 3, ...)
    local pl, which, addr = ...
    if which ~= "src" and which ~= "dst" then fail("set_ipaddr: src or dst") end
    local ip, len = string.match(tostring(addr), "^([%d%.]+)/(%d+)$")
    if which == "src" and not (ip and is_ip(ip) and tonumber(len) <= 32) then
        fail("set_ipaddr src wants a.b.c.d/len, got %s", tostring(addr))
    end
    if which == "dst" and not is_ip(addr) then fail("set_ipaddr dst: bad %s", tostring(addr)) end
    ports_of(pl)
    record("set_ipaddr", pl, which, addr)
end

function pktgen.set_proto(...)
    nargs("set_proto", 2, ...)
    local pl, proto = ...
    if proto ~= "udp" and proto ~= "tcp" and proto ~= "icmp" then fail("bad proto") end
    ports_of(pl)
    record("set_proto", pl, proto)
end

function pktgen.set_type(...)
    nargs("set_type", 2, ...)
    local pl, t = ...
    if t ~= "ipv4" and t ~= "ipv6" then fail("bad type") end
    ports_of(pl)
    record("set_type", pl, t)
end

function pktgen.set_range(...)
    nargs("set_range", 2, ...)
    local pl, onoff = ...
    if onoff ~= "on" and onoff ~= "off" then fail("set_range: on or off") end
    for _, p in ipairs(ports_of(pl)) do port_state(p).range = (onoff == "on") end
    record("set_range", pl, onoff)
end

function pktgen.process(...)
    nargs("process", 2, ...)
    local pl, onoff = ...
    ports_of(pl)
    record("process", pl, onoff)
end

function pktgen.start(...)
    nargs("start", 1, ...)
    local pl = ...
    for _, p in ipairs(ports_of(pl)) do
        local st = port_state(p)
        if not st.range then fail("start: port %d is not in range mode", p) end
        st.sending = true
    end
    record("start", pl)
end

function pktgen.stop(...)
    nargs("stop", 1, ...)
    local pl = ...
    for _, p in ipairs(ports_of(pl)) do port_state(p).sending = false end
    record("stop", pl)
end

function pktgen.clr(...)
    nargs("clr", 0, ...)
    for _, st in pairs(state) do st.tx, st.rx = 0, 0 end
    record("clr")
end

function pktgen.delay(...)
    nargs("delay", 1, ...)
    local ms = ...
    ms = tonumber(ms)
    if ms == nil or ms < 0 then fail("delay: bad value") end
    advance(ms)
    record("delay", ms)
end

function pktgen.sleep(...)
    nargs("sleep", 1, ...)
    local s = ...
    advance(tonumber(s) * 1000)
    record("delay", tonumber(s) * 1000)
end

function pktgen.quit(...)
    record("quit")
end

function pktgen.isSending(...)
    nargs("isSending", 1, ...)
    local pl = ...
    local t = { n = 0 }
    for _, p in ipairs(ports_of(pl)) do
        t[p] = port_state(p).sending and "y" or "n"
        t.n = t.n + 1
    end
    record("isSending", pl)
    return t
end

function pktgen.linkState(...)
    nargs("linkState", 1, ...)
    local pl = ...
    local t = { n = 0 }
    for _, p in ipairs(ports_of(pl)) do
        t[p] = "<UP-" .. LINK_MBPS .. "-FD>"
        t.n = t.n + 1
    end
    return t
end

function pktgen.portStats(...)
    nargs("portStats", 2, ...)
    local pl, kind = ...
    if kind ~= "port" and kind ~= "rate" then fail("portStats: port or rate") end
    local t = { n = 0 }
    for _, p in ipairs(ports_of(pl)) do
        local st = port_state(p)
        if kind == "port" then
            t[p] = { ipackets = st.rx, opackets = st.tx, ierrors = 0, oerrors = 0, imissed = 0 }
        else
            local function pps_of(s)
                return s.sending and math.floor(LINK_MBPS * 1e6 * s.rate / 100 /
                                                ((s.size + 20) * 8)) or 0
            end
            local tx, rx = pps_of(st), pps_of(port_state(1 - p))
            t[p] = { ipackets = rx, opackets = tx, pkts_rx = rx, pkts_tx = tx }
        end
        t.n = t.n + 1
    end
    record("portStats", pl, kind)
    return t
end

local RANGE_WHAT = { start = true, min = true, max = true, inc = true }

local function range_fn(field, check)
    return function(...)
        nargs("range." .. field, 3, ...)
        local pl, what, value = ...
        if not RANGE_WHAT[what] then fail("range.%s: bad %s", field, tostring(what)) end
        if not check(value, what) then
            fail("range.%s %s: bad value %s", field, what, tostring(value))
        end
        for _, p in ipairs(ports_of(pl)) do
            if what == "start" and field == "pkt_size" then port_state(p).size = tonumber(value) end
        end
        record("range." .. field, pl, what, value)
    end
end

local function port_ok(v) return math.type(v) == "integer" and v >= 0 and v <= 65535 end

pktgen.range.src_ip = range_fn("src_ip", is_ip)
pktgen.range.dst_ip = range_fn("dst_ip", is_ip)
pktgen.range.src_port = range_fn("src_port", port_ok)
pktgen.range.dst_port = range_fn("dst_port", port_ok)
pktgen.range.ttl = range_fn("ttl", function(v) return math.type(v) == "integer" end)
pktgen.range.pkt_size = range_fn("pkt_size", function(v, what)
    return math.type(v) == "integer" and (what == "inc" or (v >= 64 and v <= 9216))
end)
pktgen.range.dst_mac = function(...)
    nargs("range.dst_mac", 3, ...)
    local pl, what, mac = ...
    if what ~= "start" or not is_mac(mac) then fail("range.dst_mac: bad %s %s", what, mac) end
    ports_of(pl)
    record("range.dst_mac", pl, what, mac)
end
pktgen.range.ip_proto = function(...)
    nargs("range.ip_proto", 2, ...)
    local pl, proto = ...
    if proto ~= "udp" and proto ~= "tcp" then fail("range.ip_proto: udp or tcp") end
    ports_of(pl)
    record("range.ip_proto", pl, proto)
end

local ok, err = pcall(dofile, script)
local out = assert(io.open(log_path, "w"))
for _, c in ipairs(calls) do out:write(table.concat(c, "\t"), "\n") end
out:write("END\t", tostring(clock_ms), "\n")
if not ok then out:write("ERROR\t", tostring(err), "\n") end
out:close()
if not ok then
    io.stderr:write("pktgen stub: ", tostring(err), "\n")
    os.exit(1)
end
