-- cgnat throughput: 64-byte UDP over subscribers x source ports (pktgen-dpdk, range mode).
--
--   pktgen -l 0-4 -n 4 -- -P -m "[1:2].0, [3:4].1" -f pktgen-profiles/pktgen/udp_64b_flows.lua
--   CGNAT_SUBSCRIBERS=1000 CGNAT_PORTS_PER_SUBSCRIBER=64 CGNAT_RATE=50 pktgen ... -f ...
--
-- Port 0 -> cgnat inside: SUBSCRIBERS addresses from FIRST_SUBSCRIBER, PORTS_PER_SUBSCRIBER
-- source ports from SPORT_BASE, to SERVERS servers from FIRST_SERVER port DPORT; SIZE-byte
-- frames (with FCS) at RATE percent of the link for DURATION seconds, then the port
-- statistics (tx/rx packets, loss, average and mid-run pps). BIDIR=1 also sends from port 1
-- to the public endpoints of cgnat in deterministic mode (see rfc9693_bidir.lua, DET_*).
-- Settings: globals or CGNAT_<NAME> environment variables (cgnat_pktgen.lua); set
-- INSIDE_MAC / OUTSIDE_MAC to cgnat's port MACs.

local function libdir()
    local d = rawget(_G, "LIB_DIR") or os.getenv("CGNAT_LIB_DIR")
    if d then return d end
    local src = debug.getinfo(1, "S").source
    return (string.sub(src, 1, 1) == "@" and string.match(src, "^@(.*[/\\])")) or "./"
end
local P = dofile(libdir() .. "cgnat_pktgen.lua")

local f = P.flows("udp_64b_flows")
local ports = P.ports()
local size = P.param("SIZE", 64)
local rate = P.param("RATE", 100)
local secs = P.param("DURATION", 10)
local bidir = P.param("BIDIR", false)
if secs <= 0 or secs > 3600 then error("DURATION must be 1..3600 s") end

print(string.format("[cgnat] udp_64b_flows: %d subscribers %s.. x %d ports %d.. = %d flows, "
    .. "%d-byte frames, %s%% of line rate, %d s%s", f.subscribers, f.first_subscriber, f.ports,
    f.sport_base, f.n, size, tostring(rate), secs, bidir and ", bidirectional" or ""))

P.setup_inside(f, ports, size, rate, 0)
local portlist, plist = "0", {0, 1}
if bidir then
    local det = P.deterministic(f)
    P.setup_outside(f, ports, det, size, rate)
    portlist = "0-1"
end

local rates = P.run_for(portlist, plist, secs)
P.report("inside->outside", 0, 1, secs, rates)
if bidir then P.report("outside->inside", 1, 0, secs, rates) end
P.finish()
