-- cgnat throughput with IMIX 64/594/1518 at 7:4:1 (pktgen-dpdk, range mode).
--
--   pktgen -l 0-4 -n 4 -- -P -m "[1:2].0, [3:4].1" -f pktgen-profiles/pktgen/imix.lua
--
-- pktgen's range mode gives every packet of a port the same size, so this script
-- time-multiplexes the mix: it cycles through the sizes, sending each for a slice of
-- CYCLE_MS proportional to weight x (size + 20 bytes of preamble and gap), so that at a
-- constant RATE (percent of the link) every cycle carries the sizes in the 7:4:1 packet ratio.
-- The flow sweep is that of udp_64b_flows.lua and goes on across the size changes.
-- SIZES / WEIGHTS: comma-separated lists; DURATION seconds; then the port statistics.

local function libdir()
    local d = rawget(_G, "LIB_DIR") or os.getenv("CGNAT_LIB_DIR")
    if d then return d end
    local src = debug.getinfo(1, "S").source
    return (string.sub(src, 1, 1) == "@" and string.match(src, "^@(.*[/\\])")) or "./"
end
local P = dofile(libdir() .. "cgnat_pktgen.lua")

local function list(s)
    local t = {}
    for x in string.gmatch(s, "[^,:]+") do t[#t + 1] = tonumber(x) end
    return t
end

local f = P.flows("imix")
local ports = P.ports()
local sizes = list(P.param("SIZES", "64,594,1518"))
local weights = list(P.param("WEIGHTS", "7,4,1"))
local rate = P.param("RATE", 100)
local secs = P.param("DURATION", 10)
local cycle_ms = P.param("CYCLE_MS", 100)
if #sizes == 0 or #sizes ~= #weights then error("SIZES and WEIGHTS must have the same length") end
if secs <= 0 or secs > 3600 then error("DURATION must be 1..3600 s") end

-- slice of each size: weight x wire bytes, scaled to the cycle (at least 1 ms)
local total = 0
for i = 1, #sizes do total = total + weights[i] * (sizes[i] + 20) end
local slices = {}
for i = 1, #sizes do
    slices[i] = math.max(1, math.floor(cycle_ms * weights[i] * (sizes[i] + 20) / total + 0.5))
end
local desc = {}
for i = 1, #sizes do desc[i] = string.format("%dB x%d (%d ms)", sizes[i], weights[i], slices[i]) end
print(string.format("[cgnat] imix: %d subscribers x %d ports = %d flows, %s, %s%% of line "
    .. "rate, %d s", f.subscribers, f.ports, f.n, table.concat(desc, ", "), tostring(rate), secs))

P.setup_inside(f, ports, sizes[1], rate, 0)

local function set_size(size)
    pktgen.range.pkt_size("0", "start", size)
    pktgen.range.pkt_size("0", "min", size)
    pktgen.range.pkt_size("0", "max", size)
end

pktgen.clr()
pktgen.start("0")
local elapsed, cycles = 0, 0
local rates
while elapsed < secs * 1000 do
    for i = 1, #sizes do
        set_size(sizes[i])
        pktgen.delay(slices[i])
        elapsed = elapsed + slices[i]
    end
    cycles = cycles + 1
    if rates == nil and elapsed >= secs * 500 then
        rates = { [0] = P.stats(0, "rate"), [1] = P.stats(1, "rate") }
    end
end
pktgen.stop("0")
pktgen.delay(500)
print(string.format("[cgnat] imix: %d cycles in %d ms", cycles, elapsed))
P.report("inside->outside", 0, 1, elapsed / 1000, rates)
P.finish()
