#!/usr/bin/env python3
"""A UDP collector for the lab tests: receives datagrams on ADDR:PORT and appends each to a
pcap file as an Ethernet/IPv4/UDP frame (addresses as received, checksums zero), flushed per
datagram, until killed or --seconds pass. tshark can then decode the file (e.g. IPFIX with
`-d udp.port==4739,cflow`). Unlike a capture on `lo`, nothing is lost to a packet ring that a
busy machine does not drain: the socket buffer is large and only this process reads it.

usage: udp_collector.py ADDR PORT OUT.pcap [--seconds N]
"""
import socket
import struct
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seconds = 300.0
    if len(sys.argv) >= 6 and sys.argv[4] == "--seconds":
        seconds = float(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, port))
    s.settimeout(0.2)
    deadline = time.time() + seconds
    dst_ip = socket.inet_aton(addr)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.flush()
        while time.time() < deadline:
            try:
                data, (src, sport) = s.recvfrom(65535)
            except socket.timeout:
                continue
            udp = struct.pack("!HHHH", sport, port, 8 + len(data), 0) + data
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             socket.inet_aton(src), dst_ip)
            frame = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00" + ip + udp
            now = time.time()
            f.write(struct.pack("<IIII", int(now), int((now % 1) * 1e6), len(frame), len(frame)))
            f.write(frame)
            f.flush()


if __name__ == "__main__":
    main()
