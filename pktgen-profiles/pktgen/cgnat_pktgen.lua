-- Shared code of the cgnat pktgen-dpdk scripts (udp_64b_flows, imix, cps, rfc9693_bidir).
-- Not a script itself: each script loads it from its own directory.
--
-- Parameters. Every script reads its settings with P.param(NAME, default): a global variable
-- NAME if one is set before the script runs (e.g. from a wrapper script that sets globals and
-- then dofile()s this one), else the environment variable CGNAT_<NAME>
-- (CGNAT_SUBSCRIBERS=1000 pktgen ... -f ...), else the default written in the script.
--
-- Topology (README.md): pktgen port 0 -> cgnat inside, cgnat outside -> pktgen port 1.
-- Port 0 is cgnat's inside next hop (GEN0_IP), port 1 its outside next hop (GEN1_IP); both
-- answer cgnat's ARP requests (input processing on). The frames go to cgnat's MACs
-- (INSIDE_MAC, OUTSIDE_MAC): set them, pktgen does not learn them.
--
-- Range mode. pktgen steps every range field by its increment on every packet, each field
-- wrapping on its own. With source addresses over S values and source ports over P values,
-- packet k carries (k mod S, k mod P): that walks all S x P pairs, each once per S x P
-- packets, only when gcd(S, P) = 1 (Chinese remainder theorem). P.flows() therefore raises
-- S to the next value coprime with P and says so.

local P = {}

function P.param(name, default)
    local v = rawget(_G, name)
    if v == nil then
        local e = os.getenv("CGNAT_" .. name)
        if e ~= nil and e ~= "" then v = e end
    end
    if v == nil then return default end
    if type(default) == "number" then
        local n = tonumber(v)
        if n == nil then error(string.format("%s: not a number: %s", name, tostring(v))) end
        return n
    elseif type(default) == "boolean" then
        if type(v) == "boolean" then return v end
        local s = string.lower(tostring(v))
        return s == "1" or s == "true" or s == "yes" or s == "on"
    end
    return tostring(v)
end

