"""cgnat connection establishment rate (CPS): every packet is a new flow (TRex STL).

A single burst of exactly subscribers x ports_per_subscriber packets (default 1000 x 1000 =
1 M) from port 0; the field engine (STLVmTupleGen, limit_flows = the number of flows) gives
each packet a (subscriber, source port) that has not been used before, so each packet makes
cgnat create a binding. In RFC 9693 terms this is phase 1 used as a measurement: the rate
passes when port 1 receives every packet (and cgnat's binding_created grew by the burst size);
binary-search pps for the highest passing rate = maximum connection establishment rate.

    trex-console> start -f pktgen-profiles/trex/cps.py -p 0 -t pps=500000
    trex-console> start -f pktgen-profiles/trex/cps.py -p 0 -t pps=200000,proto=tcp

proto=tcp sends TCP SYNs instead of UDP (a binding plus a TCP session each). Every trial must
start with cgnat's tables empty of these flows: restart cgnatd between trials, or use trial=N,
which moves the source ports to sport_base + N x ports_per_subscriber (fresh flows while the
binding table still has room).
"""

import os

from trex_stl_lib.api import *  # noqa: F401,F403

from cgnat_stl import base_parser, check_flow_args, direction_error, inside_vm, parse_tunables, \
    template


class CgnatCps(object):
    """New flow per packet: one single burst over the whole subscriber x port space."""

    def get_streams(self, tunables=None, direction=0, port_id=0, **kwargs):
        p = base_parser(os.path.basename(__file__), self.__doc__, pps=100000.0)
        p.set_defaults(subscribers=1000, ports_per_subscriber=1000)
        p.add_argument("--proto", choices=("udp", "tcp"), default="udp",
                       help="udp datagrams, or tcp SYNs")
        p.add_argument("--trial", type=int, default=0,
                       help="shift the source ports by trial x ports_per_subscriber")
        p.add_argument("--continuous", type=int, default=0,
                       help="1: continuous instead of one burst (packets repeat flows after "
                            "subscribers x ports_per_subscriber packets; not a CPS measurement)")
        a = parse_tunables(p, tunables, kwargs)
        if a.trial < 0:
            raise ValueError("trial must be >= 0")
        if a.order != "seq":
            raise ValueError("cps needs order=seq: a pseudorandom order repeats flows")
        if a.proto == "tcp" and a.csum == "zero":
            raise ValueError("csum=zero is for UDP only")
        a.sport_base += a.trial * a.ports_per_subscriber
        check_flow_args(a)
        if direction != 0:
            raise direction_error(os.path.basename(__file__))

        flows = a.subscribers * a.ports_per_subscriber
        pkt = template(a.first_subscriber, a.first_server, a.sport_base, a.dport, a.size,
                       a.proto, a.csum)
        if a.continuous:
            mode = STLTXCont(pps=a.pps)
        else:
            mode = STLTXSingleBurst(total_pkts=flows, pps=a.pps)
        return [STLStream(name="new_flows",
                          packet=STLPktBuilder(pkt=pkt,
                                               vm=inside_vm(a, a.proto, limit_flows=flows)),
                          mode=mode)]


def register():
    return CgnatCps()
