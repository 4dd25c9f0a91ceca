"""cgnat throughput: 64-byte UDP from subscribers x source ports (TRex STL).

Port 0 (direction 0) -> cgnat inside: every subscriber address (first_subscriber and the
following ones) sends from ports_per_subscriber source ports (sport_base upward) to the servers
(first_server upward, dport 9). The field engine (STLVmTupleGen over subscriber x source port)
walks all subscribers x ports_per_subscriber flows in order, or picks them pseudorandomly with
order=random; checksums are fixed per packet.

Port 1 (direction 1), with bidir=1 only: servers -> the public endpoints that cgnat in
deterministic mode gives those flows (see rfc9693_bidir.py and the det_* tunables).

    trex-console> start -f pktgen-profiles/trex/udp_64b_flows.py -p 0 -m 10mpps -d 60 \
                        -t subscribers=1000,ports_per_subscriber=64
    trex-console> start -f pktgen-profiles/trex/udp_64b_flows.py -p 0 1 -m 5mpps -d 60 -t bidir=1

Without a preliminary phase the first cycle through the flows also creates cgnat's state; for
RFC 9693 numbers use rfc9693_bidir.py (or run this profile once at a low rate first).
"""

import os

from trex_stl_lib.api import *  # noqa: F401,F403

from cgnat_stl import (add_det_args, base_parser, check_flow_args, direction_error, inside_vm,
                       latency_stream, outside_streams, parse_tunables, template)


class CgnatUdpFlows(object):
    """64-byte UDP (size tunable) over the whole subscriber x source-port sweep."""

    def get_streams(self, tunables=None, direction=0, port_id=0, **kwargs):
        p = base_parser(os.path.basename(__file__), self.__doc__)
        add_det_args(p)
        p.add_argument("--latency_pps", type=float, default=0,
                       help="if > 0, add a latency/jitter stream (flow stats) at this rate")
        p.add_argument("--pg_id", type=int, default=10, help="flow-stats id of the latency stream "
                       "(+ direction)")
        a = parse_tunables(p, tunables, kwargs)
        check_flow_args(a)

        if direction == 0:
            pkt = template(a.first_subscriber, a.first_server, a.sport_base, a.dport, a.size,
                           csum=a.csum)
            streams = [STLStream(name="udp_flows",
                                 packet=STLPktBuilder(pkt=pkt, vm=inside_vm(a)),
                                 mode=STLTXCont(pps=a.pps))]
        elif a.bidir:
            streams = outside_streams(a, [a.size], [1], lambda pps: STLTXCont(pps=pps))
        else:
            raise direction_error(os.path.basename(__file__))
        if a.latency_pps > 0:
            streams.append(latency_stream(a, a.pg_id + direction, a.latency_pps, direction))
        return streams


def register():
    return CgnatUdpFlows()
