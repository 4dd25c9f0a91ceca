"""A stand-in for the part of TRex's `trex_stl_lib.api` that the cgnat profiles use.

Used by pktgen-profiles/check.sh to load the profiles without TRex. Every class records the
arguments it was built with (`.args`, a dict of all parameters including defaults) and checks
them the way TRex does where that matters (flow-variable sizes and ranges, rate arguments,
field names resolved against the real scapy packet). On top of that, `STLPktBuilder.simulate`
runs the field-engine program over the template packet, so the checks can look at the frames
the profile would make TRex send: addresses, ports, sizes and checksums.

This is not TRex: only the names below exist, and the field-engine semantics are those of
TRex's documentation (flow variables start at init_value, which defaults to min_value (max_value
for "dec"); STLVmTupleGen steps the address first and the port when the addresses wrap;
limit_flows restarts the sequence).
"""

import inspect
import random
import struct

from scapy.layers.inet import ICMP, IP, TCP, UDP  # noqa: F401  re-exported like TRex does
from scapy.layers.l2 import Ether  # noqa: F401
from scapy.packet import Packet, Padding, Raw  # noqa: F401


class STLError(Exception):
    pass


TRexError = STLError


class _Recorded(object):
    """Records the bound constructor arguments in self.args."""

    def _record(self, init, local_vars):
        sig = inspect.signature(init)
        self.args = {}
        for name, param in sig.parameters.items():
            if name == "self":
                continue
            if param.kind == param.VAR_KEYWORD:
                self.args.update(local_vars.get(name) or {})
            else:
                self.args[name] = local_vars[name]


def _ip_or_int(v):
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        parts = v.split(".")
        if len(parts) != 4 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise STLError("not an IPv4 address: %r" % v)
        return struct.unpack("!I", bytes(int(p) for p in parts))[0]
    raise STLError("value must be an int or an IPv4 string, got %r" % (v,))


# --- TX modes ----------------------------------------------------------------------------


class STLTXMode(_Recorded):
    def __init__(self, pps=None, bps_L1=None, bps_L2=None, percentage=None):
        self._record(STLTXMode.__init__, locals())
        given = [x for x in (pps, bps_L1, bps_L2, percentage) if x is not None]
        if len(given) > 1:
            raise STLError("give only one of pps, bps_L1, bps_L2, percentage")
        for x in given:
            if not isinstance(x, (int, float)) or isinstance(x, bool) or x <= 0:
                raise STLError("rate must be a positive number, got %r" % (x,))
        if percentage is not None and percentage > 100:
            raise STLError("percentage above 100")
        # TRex's default rate is 1 pps
        self.pps = pps if pps is not None else (None if given else 1.0)


class STLTXCont(STLTXMode):
    def __init__(self, **kwargs):
        STLTXMode.__init__(self, **kwargs)
        self.type = "continuous"


class STLTXSingleBurst(STLTXMode):
    def __init__(self, total_pkts=1, **kwargs):
        if not isinstance(total_pkts, int) or isinstance(total_pkts, bool) or total_pkts < 1:
            raise STLError("total_pkts must be a positive int, got %r" % (total_pkts,))
        STLTXMode.__init__(self, **kwargs)
        self.args["total_pkts"] = total_pkts
        self.total_pkts = total_pkts
        self.type = "single_burst"


class STLTXMultiBurst(STLTXMode):
    def __init__(self, pkts_per_burst=1, ibg=0.0, count=1, **kwargs):
        STLTXMode.__init__(self, **kwargs)
        self.args.update(pkts_per_burst=pkts_per_burst, ibg=ibg, count=count)
        self.type = "multi_burst"


# --- flow stats ----------------------------------------------------------------------------


class STLFlowStats(_Recorded):
    def __init__(self, pg_id, vxlan=False, ieee_1588=False):
        self._record(STLFlowStats.__init__, locals())
        self.pg_id = pg_id


