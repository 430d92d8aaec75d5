"""kvssink end-to-end: real gst-launch pipelines with the Sluice kvssink plugin against a real
sluiced; what the gateway stored is read back with ListFragments and GetMedia and checked with
ffprobe (frame counts, timestamps, tracks)."""
import os
import time

from kvssink_util import (Pipeline, ffprobe_pts, ffprobe_streams, get_media_all, h264_source,
                          list_fragments)


def test_video_n_frames(gateway, tmp_path):
    n = 100  # 4 s at 25 fps, a key frame every 25 frames -> 4 fragments
    t0 = time.time()
    p = Pipeline(gateway, h264_source(n) + " ! kvssink stream-name=cam1 retention-period=5 "
                 "stream-tags=tags,owner=sluice,env=test")
    assert p.wait(120) == 0, p.output[-4000:]
    assert "Got EOS" in p.output
    st = p.stats()
    assert st["frames-in"] == str(n) and st["fragments-persisted"] == "4", st
    assert st["store-fragments"] == "0" and st["reconnects"] == "0", st

    kv = gateway.client("kinesisvideo")
    info = kv.describe_stream(StreamName="cam1")["StreamInfo"]
    assert info["DataRetentionInHours"] == 5 and info["MediaType"] == "video/h264"
    assert kv.list_tags_for_stream(StreamName="cam1")["Tags"] == {"owner": "sluice",
                                                                   "env": "test"}

    frags = list_fragments(gateway, "cam1")
    assert len(frags) == 4, frags
    ts = [f["ProducerTimestamp"].timestamp() for f in frags]
    # ABSOLUTE timecodes: the first frame is stamped with the wall clock, fragments 1 s apart
    assert t0 - 5 < ts[0] < time.time() + 5
    for a, b in zip(ts, ts[1:]):
        assert abs((b - a) - 1.0) < 0.002, ts
    assert all(f["FragmentLengthInMilliseconds"] in (960, 1000) for f in frags), frags

    out = str(tmp_path / "cam1.mkv")
    get_media_all(gateway, "cam1", 4, out)
    s = ffprobe_streams(out)
    assert len(s) == 1 and s[0]["codec_name"] == "h264", s
    assert (s[0]["width"], s[0]["height"]) == (320, 240)
    assert s[0]["nb_read_frames"] == str(n)
    pts = ffprobe_pts(out)
    assert len(pts) == n
    assert all(b - a == 40 for a, b in zip(pts, pts[1:])), pts


def test_audio_and_video(gateway, tmp_path):
    n = 75  # 3 s of video
    desc = (h264_source(n) + " ! kvssink name=s stream-name=av1 "
            "audiotestsrc num-buffers=130 samplesperbuffer=1024 ! audio/x-raw,rate=44100 ! "
            "audioconvert ! avenc_aac ! aacparse ! s.audio_0")
    p = Pipeline(gateway, desc)
    assert p.wait(120) == 0, p.output[-4000:]
    st = p.stats()
    assert st["store-fragments"] == "0", st
    info = gateway.client("kinesisvideo").describe_stream(StreamName="av1")["StreamInfo"]
    assert info["MediaType"] == "video/h264,audio/aac"

    frags = list_fragments(gateway, "av1")
    assert len(frags) == 3, frags
    out = str(tmp_path / "av1.mkv")
    get_media_all(gateway, "av1", 3, out)
    s = ffprobe_streams(out)
    assert [x["codec_type"] for x in s] == ["video", "audio"], s
    assert s[0]["nb_read_frames"] == str(n)
    assert s[1]["codec_name"] == "aac"
    # audio before the first video key frame is dropped, audio after the last video frame
    # (130 buffers ~ 3.02 s) waits for a fragment that never starts: nearly all of it arrives
    assert 120 <= int(s[1]["nb_read_frames"]) <= 131, s
    apts = ffprobe_pts(out, "a:0")
    assert apts == sorted(apts) and len(set(apts)) == len(apts)


