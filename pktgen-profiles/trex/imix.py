"""cgnat throughput with IMIX: 64/594/1518-byte frames at 7:4:1 (TRex STL).

The classic simple IMIX; the templates are 60/590/1514 bytes, which is TRex's own IMIX (TRex
builds frames without the FCS). One stream per size, each with the same field engine as
udp_64b_flows.py (STLVmTupleGen over subscriber x source port), so every flow carries every
size. pps is the total over the three streams, split 7:4:1.

    trex-console> start -f pktgen-profiles/trex/imix.py -p 0 -m 10gbpsl1 -d 60 \
                        -t subscribers=1000,ports_per_subscriber=64
    trex-console> start -f pktgen-profiles/trex/imix.py -p 0 -t sizes=64:1518,weights=1:1

bidir=1 adds the server -> public direction on port 1 (cgnat in deterministic mode, see
rfc9693_bidir.py).
"""

import os

from trex_stl_lib.api import *  # noqa: F401,F403

from cgnat_stl import (MAX_FRAME, MIN_FRAME, add_det_args, base_parser, check_flow_args,
                       direction_error, inside_vm, outside_streams, parse_tunables, split_pps,
                       template)


def _int_list(text):
    return [int(x) for x in str(text).replace(":", ",").split(",") if x.strip()]


class CgnatImix(object):
    """IMIX (frame sizes with weights) over the subscriber x source-port sweep."""

    def get_streams(self, tunables=None, direction=0, port_id=0, **kwargs):
        p = base_parser(os.path.basename(__file__), self.__doc__)
        add_det_args(p)
        # TRex's old -t syntax splits on commas: there, give lists with ':' (sizes=64:594:1518).
        p.add_argument("--sizes", type=_int_list, default=[64, 594, 1518],
                       help="frame sizes on the wire incl. FCS, comma or colon separated")
        p.add_argument("--weights", type=_int_list, default=[7, 4, 1],
                       help="relative packet counts of the sizes")
        a = parse_tunables(p, tunables, kwargs)
        check_flow_args(a)
        if len(a.sizes) != len(a.weights) or not a.sizes:
            raise ValueError("sizes and weights must have the same, non-zero length")
        for s in a.sizes:
            if not MIN_FRAME <= s <= MAX_FRAME:
                raise ValueError("IMIX size %d out of %d..%d" % (s, MIN_FRAME, MAX_FRAME))
        if min(a.weights) < 1:
            raise ValueError("weights must be >= 1")

        if direction == 0:
            streams = []
            for size, pps in zip(a.sizes, split_pps(a.pps, a.weights)):
                pkt = template(a.first_subscriber, a.first_server, a.sport_base, a.dport, size,
                               csum=a.csum)
                streams.append(STLStream(name="imix_%d" % size,
                                         packet=STLPktBuilder(pkt=pkt, vm=inside_vm(a)),
                                         mode=STLTXCont(pps=pps)))
            return streams
        if a.bidir:
            return outside_streams(a, a.sizes, a.weights, lambda pps: STLTXCont(pps=pps))
        raise direction_error(os.path.basename(__file__))


def register():
    return CgnatImix()