class STLFlowLatencyStats(STLFlowStats):
    def __init__(self, pg_id, vxlan=False, ieee_1588=False):
        STLFlowStats.__init__(self, pg_id, vxlan, ieee_1588)


# --- field engine --------------------------------------------------------------------------


class CTRexVmInsFixHwCs(object):
    L4_TYPE_UDP = 11
    L4_TYPE_TCP = 13
    L4_TYPE_IP = 17


class _VmInstr(_Recorded):
    def var_names(self):
        return []

    def var_ref(self):
        return None


class STLVmFlowVar(_VmInstr):
    def __init__(self, name, init_value=None, min_value=0, max_value=255, size=4, step=1,
                 op="inc", **kwargs):
        self._record(STLVmFlowVar.__init__, locals())
        if size not in (1, 2, 4, 8):
            raise STLError("flow var %s: invalid size %r" % (name, size))
        if op not in ("inc", "dec", "random"):
            raise STLError("flow var %s: invalid op %r" % (name, op))
        self.name, self.size, self.op = name, size, op
        self.min_value = _ip_or_int(min_value)
        self.max_value = _ip_or_int(max_value)
        self.step = _ip_or_int(step)
        if init_value is None:
            init_value = self.max_value if op == "dec" else self.min_value
        self.init_value = _ip_or_int(init_value)
        top = (1 << (8 * size)) - 1
        for v in (self.min_value, self.max_value, self.init_value, self.step):
            if not 0 <= v <= top:
                raise STLError("flow var %s: %d does not fit %d bytes" % (name, v, size))
        if self.min_value > self.max_value:
            raise STLError("flow var %s: min > max" % name)
        if not self.min_value <= self.init_value <= self.max_value:
            raise STLError("flow var %s: init_value out of range" % name)
        if self.step <= 0:
            raise STLError("flow var %s: step must be > 0" % name)

    def var_names(self):
        return [self.name]

    def sizes(self):
        return {self.name: self.size}


class STLVmTupleGen(_VmInstr):
    def __init__(self, name, ip_min="0.0.0.1", ip_max="0.0.0.10", port_min=1025,
                 port_max=65535, limit_flows=100000, flags=0):
        self._record(STLVmTupleGen.__init__, locals())
        self.name = name
        self.ip_min, self.ip_max = _ip_or_int(ip_min), _ip_or_int(ip_max)
        for v in (port_min, port_max, limit_flows, flags):
            if not isinstance(v, int) or isinstance(v, bool):
                raise STLError("tuple gen %s: %r is not an int" % (name, v))
        if self.ip_min > self.ip_max:
            raise STLError("tuple gen %s: ip_min > ip_max" % name)
        if not 0 <= port_min <= port_max <= 65535:
            raise STLError("tuple gen %s: bad port range %d..%d" % (name, port_min, port_max))
        if limit_flows < 1:
            raise STLError("tuple gen %s: limit_flows must be >= 1" % name)
        self.port_min, self.port_max, self.limit_flows = port_min, port_max, limit_flows

    def var_names(self):
        return [self.name + ".ip", self.name + ".port"]

    def sizes(self):
        return {self.name + ".ip": 4, self.name + ".port": 2}


class STLVmFlowVarRepeatableRandom(_VmInstr):
    def __init__(self, name, size=4, limit=100, seed=None, min_value=0, max_value=None):
        self._record(STLVmFlowVarRepeatableRandom.__init__, locals())
        self.name, self.size, self.limit = name, size, limit
        self.min_value = _ip_or_int(min_value)
        self.max_value = (1 << (8 * size)) - 1 if max_value is None else _ip_or_int(max_value)

    def var_names(self):
        return [self.name]

    def sizes(self):
        return {self.name: self.size}


class STLVmWrFlowVar(_VmInstr):
    def __init__(self, fv_name, pkt_offset, offset_fixup=0, add_val=0, is_big=True):
        self._record(STLVmWrFlowVar.__init__, locals())
        self.fv_name, self.pkt_offset = fv_name, pkt_offset
        self.offset_fixup, self.add_val, self.is_big = offset_fixup, add_val, is_big

    def var_ref(self):
        return self.fv_name