def test_relative_timecodes_and_offline(gateway, tmp_path):
    """absolute-fragment-times=false sends RELATIVE clusters; offline mode stamps the file
    start time."""
    p = Pipeline(gateway, h264_source(50) + " ! kvssink stream-name=rel1 "
                 "absolute-fragment-times=false")
    assert p.wait(120) == 0, p.output[-4000:]
    frags = list_fragments(gateway, "rel1")
    assert len(frags) == 2
    assert abs(frags[0]["ProducerTimestamp"].timestamp() - time.time()) < 60

    start = 1600000000
    p = Pipeline(gateway, h264_source(50) + " ! kvssink stream-name=off1 streaming-type=offline "
                 f"file-start-time={start}")
    assert p.wait(120) == 0, p.output[-4000:]
    frags = list_fragments(gateway, "off1")
    assert [round(f["ProducerTimestamp"].timestamp(), 3) for f in frags] == [start, start + 1.0]


def test_bad_credentials_fail_the_pipeline(gateway):
    p = Pipeline(gateway, h264_source(50) + " ! kvssink stream-name=bad1 access-key=AKIAWRONG "
                 "secret-key=wrong")
    rc = p.wait(120)
    assert rc != 0
    assert "refused the credentials" in p.output, p.output[-3000:]


def test_h265_with_alaw_audio(gateway, tmp_path):
    """H.265 video (V_MPEGH/ISO/HEVC) with G.711 A-law audio (A_MS/ACM + WAVEFORMATEX)."""
    n = 50
    desc = ("videotestsrc num-buffers=50 ! video/x-raw,width=320,height=240,framerate=25/1,"
            "format=I420 ! x265enc tune=zerolatency key-int-max=25 speed-preset=ultrafast ! "
            "h265parse ! video/x-h265,stream-format=hvc1,alignment=au ! kvssink name=s "
            "stream-name=hevc1 audiotestsrc num-buffers=40 samplesperbuffer=400 ! "
            "audio/x-raw,rate=8000,channels=1 ! alawenc ! s.audio_0")
    p = Pipeline(gateway, desc)
    assert p.wait(120) == 0, p.output[-4000:]
    info = gateway.client("kinesisvideo").describe_stream(StreamName="hevc1")["StreamInfo"]
    assert info["MediaType"] == "video/h265,audio/alaw"
    frags = list_fragments(gateway, "hevc1")
    assert len(frags) == 2
    out = str(tmp_path / "hevc1.mkv")
    get_media_all(gateway, "hevc1", 2, out)
    s = ffprobe_streams(out)
    assert [(x["codec_type"], x["codec_name"]) for x in s] == [("video", "hevc"),
                                                               ("audio", "pcm_alaw")], s
    assert s[0]["nb_read_frames"] == str(n)
    assert int(s[1]["nb_read_frames"]) >= 38, s


def test_fragment_metadata_accepted(gateway):
    """The kvs-add-metadata event (sent by an application, here from a pad probe) puts Tags
    before the next Cluster; the gateway takes them as fragment metadata, not as an error."""
    import threading

    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    from kvssink_util import gst_env
    env = gst_env(gateway)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        Gst.init(None)
        pipe = Gst.parse_launch(h264_source(50) + " ! identity name=tap ! kvssink name=s "
                                "stream-name=meta1")
        sent = []

        def probe(pad, info):
            if not sent:
                s = Gst.Structure.new_from_string(
                    "kvs-add-metadata, name=(string)camera, value=(string)door, "
                    "persist=(boolean)true")
                pad.push_event(Gst.Event.new_custom(Gst.EventType.CUSTOM_DOWNSTREAM, s))
                sent.append(1)
            return Gst.PadProbeReturn.OK

        pipe.get_by_name("tap").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
        stats, done = [], threading.Event()
        bus = pipe.get_bus()
        pipe.set_state(Gst.State.PLAYING)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = bus.timed_pop(200 * Gst.MSECOND)
            if not m:
                continue
            if m.type == Gst.MessageType.ELEMENT and m.get_structure().get_name() == \
                    "kvssink-stats":
                stats.append(m.get_structure())
            if m.type in (Gst.MessageType.EOS, Gst.MessageType.ERROR):
                assert m.type == Gst.MessageType.EOS, m.parse_error()
                done.set()
                break
        pipe.set_state(Gst.State.NULL)
        assert done.is_set() and sent
        last = stats[-1]
        assert last.get_uint64("fragments-persisted")[1] == 2
        assert last.get_uint64("fragments-failed")[1] == 0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert len(list_fragments(gateway, "meta1")) == 2
