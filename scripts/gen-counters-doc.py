#!/usr/bin/env python3
"""Regenerates docs/counters.md from dataplane/src/counters.rs (names and doc comments)."""
import re, pathlib
root = pathlib.Path(__file__).resolve().parent.parent
s = (root / "dataplane/src/counters.rs").read_text()
out = ["# Counters", "",
       "Every worker keeps these counters; `cgnatd` prints their sum over all workers at shutdown",
       "(`final counters`, one `name value` per line), followed by the DPDK port statistics",
       "(`port_<inside|outside>_<ipackets|opackets|imissed|ierrors|oerrors|rx_nombuf>`) and the",
       "control-plane event accounting: `log_event_dropped` (a worker's event queue was full),",
       "`log_event_suppressed` (exhaustion events beyond one per kind per second per worker),",
       "`log_event_queue_full` (the worker-to-control queue was full).",
       "Every way a frame can be dropped has exactly one `drop_*` counter. A test",
       "(`dataplane/tests/docs.rs`) fails if this page misses a counter; regenerate it with",
       "`python3 scripts/gen-counters-doc.py`.", ""]
for block, title in [("pub enum Event", "Events"), ("pub enum DropReason", "Drops")]:
    i = s.index(block); j = s.index("}", i)
    out += ["## " + title, "", "| counter | meaning |", "|---|---|"]
    doc = []
    for line in s[i:j].splitlines():
        line = line.strip()
        if line.startswith("///"):
            doc.append(line[3:].strip())
        m = re.match(r'(\w+) => "(\w+)",', line)
        if m:
            out.append(f"| `{m.group(2)}` | {' '.join(doc)} |"); doc = []
    out.append("")
# The ALG counters of the alg crate (`AlgCounters`), part of every worker's counters.
out += ["## ALGs", "",
        "Per ALG: messages of interest parsed, rewrites applied, expectations created, and one",
        "counter per reason a message was refused (passed unmodified, or held per policy). What",
        "happened to the expectations afterwards is in the events above",
        "(`alg_*_expectation_used/expired/evicted/refused`). See `docs/alg.md`.", "",
        "| counter | meaning |", "|---|---|"]
for path, prefix, what in [("alg/src/ftp/mod.rs", "alg_ftp_", "FTP"),
                           ("alg/src/tftp.rs", "alg_tftp_", "TFTP"),
                           ("alg/src/h323/mod.rs", "alg_h323_", "H.323"),
                           ("alg/src/rtsp/mod.rs", "alg_rtsp_", "RTSP"),
                           ("alg/src/pptp/mod.rs", "alg_pptp_", "PPTP"),
                           ("alg/src/pptp/gre.rs", "alg_pptp_gre_", "PPTP GRE"),
                           ("alg/src/sip/mod.rs", "alg_sip_", "SIP")]:
    a = (root / path).read_text()
    generic = {
        "alg_pptp_gre_": ("PPTP GRE packets translated (both directions).",
                          "PPTP GRE Call IDs rewritten (inbound: public Call ID back to the subscriber's).",
                          "Unused (GRE creates nothing; calls are counted by `alg_pptp_calls`)."),
        "alg_pptp_": ("PPTP control messages parsed and accepted.",
                      "PPTP Call ID fields rewritten.",
                      "PPTP calls connected (GRE translations requested)."),
    }.get(prefix, (f"{what} messages of interest parsed and accepted.",
                   f"{what} payload rewrites applied.", f"{what} expectations created."))
    out.append(f"| `{prefix}messages` | {generic[0]} |")
    out.append(f"| `{prefix}rewrites` | {generic[1]} |")
    out.append(f"| `{prefix}expectations` | {generic[2]} |")
    i = a.index("{", a.index(" enum ", a.index("reasons! {"))); j = a.index("\n}", i)
    doc = []
    for line in a[i:j].splitlines():
        line = line.strip()
        if line.startswith("///"):
            doc.append(line[3:].strip())
        m = re.match(r'(\w+) => "(\w+)",', line)
        if m:
            out.append(f"| `{prefix}{m.group(2)}` | {what}: {' '.join(doc)} |"); doc = []
out.append("")
(root / "docs/counters.md").write_text("\n".join(out))