class STLVmWrMaskFlowVar(_VmInstr):
    def __init__(self, fv_name, pkt_offset, pkt_cast_size=1, mask=0xff, shift=0, add_value=0,
                 offset_fixup=0, is_big=True):
        self._record(STLVmWrMaskFlowVar.__init__, locals())
        if pkt_cast_size not in (1, 2, 4):
            raise STLError("write_mask: invalid cast size")
        self.fv_name, self.pkt_offset = fv_name, pkt_offset
        self.pkt_cast_size, self.mask, self.shift = pkt_cast_size, mask, shift
        self.add_value, self.offset_fixup, self.is_big = add_value, offset_fixup, is_big

    def var_ref(self):
        return self.fv_name


class STLVmFixIpv4(_VmInstr):
    def __init__(self, offset):
        self._record(STLVmFixIpv4.__init__, locals())
        self.offset = offset


class STLVmFixChecksumHw(_VmInstr):
    def __init__(self, l3_offset, l4_offset, l4_type):
        self._record(STLVmFixChecksumHw.__init__, locals())
        if l4_type not in (CTRexVmInsFixHwCs.L4_TYPE_UDP, CTRexVmInsFixHwCs.L4_TYPE_TCP,
                           CTRexVmInsFixHwCs.L4_TYPE_IP):
            raise STLError("fix_chksum_hw: bad l4_type %r" % (l4_type,))
        self.l3_offset, self.l4_offset, self.l4_type = l3_offset, l4_offset, l4_type


class STLVmTrimPktSize(_VmInstr):
    def __init__(self, fv_name):
        self._record(STLVmTrimPktSize.__init__, locals())
        self.fv_name = fv_name

    def var_ref(self):
        return self.fv_name


class STLScVmRaw(_Recorded):
    def __init__(self, list_of_commands=None, cache_size=None):
        self._record(STLScVmRaw.__init__, locals())
        self.commands = list(list_of_commands or [])
        self.cache_size = cache_size

    def add_cmd(self, cmd):
        self.commands.append(cmd)


class STLVM(STLScVmRaw):
    """The object-style field engine (vm.var(...), vm.write(...), ...)."""

    def __init__(self):
        STLScVmRaw.__init__(self)

    def var(self, name, min_value, max_value, size, op, step=1, **k):
        self.add_cmd(STLVmFlowVar(name=name, min_value=min_value, max_value=max_value,
                                  size=size, op=op, step=step, **k))

    def tuple_var(self, name, ip_min, ip_max, port_min, port_max, limit_flows=0, **k):
        self.add_cmd(STLVmTupleGen(name=name, ip_min=ip_min, ip_max=ip_max, port_min=port_min,
                                   port_max=port_max, limit_flows=limit_flows, **k))

    def write(self, fv_name, pkt_offset, offset_fixup=0, add_val=0, byte_order="big"):
        self.add_cmd(STLVmWrFlowVar(fv_name=fv_name, pkt_offset=pkt_offset,
                                    offset_fixup=offset_fixup, add_val=add_val,
                                    is_big=(byte_order == "big")))

    def write_mask(self, fv_name, pkt_offset, pkt_cast_size, mask, shift=0, offset_fixup=0,
                   add_val=0, byte_order="big"):
        self.add_cmd(STLVmWrMaskFlowVar(fv_name=fv_name, pkt_offset=pkt_offset,
                                        pkt_cast_size=pkt_cast_size, mask=mask, shift=shift,
                                        add_value=add_val, offset_fixup=offset_fixup,
                                        is_big=(byte_order == "big")))

    def fix_chksum(self, offset="IP"):
        self.add_cmd(STLVmFixIpv4(offset))

    def fix_chksum_hw(self, l3_offset, l4_offset, l4_type):
        self.add_cmd(STLVmFixChecksumHw(l3_offset=l3_offset, l4_offset=l4_offset,
                                        l4_type=l4_type))

    def trim(self, fv_name):
        self.add_cmd(STLVmTrimPktSize(fv_name=fv_name))

    def repeatable_random_var(self, fv_name, size, limit, seed=None, min_value=None,
                              max_value=None):
        self.add_cmd(STLVmFlowVarRepeatableRandom(name=fv_name, size=size, limit=limit,
                                                  seed=seed, min_value=min_value or 0,
                                                  max_value=max_value))


