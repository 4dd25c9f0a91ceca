-- cgnat connection establishment rate: every packet a new flow (pktgen-dpdk, range mode).
--
--   CGNAT_RATE=10 pktgen -l 0-4 -n 4 -- -P -m "[1:2].0, [3:4].1" -f pktgen-profiles/pktgen/cps.lua
--
-- Port 0 sends exactly SUBSCRIBERS x PORTS_PER_SUBSCRIBER packets (default 1000 x 1000 with
-- the subscribers raised to 1001 so that range mode walks every pair once, see
-- cgnat_pktgen.lua), each one a flow cgnat has not seen: one binding per packet. The trial
-- passes when port 1 received every packet; binary-search RATE (percent of the link) for the
-- highest passing rate = maximum connection establishment rate (RFC 9693). Before each trial
-- cgnat must not know these flows: restart cgnatd, or set TRIAL=n to use the source ports
-- SPORT_BASE + n x PORTS_PER_SUBSCRIBER. UDP only (pktgen cannot set SYN in range mode: use
-- TRex cps.py proto=tcp). The run stops by itself; MAX_SECS bounds the wait.

local function libdir()
    local d = rawget(_G, "LIB_DIR") or os.getenv("CGNAT_LIB_DIR")
    if d then return d end
    local src = debug.getinfo(1, "S").source
    return (string.sub(src, 1, 1) == "@" and string.match(src, "^@(.*[/\\])")) or "./"
end
local P = dofile(libdir() .. "cgnat_pktgen.lua")

if rawget(_G, "SUBSCRIBERS") == nil and not os.getenv("CGNAT_SUBSCRIBERS") then
    SUBSCRIBERS = 1000
end
if rawget(_G, "PORTS_PER_SUBSCRIBER") == nil and not os.getenv("CGNAT_PORTS_PER_SUBSCRIBER") then
    PORTS_PER_SUBSCRIBER = 1000
end
local trial = P.param("TRIAL", 0)
local ports_per = P.param("PORTS_PER_SUBSCRIBER", 1000)
SPORT_BASE = P.param("SPORT_BASE", 10000) + trial * ports_per
local f = P.flows("cps")
local ports = P.ports()
local size = P.param("SIZE", 64)
local rate = P.param("RATE", 10)
local max_secs = P.param("MAX_SECS", 120)

local pps = P.pps(0, rate, size)
print(string.format("[cgnat] cps: %d new flows (%d subscribers x ports %d..%d), %d-byte frames "
    .. "at %s%% of line rate (%s pps expected)", f.n, f.subscribers, f.sport_base,
    f.sport_base + f.ports - 1, size, tostring(rate), P.fmt(pps)))

P.setup_inside(f, ports, size, rate, f.n)
pktgen.clr()
pktgen.start("0")
local ms = P.wait_done(0, max_secs)
pktgen.stop("0")
pktgen.delay(500)
local sent, got = P.report("new flows", 0, 1, ms / 1000)
if sent and got then
    local verdict = (sent == f.n and got == f.n) and "PASS" or "FAIL"
    print(string.format("[cgnat] cps: %s at %s%% of line rate (%s pps): %s of %d new-flow "
        .. "packets arrived (sent in about %d ms)", verdict, tostring(rate), P.fmt(pps),
        P.fmt(got), f.n, ms))
end
P.finish()
