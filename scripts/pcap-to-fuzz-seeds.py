#!/usr/bin/env python3
"""Turns a capture of real FTP control connections and TFTP requests (taken on the inside,
e.g. by lab/tests/ftp_alg.sh with FUZZ_SEEDS=1) into cargo-fuzz seeds for the alg targets.

usage: pcap-to-fuzz-seeds.py CAPTURE.pcap CORPUS_DIR   (writes CORPUS_DIR/{ftp,tftp}/lab_*)

FTP seed format (alg/src/fuzz_harness.rs): one flags byte, then one direction's byte stream.
Client streams are kept as captured (the harness's inside host is 100.64.0.2, the lab's first
subscriber); server streams get the lab server's address 198.51.100.2 replaced by the
harness's outside host 198.51.100.10 (same text length change in every form), so their 227
replies are accepted rather than refused as a third host. Each stream is written whole and
cut into 12-byte segments; streams that differ only in their numbers are written once.
TFTP seeds: each distinct RRQ/WRQ payload. Plain Python, no scapy.
"""
import hashlib
import pathlib
import re
import struct
import sys


def packets(path):
    data = pathlib.Path(path).read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(endian + "I", data[20:24])[0]
    if link != 1:
        raise SystemExit(f"{path}: link type {link}, want Ethernet")
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def main():
    cap, corpus = sys.argv[1], pathlib.Path(sys.argv[2])
    streams = {}  # (client ip, client port, from_client) -> {seq: payload}
    tftp = []
    for f in packets(cap):
        if len(f) < 34 or f[12:14] != b"\x08\x00":
            continue
        ihl = (f[14] & 15) * 4
        proto = f[23]
        src, dst = f[26:30], f[30:34]
        total = struct.unpack(">H", f[16:18])[0]
        l4 = f[14 + ihl:14 + total]
        if proto == 6 and len(l4) >= 20:
            sport, dport, seq = struct.unpack(">HHI", l4[:8])
            hl = (l4[12] >> 4) * 4
            payload = l4[hl:]
            if not payload:
                continue
            if dport == 21:
                key = (src, sport, True)
            elif sport == 21:
                key = (dst, dport, False)
            else:
                continue
            streams.setdefault(key, {}).setdefault(seq, payload)
        elif proto == 17 and len(l4) >= 8:
            dport = struct.unpack(">H", l4[2:4])[0]
            payload = l4[8:]
            if dport == 69 and payload[:2] in (b"\x00\x01", b"\x00\x02"):
                tftp.append(payload)
    (corpus / "ftp").mkdir(parents=True, exist_ok=True)
    (corpus / "tftp").mkdir(parents=True, exist_ok=True)
    seen = set()
    n = 0
    for (ip, port, from_client), segs in sorted(streams.items()):
        stream = b"".join(segs[s] for s in sorted(segs))
        if not from_client:
            stream = stream.replace(b"198,51,100,2,", b"198,51,100,10,")
        kind = b"client" if from_client else b"server"
        interesting = (b"PORT" in stream or b"EPRT" in stream) if from_client else (
            b"227 " in stream or b"229 " in stream)
        if not interesting:
            continue
        # One seed per shape: streams that differ only in numbers (ports) are duplicates.
        shape = re.sub(rb"[0-9]+", b"0", stream)
        if shape in seen:
            continue
        seen.add(shape)
        digest = hashlib.sha256(stream).hexdigest()[:12]
        base = 0 if from_client else 3  # client inside / server outside
        for flags, suffix in [(base, ""), (base | 0x30, "_seg12")]:
            name = f"lab_{kind.decode()}_{digest}{suffix}"
            (corpus / "ftp" / name).write_bytes(bytes([flags]) + stream[:4096])
            n += 1
    for p in {re.sub(rb"[0-9]", b"0", p): p for p in tftp}.values():
        name = "lab_tftp_" + hashlib.sha256(p).hexdigest()[:12]
        (corpus / "tftp" / name).write_bytes(p)
        n += 1
    print(f"{n} seeds written under {corpus}")


main()
