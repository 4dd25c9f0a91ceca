-- RFC 9693 two-phase bidirectional test of cgnat (pktgen-dpdk, range mode).
--
--   pktgen -l 0-4 -n 4 -- -P -m "[1:2].0, [3:4].1" -f pktgen-profiles/pktgen/rfc9693_bidir.lua
--
-- Phase 1 (preliminary): port 0 sends exactly one packet per flow (SUBSCRIBERS x
-- PORTS_PER_SUBSCRIBER, subscribers raised to be coprime with the ports, see cgnat_pktgen.lua)
-- at PRELIM_RATE percent, so that cgnat creates every binding; the script checks that port 1
-- received them all (RFC 9693: phase 1 must be loss-free, or the test is void).
-- Phase 2 (measured): after GAP_MS, port 0 sweeps the same flows and port 1 sends from the
-- servers (source port DPORT) to the public endpoints of those flows, both at RATE percent
-- for DURATION seconds; then the statistics of both directions.
--
-- Port 1 can target the public endpoints only because cgnat runs in deterministic mode
-- (pool.mode = "deterministic", RFC 7422): subscriber i of inside.subscribers (DET_SUBSCRIBERS)
-- gets pool address i // C and ports port_min + (i % C) x M .. + M - 1, with C = ceil(N / P)
-- and M = pool.ports_per_subscriber (DET_PORTS_PER_SUBSCRIBER, default PORTS_PER_SUBSCRIBER:
-- configure cgnat with that value so every port of each range is mapped). A responder that
-- learns the tuples from phase 1, as RFC 9693 describes, needs a stateful tester (TRex ASTF).
-- Range mode is sequential: RFC 4814 pseudorandom ports need TRex (rfc9693_bidir.py).

local function libdir()
    local d = rawget(_G, "LIB_DIR") or os.getenv("CGNAT_LIB_DIR")
    if d then return d end
    local src = debug.getinfo(1, "S").source
    return (string.sub(src, 1, 1) == "@" and string.match(src, "^@(.*[/\\])")) or "./"
end
local P = dofile(libdir() .. "cgnat_pktgen.lua")

local f = P.flows("rfc9693_bidir")
local ports = P.ports()
local det = P.deterministic(f)
local size = P.param("SIZE", 64)
local prelim_rate = P.param("PRELIM_RATE", 1)
local rate = P.param("RATE", 100)
local secs = P.param("DURATION", 10)
local gap_ms = P.param("GAP_MS", 1000)
local max_secs = P.param("MAX_SECS", 120)
local need_phase1 = P.param("REQUIRE_PHASE1", true)
if secs <= 0 or secs > 3600 then error("DURATION must be 1..3600 s") end

print(string.format("[cgnat] rfc9693_bidir: %d flows (%d subscribers x %d ports), public "
    .. "endpoints %s..%s ports %d..%d (C=%d, M=%d)", f.n, f.subscribers, f.ports,
    P.int2ip(det.addr_lo), P.int2ip(det.addr_hi), det.port_lo, det.port_hi, det.c, det.m))

-- phase 1: one packet per flow
P.setup_inside(f, ports, size, prelim_rate, f.n)
P.setup_outside(f, ports, det, size, rate)
pktgen.clr()
pktgen.start("0")
local ms = P.wait_done(0, max_secs)
pktgen.stop("0")
pktgen.delay(500)
local sent, got = P.report("phase 1", 0, 1, ms / 1000)
local ok = sent == f.n and got == f.n
print(string.format("[cgnat] phase 1: %s (%s of %d state-creating packets arrived)",
    ok and "complete" or "INCOMPLETE", P.fmt(got), f.n))

if ok or not need_phase1 then
    -- phase 2: measured, both directions
    pktgen.delay(gap_ms)
    pktgen.set("0", "count", 0)
    pktgen.set("0", "rate", rate)
    local rates = P.run_for("0-1", {0, 1}, secs)
    P.report("phase 2 inside->outside", 0, 1, secs, rates)
    P.report("phase 2 outside->inside", 1, 0, secs, rates)
else
    print("[cgnat] phase 2 skipped: phase 1 lost packets (lower PRELIM_RATE, check cgnat's "
        .. "counters, or set REQUIRE_PHASE1=0)")
end
P.finish()
