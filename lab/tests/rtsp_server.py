#!/usr/bin/python3
"""A real RTSP server for lab/tests/rtsp_alg.sh: GStreamer's gst-rtsp-server (the RTSP server
library used by most Linux media servers), serving a live MJPEG test pattern.

It answers SETUP for UDP unicast (media sent from its server_port pair to the client_port
pair it was told, at the address the RTSP connection comes from) and for TCP-interleaved
transport, so one server shows both what the ALG must make work and what it must leave alone.

Usage: rtsp_server.py ADDRESS PORT MOUNT  (runs until killed; prints "ready" when listening)
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> int:
    address, port, mount = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball "
        "! video/x-raw,format=I420,width=320,height=240,framerate=25/1 "
        "! jpegenc quality=50 ! rtpjpegpay name=pay0 pt=26 )"
    )
    factory.set_shared(True)
    factory.set_protocols(
        GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP
    )
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {address}:{port}", file=sys.stderr)
        return 1
    print("ready", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