function P.ip2int(s)
    local a, b, c, d = string.match(s, "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
    if not a or a > 255 or b > 255 or c > 255 or d > 255 then
        error("not an IPv4 address: " .. tostring(s))
    end
    return ((a * 256 + b) * 256 + c) * 256 + d
end

function P.int2ip(n)
    n = math.floor(n)
    return string.format("%d.%d.%d.%d", n // 16777216 % 256, n // 65536 % 256,
                         n // 256 % 256, n % 256)
end

-- "a.b.c.d/len" -> network address (integer), number of addresses
function P.prefix(s)
    local addr, len = string.match(s, "^([%d%.]+)/(%d+)$")
    len = tonumber(len)
    if not addr or len > 32 then error("not an IPv4 prefix: " .. tostring(s)) end
    local size = 2 ^ (32 - len)
    size = math.floor(size)
    local net = P.ip2int(addr)
    if net % size ~= 0 then error("prefix not in network form: " .. s) end
    return net, size
end

function P.gcd(a, b)
    while b ~= 0 do a, b = b, a % b end
    return a
end

function P.fmt(n)
    if n == nil then return "n/a" end
    return string.format("%.0f", n)
end

-- The flow sweep shared by the scripts. Returns a table with the effective values.
function P.flows(name)
    local f = {
        subscribers = P.param("SUBSCRIBERS", 100),
        ports = P.param("PORTS_PER_SUBSCRIBER", 100),
        first_subscriber = P.param("FIRST_SUBSCRIBER", "100.64.0.2"),
        sport_base = P.param("SPORT_BASE", 10000),
        servers = P.param("SERVERS", 1),
        first_server = P.param("FIRST_SERVER", "198.51.100.2"),
        dport = P.param("DPORT", 9),
    }
    if f.subscribers < 1 or f.ports < 1 or f.servers < 1 then
        error("SUBSCRIBERS, PORTS_PER_SUBSCRIBER and SERVERS must be >= 1")
    end
    if f.sport_base < 1 or f.sport_base + f.ports - 1 > 65535 then
        error("SPORT_BASE + PORTS_PER_SUBSCRIBER leaves the port range")
    end
    local s = f.subscribers
    while P.gcd(s, f.ports) ~= 1 do s = s + 1 end
    if s ~= f.subscribers then
        print(string.format("[cgnat] %s: range mode covers every (subscriber, port) pair only "
            .. "when gcd(subscribers, ports) = 1: using %d subscribers instead of %d",
            name, s, f.subscribers))
        f.subscribers = s
    end
    f.n = f.subscribers * f.ports
    f.sub_lo = P.ip2int(f.first_subscriber)
    f.sub_hi = f.sub_lo + f.subscribers - 1
    f.srv_lo = P.ip2int(f.first_server)
    f.srv_hi = f.srv_lo + f.servers - 1
    return f
end

-- Port settings shared by the scripts: cgnat's MACs, the generator's own addresses.
function P.ports()
    return {
        inside_mac = P.param("INSIDE_MAC", "02:c6:00:00:01:01"),
        outside_mac = P.param("OUTSIDE_MAC", "02:c6:00:00:02:01"),
        gen0_ip = P.param("GEN0_IP", "100.64.0.0/31"),
        gen1_ip = P.param("GEN1_IP", "198.51.100.2/24"),
    }
end

local function range4(fn, port, lo, hi, inc)
    fn(port, "start", lo)
    fn(port, "min", lo)
    fn(port, "max", hi)
    fn(port, "inc", inc)
end

-- Range-mode setup of one port. o: dst_mac, own_ip ("a.b.c.d/len"), proto, size, rate, count,
-- src_lo/src_hi (integers), dst_lo/dst_hi, sport_lo/sport_hi, dport_lo/dport_hi.
function P.setup_port(port, o)
    local p = tostring(port)
    pktgen.set_type(p, "ipv4")
    pktgen.set_proto(p, o.proto)
    pktgen.set_mac(p, "dst", o.dst_mac)
    pktgen.set_ipaddr(p, "src", o.own_ip)
    pktgen.set_ipaddr(p, "dst", P.int2ip(o.dst_lo))
    pktgen.set(p, "size", o.size)
    pktgen.set(p, "rate", o.rate)
    pktgen.set(p, "count", o.count or 0)
    pktgen.set(p, "sport", o.sport_lo)
    pktgen.set(p, "dport", o.dport_lo)
    pktgen.range.ip_proto(p, o.proto)
    pktgen.range.dst_mac(p, "start", o.dst_mac)
    range4(pktgen.range.src_ip, p, P.int2ip(o.src_lo), P.int2ip(o.src_hi),
           o.src_hi > o.src_lo and "0.0.0.1" or "0.0.0.0")
    range4(pktgen.range.dst_ip, p, P.int2ip(o.dst_lo), P.int2ip(o.dst_hi),
           o.dst_hi > o.dst_lo and "0.0.0.1" or "0.0.0.0")
    range4(pktgen.range.src_port, p, o.sport_lo, o.sport_hi, o.sport_hi > o.sport_lo and 1 or 0)
    range4(pktgen.range.dst_port, p, o.dport_lo, o.dport_hi, o.dport_hi > o.dport_lo and 1 or 0)
    range4(pktgen.range.pkt_size, p, o.size, o.size, 0)
    if pktgen.range.ttl then pcall(range4, pktgen.range.ttl, p, 64, 64, 0) end
    pktgen.set_range(p, "on")
    -- answer cgnat's ARP requests for our own address (pktgen's input processing)
    if pktgen.process then pcall(pktgen.process, p, "on") end
end

-- Port 0 setup for the subscriber -> server sweep.
function P.setup_inside(f, ports, size, rate, count)
    P.setup_port(0, {
        dst_mac = ports.inside_mac, own_ip = ports.gen0_ip, proto = "udp", size = size,
        rate = rate, count = count,
        src_lo = f.sub_lo, src_hi = f.sub_hi, dst_lo = f.srv_lo, dst_hi = f.srv_hi,
        sport_lo = f.sport_base, sport_hi = f.sport_base + f.ports - 1,
        dport_lo = f.dport, dport_hi = f.dport,
    })
end

-- cgnat's deterministic mapping (docs/config.md, RFC 7422) of the sweep's subscribers:
--   N = addresses of inside.subscribers, P = pool addresses, R = port_max - port_min + 1,
--   C = ceil(N / P), M = pool.ports_per_subscriber (or floor(R / C) when 0),
--   subscriber i -> pool[i // C], ports port_min + (i % C) * M .. + M - 1.
-- Returns the rectangle (public addresses x public ports) that port 1 sweeps, and whether it
-- is exact (every endpoint in it is mapped).
function P.deterministic(f)
    local d = {
        subscribers = P.param("DET_SUBSCRIBERS", "100.64.0.0/16"),
        pool = P.param("DET_POOL", "203.0.113.0/24"),
        port_min = P.param("DET_PORT_MIN", 1024),
        port_max = P.param("DET_PORT_MAX", 65535),
        m = P.param("DET_PORTS_PER_SUBSCRIBER", -1),
    }
    local net, n_subs = P.prefix(d.subscribers)
    local pool, n_pool = P.prefix(d.pool)
    local r = d.port_max - d.port_min + 1
    local c = (n_subs + n_pool - 1) // n_pool
    local m = d.m
    if m < 0 then m = f.ports elseif m == 0 then m = r // c end
    if m < 1 or c * m > r then
        error(string.format("deterministic mapping does not fit: C=%d x M=%d > %d ports", c, m, r))
    end
    if m < f.ports then
        error(string.format("DET_PORTS_PER_SUBSCRIBER M=%d < PORTS_PER_SUBSCRIBER %d", m, f.ports))
    end
    local i0 = f.sub_lo - net
    local i1 = f.sub_hi - net
    if i0 < 0 or i1 >= n_subs then
        error("the subscribers are not all inside DET_SUBSCRIBERS " .. d.subscribers)
    end
    local j0, j1 = i0 // c, i1 // c
    local out = { c = c, m = m, addr_lo = pool + j0, addr_hi = pool + j1 }
    if j0 == j1 then
        out.port_lo = d.port_min + (i0 % c) * m
        out.port_hi = d.port_min + (i1 % c) * m + m - 1
    else
        -- several public addresses: the bounding rectangle, all C ranges of each address
        out.port_lo = d.port_min
        out.port_hi = d.port_min + c * m - 1
    end
    local n_addr = out.addr_hi - out.addr_lo + 1
    local n_port = out.port_hi - out.port_lo + 1
    out.size = n_addr * n_port
    out.exact = (out.size == f.subscribers * m)
    if not out.exact then
        print(string.format("[cgnat] warning: the subscribers span %d public addresses; port 1 "
            .. "sweeps %d endpoints of which %d are mapped: %.1f%% of its packets will find no "
            .. "mapping (keep the subscribers on one public address: at most C=%d from a "
            .. "multiple of C)", n_addr, out.size, f.subscribers * m,
            100 * (1 - f.subscribers * m / out.size), c))
        if P.gcd(n_addr, n_port) ~= 1 then
            print("[cgnat] warning: gcd(public addresses, ports) ~= 1: range mode covers only "
                .. "part of that rectangle")
        end
    end
    if m > f.ports then
        print(string.format("[cgnat] warning: M=%d > PORTS_PER_SUBSCRIBER %d: cgnat maps only %d "
            .. "of each subscriber's %d ports; set pool.ports_per_subscriber = %d",
            m, f.ports, f.ports, m, f.ports))
    end
    return out
end

-- Port 1 setup for the server -> public endpoint direction.
function P.setup_outside(f, ports, det, size, rate)
    P.setup_port(1, {
        dst_mac = ports.outside_mac, own_ip = ports.gen1_ip, proto = "udp", size = size,
        rate = rate, count = 0,
        src_lo = f.srv_lo, src_hi = f.srv_hi, dst_lo = det.addr_lo, dst_hi = det.addr_hi,
        sport_lo = f.dport, sport_hi = f.dport,
        dport_lo = det.port_lo, dport_hi = det.port_hi,
    })
end

-- Port statistics across pktgen versions: portStats(list, "port"|"rate") in most, a single
-- argument in the newest. Returns the table of one port, or nil.
function P.stats(port, kind)
    local ok, t = pcall(pktgen.portStats, tostring(port), kind or "port")
    if not ok or type(t) ~= "table" then ok, t = pcall(pktgen.portStats, tostring(port)) end
    if not ok or type(t) ~= "table" then return nil end
    return t[port] or t[tostring(port)]
end

function P.sending(port)
    local ok, t = pcall(pktgen.isSending, tostring(port))
    if not ok or type(t) ~= "table" then return false end
    local v = t[port]
    if v == nil then v = t[tostring(port)] end
    return v == "y" or v == 1 or v == true
end

-- Link speed in Mbit/s from pktgen.linkState ("<UP-10000-FD>"), or nil.
function P.link_mbps(port)
    local ok, t = pcall(pktgen.linkState, tostring(port))
    if not ok or type(t) ~= "table" then return nil end
    local s = t[port] or t[tostring(port)]
    return s and tonumber(string.match(tostring(s), "(%d+)")) or nil
end

-- Expected packets per second at `rate` percent of the link for frames of `size` bytes.
function P.pps(port, rate, size)
    local mbps = P.link_mbps(port)
    if not mbps or mbps == 0 then return nil end
    return mbps * 1e6 * rate / 100 / ((size + 20) * 8)
end

-- Waits until `port` stops sending (a count-limited run), at most max_secs. Returns the
-- elapsed milliseconds (in steps of poll_ms).
function P.wait_done(port, max_secs, poll_ms)
    poll_ms = poll_ms or 100
    local waited = 0
    pktgen.delay(poll_ms)
    waited = waited + poll_ms
    while P.sending(port) and waited < max_secs * 1000 do
        pktgen.delay(poll_ms)
        waited = waited + poll_ms
    end
    return waited
end

-- Sends on `portlist` for `secs` seconds; samples the per-second rates half-way.
-- Returns the sampled rate tables {[port] = stats}.
function P.run_for(portlist, ports, secs, drain_ms)
    pktgen.clr()
    pktgen.start(portlist)
    local half = math.floor(secs * 500)
    pktgen.delay(half)
    local rates = {}
    for _, p in ipairs(ports) do rates[p] = P.stats(p, "rate") end
    pktgen.delay(math.floor(secs * 1000) - half)
    pktgen.stop(portlist)
    pktgen.delay(drain_ms or 500)
    return rates
end

-- One direction of a result: tx on `from`, rx on `to`.
function P.report(label, from, to, secs, rates)
    local tx = P.stats(from, "port")
    local rx = P.stats(to, "port")
    local sent = tx and tx.opackets
    local got = rx and rx.ipackets
    local line = string.format("[cgnat] %s: port %d -> port %d: tx %s, rx %s", label, from, to,
        P.fmt(sent), P.fmt(got))
    local lost
    if sent and got then
        lost = sent - got
        local pct = sent > 0 and 100 * lost / sent or 0
        line = line .. string.format(", loss %s (%.4f%%), avg tx %s pps, avg rx %s pps",
            P.fmt(lost), pct, P.fmt(sent / secs), P.fmt(got / secs))
    else
        line = line .. ", loss n/a (pktgen.portStats gave nothing)"
    end
    local rt = rates and rates[from]
    local rr = rates and rates[to]
    if rt and rr then
        line = line .. string.format("; mid-run tx %s pps, rx %s pps",
            P.fmt(rt.pkts_tx or rt.opackets), P.fmt(rr.pkts_rx or rr.ipackets))
    end
    print(line)
    return sent, got, lost
end

function P.finish()
    if P.param("QUIT", false) then pktgen.quit() end
end

return P