# --- packet builder ------------------------------------------------------------------------


def _layer(pkt, desc):
    """(layer object, offset) for 'IP' or 'IP:1' (the second IP header)."""
    name, _, idx = desc.partition(":")
    count = int(idx) if idx else 0
    offset = 0
    layer = pkt
    while layer.__class__.__name__ != "NoPayload":
        if layer.__class__.__name__ == name:
            if count == 0:
                return layer, offset
            count -= 1
        offset += len(layer) - len(layer.payload)
        layer = layer.payload
    raise STLError("no layer %r in the packet" % desc)


# (offset within the layer, size) of the header fields a write may target
_FIELDS = {
    "Ether": {"dst": (0, 6), "src": (6, 6), "type": (12, 2)},
    "IP": {"tos": (1, 1), "len": (2, 2), "id": (4, 2), "ttl": (8, 1), "proto": (9, 1),
           "chksum": (10, 2), "src": (12, 4), "dst": (16, 4)},
    "UDP": {"sport": (0, 2), "dport": (2, 2), "len": (4, 2), "chksum": (6, 2)},
    "TCP": {"sport": (0, 2), "dport": (2, 2), "seq": (4, 4), "ack": (8, 4), "window": (14, 2),
            "chksum": (16, 2)},
}


def _field(pkt, desc):
    """(offset, size in bytes) of 'Layer[:n].field' in the built packet."""
    parts = desc.split(".")
    if len(parts) != 2:
        raise STLError("field must be Layer.field, got %r" % desc)
    layer, base = _layer(pkt, parts[0])
    table = _FIELDS.get(layer.__class__.__name__, {})
    if parts[1] not in table:
        if parts[1] in [f.name for f in layer.fields_desc]:
            raise STLError("field %s exists but this stub does not know its offset" % desc)
        raise STLError("no field %r" % desc)
    off, size = table[parts[1]]
    return base + off, size


