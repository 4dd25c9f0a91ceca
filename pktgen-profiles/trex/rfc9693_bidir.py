"""RFC 9693 two-phase test of cgnat, bidirectional (TRex STL).

Phase 1 (preliminary, not measured), port 0: one single burst of exactly one packet per flow,
subscribers x ports_per_subscriber packets in order (STLVmTupleGen), at prelim_pps. It makes
cgnat create every binding before anything is measured; check that port 1 received all of them.

Phase 2 (measured): port 0 sends subscriber -> server traffic over the same flows, with
pseudorandom subscriber and source port (order=random, RFC 4814 as RFC 9693 asks); port 1 sends
server -> subscriber traffic to the public address and port of each flow.

The outside direction and cgnat's port choice. A stateless profile cannot see which public port
cgnat chose for a flow. RFC 9693's responder therefore learns the four-tuples from the traffic
it receives in phase 1 and answers to those (a stateful tester: TRex ASTF, or a reflector). This
profile instead needs cgnat's deterministic mode (pool.mode = "deterministic", RFC 7422), where
the public endpoint of a subscriber follows from the configuration:

    N = addresses of inside.subscribers   P = pool addresses   R = port_max - port_min + 1
    C = ceil(N / P)   M = pool.ports_per_subscriber (or floor(R / C) when it is 0)
    subscriber i (the i-th address of inside.subscribers) -> public address pool[i // C],
        ports port_min + (i % C) * M .. port_min + (i % C) * M + M - 1

The det_* tunables are that formula's inputs (defaults: inside.subscribers = 100.64.0.0/16,
pool 203.0.113.0/24, ports 1024-65535, M = ports_per_subscriber). With cgnat's
pool.ports_per_subscriber equal to this profile's ports_per_subscriber, each subscriber's M
flows occupy all M ports of its range, whatever order cgnat picks them in, so the outside
streams (one per rectangle of public addresses x ports) hit exactly the mapped endpoints.

phase=both (default): phase 1 then phase 2 in one start; port 1 waits isg = the phase-1
duration + gap, so give the rates with the tunables and no -m (a multiplier would change the
phase-1 duration but not the wait). phase=prelim / phase=measured run one phase each, so
that phase 1 can be verified before phase 2 starts (the RFC's way):

    trex-console> start -f pktgen-profiles/trex/rfc9693_bidir.py -p 0 -t phase=prelim
    trex-console> stats                     # port 1 ipackets == subscribers x ports_per_subscriber
    trex-console> start -f pktgen-profiles/trex/rfc9693_bidir.py -p 0 1 -m 2mpps -d 60 \
                        -t phase=measured
"""

import os

from trex_stl_lib.api import *  # noqa: F401,F403

from cgnat_stl import (add_det_args, base_parser, check_flow_args, det_segments, inside_vm,
                       latency_stream, outside_streams, parse_tunables, template)


class CgnatRfc9693Bidir(object):
    """RFC 9693 phase 1 (state creation) and phase 2 (bidirectional measured traffic)."""

    def get_streams(self, tunables=None, direction=0, port_id=0, **kwargs):
        p = base_parser(os.path.basename(__file__), self.__doc__, order="random")
        add_det_args(p, bidir_default=True)
        p.add_argument("--phase", choices=("both", "prelim", "measured"), default="both")
        p.add_argument("--prelim_pps", type=float, default=100000.0,
                       help="phase-1 rate: below cgnat's connection establishment rate")
        p.add_argument("--gap_ms", type=float, default=1000.0,
                       help="pause between phase 1 and phase 2 (phase=both)")
        p.add_argument("--latency_pps", type=float, default=0,
                       help="if > 0, add a latency/jitter stream (flow stats) in phase 2")
        p.add_argument("--pg_id", type=int, default=20,
                       help="flow-stats id of the latency stream (+ direction)")
        a = parse_tunables(p, tunables, kwargs)
        check_flow_args(a)
        if a.prelim_pps <= 0 or a.gap_ms < 0:
            raise ValueError("prelim_pps must be > 0 and gap_ms >= 0")
        if not a.bidir:
            raise ValueError("rfc9693_bidir is bidirectional: bidir must stay 1 "
                             "(use udp_64b_flows.py for one direction)")
        if direction == 0:
            det_segments(a)  # port 0 refuses a config port 1 could not follow

        flows = a.subscribers * a.ports_per_subscriber
        prelim_usec = flows / a.prelim_pps * 1e6
        gap_usec = a.gap_ms * 1000.0
        if direction == 0:
            pkt = template(a.first_subscriber, a.first_server, a.sport_base, a.dport, a.size,
                           csum=a.csum)
            prelim = STLStream(name="phase1", self_start=True,
                               packet=STLPktBuilder(pkt=pkt, vm=inside_vm(a, order="seq")),
                               mode=STLTXSingleBurst(total_pkts=flows, pps=a.prelim_pps),
                               next="phase2_in" if a.phase == "both" else None)
            measured = STLStream(name="phase2_in", self_start=(a.phase == "measured"),
                                 isg=gap_usec if a.phase == "both" else 0.0,
                                 packet=STLPktBuilder(pkt=pkt, vm=inside_vm(a)),
                                 mode=STLTXCont(pps=a.pps))
            streams = {"both": [prelim, measured], "prelim": [prelim],
                       "measured": [measured]}[a.phase]
            latency_isg = prelim_usec + gap_usec if a.phase == "both" else 0.0
        else:
            if a.phase == "prelim":
                raise ValueError("phase=prelim sends on port 0 only: start it with -p 0")
            wait = prelim_usec + gap_usec if a.phase == "both" else 0.0
            streams = outside_streams(a, [a.size], [1], lambda pps: STLTXCont(pps=pps),
                                      prefix="phase2_out", isg=wait)
            latency_isg = wait
        if a.latency_pps > 0 and a.phase != "prelim":
            streams.append(latency_stream(a, a.pg_id + direction, a.latency_pps, direction,
                                          isg=latency_isg))
        return streams


def register():
    return CgnatRfc9693Bidir()
