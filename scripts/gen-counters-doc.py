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
(root / "docs/counters.md").write_text("\n".join(out))