def _csum16(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class STLPktBuilder(_Recorded):
    def __init__(self, pkt=None, pkt_buffer=None, vm=None, path_relative_to_profile=False,
                 build_raw=False, remove_fcs=True):
        self._record(STLPktBuilder.__init__, locals())
        if pkt is not None and pkt_buffer is not None:
            raise STLError("give pkt or pkt_buffer, not both")
        if pkt is not None and not isinstance(pkt, Packet):
            raise STLError("this stub takes scapy packets only, got %r" % type(pkt))
        if vm is not None and not isinstance(vm, (STLScVmRaw, list)):
            raise STLError("vm must be a list or STLScVmRaw")
        self.pkt = pkt
        self.pkt_bytes = bytes(pkt) if pkt is not None else pkt_buffer
        if isinstance(vm, STLScVmRaw):
            self.vm = list(vm.commands)
            self.cache_size = vm.cache_size
        else:
            self.vm = list(vm or [])
            self.cache_size = None
        self.var_sizes = {}
        self._compile()

    def _compile(self):
        """What TRex checks when it compiles the program, plus a lint: a write must be exactly
        as wide as the field it writes (TRex writes the variable's size, whatever the field)."""
        if self.pkt is None:
            self.pkt = Ether(self.pkt_bytes)
        self.resolved = []
        for ins in self.vm:
            if not isinstance(ins, _VmInstr):
                raise STLError("not a field-engine instruction: %r" % (ins,))
            for n in ins.var_names():
                if n in self.var_sizes:
                    raise STLError("variable %s defined twice" % n)
            if ins.var_names():
                self.var_sizes.update(ins.sizes())
            ref = ins.var_ref()
            if ref is not None and ref not in self.var_sizes:
                raise STLError("variable %s does not exist (or is used before it is defined)"
                               % ref)
            if isinstance(ins, STLVmWrFlowVar):
                if isinstance(ins.pkt_offset, str):
                    off, size = _field(self.pkt, ins.pkt_offset)
                    if size != self.var_sizes[ins.fv_name]:
                        raise STLError("write of %d-byte %s into %d-byte field %s"
                                       % (self.var_sizes[ins.fv_name], ins.fv_name, size,
                                          ins.pkt_offset))
                else:
                    off = ins.pkt_offset
                self.resolved.append(("write", ins, off + ins.offset_fixup))
            elif isinstance(ins, STLVmWrMaskFlowVar):
                off = _field(self.pkt, ins.pkt_offset)[0] if isinstance(ins.pkt_offset, str) \
                    else ins.pkt_offset
                self.resolved.append(("write_mask", ins, off + ins.offset_fixup))
            elif isinstance(ins, STLVmFixIpv4):
                off = _layer(self.pkt, ins.offset)[1] if isinstance(ins.offset, str) \
                    else ins.offset
                self.resolved.append(("fix_ipv4", ins, off))
            elif isinstance(ins, STLVmFixChecksumHw):
                l3 = _layer(self.pkt, ins.l3_offset)[1] if isinstance(ins.l3_offset, str) \
                    else ins.l3_offset
                l4 = _layer(self.pkt, ins.l4_offset)[1] if isinstance(ins.l4_offset, str) \
                    else ins.l4_offset
                if l4 < l3 + 20:
                    raise STLError("fix_chksum_hw: l4_offset before the end of the IPv4 header")
                self.resolved.append(("fix_hw", ins, (l3, l4)))
            else:
                self.resolved.append(("var", ins, None))
        if len(self.pkt_bytes) < 60:
            raise STLError("template of %d bytes: TRex needs at least 60 (64 with FCS)"
                           % len(self.pkt_bytes))

    def get_pkt_len(self):
        return len(self.pkt_bytes)

    def variables(self):
        """The flow variables and tuple generators of the program."""
        return [i for i in self.vm if isinstance(i, (STLVmFlowVar, STLVmTupleGen,
                                                     STLVmFlowVarRepeatableRandom))]

    def simulate(self, count, seed=1):
        """The first `count` frames the program produces (bytes, without FCS)."""
        rng = random.Random(seed)
        state = {}
        out = []
        for i in range(count):
            buf = bytearray(self.pkt_bytes)
            values = {}
            for kind, ins, off in self.resolved:
                if kind == "var":
                    if isinstance(ins, STLVmTupleGen):
                        n_ip = ins.ip_max - ins.ip_min + 1
                        n_port = ins.port_max - ins.port_min + 1
                        k = (i % ins.limit_flows) % (n_ip * n_port)
                        values[ins.name + ".ip"] = ins.ip_min + k % n_ip
                        values[ins.name + ".port"] = ins.port_min + (k // n_ip) % n_port
                    elif isinstance(ins, STLVmFlowVar):
                        if ins.op == "random":
                            v = rng.randint(ins.min_value, ins.max_value)
                        elif ins.name not in state:
                            v = ins.init_value
                        elif ins.op == "inc":
                            v = state[ins.name] + ins.step
                            if v > ins.max_value:
                                v = ins.min_value
                        else:
                            v = state[ins.name] - ins.step
                            if v < ins.min_value:
                                v = ins.max_value
                        state[ins.name] = v
                        values[ins.name] = v
                    else:
                        values[ins.name] = rng.randint(ins.min_value, ins.max_value)
                elif kind == "write":
                    size = self.var_sizes[ins.fv_name]
                    v = (values[ins.fv_name] + ins.add_val) % (1 << (8 * size))
                    buf[off:off + size] = v.to_bytes(size, "big" if ins.is_big else "little")
                elif kind == "write_mask":
                    cs = ins.pkt_cast_size
                    v = values[ins.fv_name] + ins.add_value
                    v = v << ins.shift if ins.shift > 0 else v >> (-ins.shift)
                    old = int.from_bytes(buf[off:off + cs], "big")
                    new = ((old & ~ins.mask) | (v & ins.mask)) & ((1 << (8 * cs)) - 1)
                    buf[off:off + cs] = new.to_bytes(cs, "big")
                elif kind == "fix_ipv4":
                    ihl = (buf[off] & 0x0F) * 4
                    buf[off + 10:off + 12] = b"\x00\x00"
                    buf[off + 10:off + 12] = struct.pack("!H", _csum16(bytes(buf[off:off + ihl])))
                elif kind == "fix_hw":
                    l3, l4 = off
                    ihl = (buf[l3] & 0x0F) * 4
                    buf[l3 + 10:l3 + 12] = b"\x00\x00"
                    buf[l3 + 10:l3 + 12] = struct.pack("!H", _csum16(bytes(buf[l3:l3 + ihl])))
                    if ins.l4_type != CTRexVmInsFixHwCs.L4_TYPE_IP:
                        total = struct.unpack("!H", bytes(buf[l3 + 2:l3 + 4]))[0]
                        seg_len = total - (l4 - l3)
                        ck_off = l4 + (6 if ins.l4_type == CTRexVmInsFixHwCs.L4_TYPE_UDP else 16)
                        buf[ck_off:ck_off + 2] = b"\x00\x00"
                        pseudo = bytes(buf[l3 + 12:l3 + 20]) + struct.pack(
                            "!BBH", 0, buf[l3 + 9], seg_len)
                        c = _csum16(pseudo + bytes(buf[l4:l4 + seg_len]))
                        if ins.l4_type == CTRexVmInsFixHwCs.L4_TYPE_UDP and c == 0:
                            c = 0xFFFF
                        buf[ck_off:ck_off + 2] = struct.pack("!H", c)
            out.append(bytes(buf))
        return out


# --- streams and profiles ------------------------------------------------------------------


class STLStream(_Recorded):
    def __init__(self, name=None, packet=None, mode=None, enabled=True, self_start=True,
                 isg=0.0, flow_stats=None, next=None, stream_id=None, action_count=0,
                 random_seed=0, mac_src_override_by_pkt=None, mac_dst_override_mode=None,
                 dummy_stream=False, start_paused=False, core_id=-1):
        self._record(STLStream.__init__, locals())
        if mode is None:
            mode = STLTXCont(pps=1)
        if not isinstance(mode, STLTXMode):
            raise STLError("mode must be an STLTXMode")
        if packet is not None and not isinstance(packet, STLPktBuilder):
            raise STLError("packet must be an STLPktBuilder")
        if not isinstance(isg, (int, float)) or isg < 0:
            raise STLError("isg must be a non-negative number of usec")
        if flow_stats is not None and not isinstance(flow_stats, STLFlowStats):
            raise STLError("flow_stats must be STLFlowStats/STLFlowLatencyStats")
        self.name, self.packet, self.mode = name, packet, mode
        self.self_start, self.isg, self.next = self_start, isg, next
        self.flow_stats = flow_stats
        self.args["mode"] = mode


class STLProfile(object):
    def __init__(self, streams=None):
        streams = streams if isinstance(streams, list) else [streams]
        for s in streams:
            if not isinstance(s, STLStream):
                raise STLError("STLProfile takes STLStream objects")
        names = [s.name for s in streams if s.name is not None]
        if len(names) != len(set(names)):
            raise STLError("stream names must be unique: %r" % names)
        for s in streams:
            if s.next is not None and s.next not in names:
                raise STLError("stream %s: next=%r is not a stream of the profile"
                               % (s.name, s.next))
        self.streams = streams

    def get_streams(self):
        return self.streams
