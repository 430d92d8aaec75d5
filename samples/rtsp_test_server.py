#!/usr/bin/python3
"""A loopback RTSP "camera" for trying the RTSP bridge without a camera, built on Debian's
gst-rtsp-server library (package gir1.2-gst-rtsp-server-1.0, python3-gi).

It serves a live H.264 test pattern at rtsp://127.0.0.1:<port>/test and prints that URL on its
first line of output once it is listening.

  samples/rtsp_test_server.py [--port 8554] [--width 640 --height 480 --fps 25]

--port 0 picks a free port (the printed URL says which). Stop it with Ctrl-C or SIGTERM.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--fps", type=int, default=25)
    a = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true ! video/x-raw,width={a.width},height={a.height},"
        f"framerate={a.fps}/1,format=I420 ! x264enc tune=zerolatency key-int-max={a.fps} "
        f"bframes=0 speed-preset=ultrafast ! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        sys.exit("could not listen on port %d" % a.port)
    print(f"rtsp://127.0.0.1:{server.get_bound_port()}/test", flush=True)

    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
