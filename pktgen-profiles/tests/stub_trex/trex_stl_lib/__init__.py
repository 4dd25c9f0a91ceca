"""Minimal stand-in for TRex's trex_stl_lib package, for pktgen-profiles/check.sh only."""
