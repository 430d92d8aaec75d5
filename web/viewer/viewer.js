/* Sluice viewer: the /viewer page's logic. Plain browser JavaScript, no build step.
 *
 * - Calls this gateway's Kinesis Video APIs (ListStreams, ListFragments,
 *   GetHLSStreamingSessionURL) as the AWS SDK would: REST-JSON POSTs signed with SigV4 using
 *   the keys typed into the form (kept in sessionStorage only), signed with WebCrypto. Where
 *   WebCrypto is missing (plain http on a non-local host) requests go unsigned, which a gateway
 *   started with --auth none accepts.
 * - Plays a stream LIVE, or LIVE_REPLAY from a chosen producer time, with hls.js; sessions ask
 *   for DisplayFragmentTimestamp=ALWAYS so every segment carries its producer time
 *   (EXT-X-PROGRAM-DATE-TIME) and the page shows the producer time of the frame on screen
 *   (hls.playingDate) and how far behind live it is.
 * - Draws the last hour of fragments as a timeline; a click plays from that point.
 * window.sluiceViewer exposes the state for tests (hls instance, last producer time, latency).
 */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  const state = { stream: null, hls: null, producerMs: null, latencyMs: null, mode: null,
                  errors: [] };
  window.sluiceViewer = state;

  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0"))
    .join("");

  async function sha256hex(s) {
    return hex(await crypto.subtle.digest("SHA-256", enc.encode(s)));
  }

  async function hmac(key, s) {
    const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" },
                                            false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(s)));
  }

  /* POST path with a JSON body to this gateway, SigV4-signed for service kinesisvideo. */
  async function api(path, payload) {
    const body = JSON.stringify(payload);
    const headers = { "Content-Type": "application/json" };
    const ak = $("ak").value.trim(), sk = $("sk").value, region = $("region").value.trim();
    if (ak && sk && window.crypto && crypto.subtle) {
      const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
      const day = amzDate.slice(0, 8);
      const payloadHash = await sha256hex(body);
      const signed = "content-type;host;x-amz-content-sha256;x-amz-date";
      const canonical = ["POST", path, "",
        "content-type:application/json\nhost:" + location.host + "\nx-amz-content-sha256:" +
          payloadHash + "\nx-amz-date:" + amzDate + "\n",
        signed, payloadHash].join("\n");
      const scope = day + "/" + region + "/kinesisvideo/aws4_request";
      const sts = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256hex(canonical)].join("\n");
      let k = await hmac(enc.encode("AWS4" + sk), day);
      k = await hmac(k, region);
      k = await hmac(k, "kinesisvideo");
      k = await hmac(k, "aws4_request");
      headers["X-Amz-Date"] = amzDate;
      headers["X-Amz-Content-Sha256"] = payloadHash;
      headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=" + ak + "/" + scope +
        ", SignedHeaders=" + signed + ", Signature=" + hex(await hmac(k, sts));
    }
    const r = await fetch(path, { method: "POST", headers, body });
    const text = await r.text();
    const json = text ? JSON.parse(text) : {};
    if (!r.ok) throw new Error((json.__type || r.status) + ": " + (json.Message || json.message || ""));
    return json;
  }

  function status(msg) {
    $("status").textContent = msg || "";
    if (msg) state.errors.push(msg);
  }

  async function loadStreams() {
    sessionStorage.setItem("sluice-viewer", JSON.stringify({ ak: $("ak").value,
      sk: $("sk").value, region: $("region").value }));
    const ul = $("streams");
    ul.textContent = "";
    let token;
    do {
      const page = await api("/listStreams", token ? { NextToken: token } : {});
      for (const s of page.StreamInfoList || []) {
        const li = document.createElement("li");
        li.textContent = s.StreamName;
        li.dataset.stream = s.StreamName;
        li.onclick = () => select(s.StreamName);
        ul.appendChild(li);
      }
      token = page.NextToken;
    } while (token);
  }

  async function select(name) {
    state.stream = name;
    for (const li of $("streams").children) li.classList.toggle("active", li.dataset.stream === name);
    $("current").textContent = name;
    $("live").disabled = $("replay").disabled = false;
    await drawTimeline();
  }

  let tl = { from: 0, to: 1 };

  async function drawTimeline() {
    const box = $("timeline");
    for (const el of Array.from(box.querySelectorAll(".frag"))) el.remove();
    const now = Date.now();
    tl = { from: now - 3600e3, to: now };
    $("axis-from").textContent = new Date(tl.from).toLocaleTimeString();
    $("axis-to").textContent = new Date(tl.to).toLocaleTimeString();
    let token, frags = [];
    do {
      const req = token ? { StreamName: state.stream, NextToken: token } : {
        StreamName: state.stream, MaxResults: 1000,
        FragmentSelector: { FragmentSelectorType: "SERVER_TIMESTAMP",
          TimestampRange: { StartTimestamp: tl.from / 1000, EndTimestamp: tl.to / 1000 } } };
      const page = await api("/listFragments", req);
      frags = frags.concat(page.Fragments || []);
      token = page.NextToken;
    } while (token && frags.length < 20000);
    const span = tl.to - tl.from;
    for (const f of frags) {
      const t = f.ServerTimestamp * 1000;
      const el = document.createElement("div");
      el.className = "frag";
      el.style.left = (100 * (t - tl.from) / span) + "%";
      el.style.width = Math.max(0.05, 100 * f.FragmentLengthInMilliseconds / span) + "%";
      box.appendChild(el);
    }
    state.fragments = frags.length;
  }

  function destroy() {
    if (state.hls) state.hls.destroy();
    state.hls = null;
  }

  async function play(mode, fromMs) {
    destroy();
    status("");
    state.mode = mode;
    const req = { StreamName: state.stream, PlaybackMode: mode,
                  DisplayFragmentTimestamp: "ALWAYS", DiscontinuityMode: "ON_DISCONTINUITY" };
    if (mode === "LIVE_REPLAY")
      req.HLSFragmentSelector = { FragmentSelectorType: "PRODUCER_TIMESTAMP",
                                  TimestampRange: { StartTimestamp: fromMs / 1000 } };
    let url;
    try {
      url = (await api("/getHLSStreamingSessionURL", req)).HLSStreamingSessionURL;
    } catch (e) {
      status(String(e.message || e));
      return;
    }
    const video = $("video");
    if (!window.Hls || !Hls.isSupported()) {
      video.src = url; /* Safari plays HLS itself */
      video.play();
      return;
    }
    /* Play 0.3 s behind the newest listed frame, catch up at up to 1.5x, jump ahead past
     * 1.5 s. (Measured with 0.5 s fragments: ~1.0 s behind the producer; one target duration
     * back, hls.js's default, gave ~1.3 s.) */
    const hls = new Hls({ lowLatencyMode: false, liveSyncDuration: 0.3,
                          liveMaxLatencyDuration: 1.5, maxLiveSyncPlaybackRate: 1.5,
                          backBufferLength: 10 });
    state.hls = hls;
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) status("hls.js: " + d.details); });
    hls.loadSource(url);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  }

  function tick() {
    const hls = state.hls;
    const d = hls && hls.playingDate;
    if (d && !isNaN(d.getTime())) {
      state.producerMs = d.getTime();
      state.latencyMs = Date.now() - state.producerMs;
      $("ptime").textContent = d.toISOString().replace("T", " ").replace("Z", " UTC");
      $("latency").textContent = state.mode === "LIVE"
        ? (state.latencyMs / 1000).toFixed(2) + " s" : "replay";
      const cur = $("cursor");
      const x = (state.producerMs - tl.from) / (tl.to - tl.from);
      cur.style.display = x >= 0 && x <= 1 ? "block" : "none";
      cur.style.left = (100 * x) + "%";
    }
    requestAnimationFrame(tick);
  }

  $("creds").onsubmit = (e) => {
    e.preventDefault();
    loadStreams().catch((err) => status(String(err.message || err)));
  };
  $("live").onclick = () => play("LIVE");
  $("replay").onclick = () => {
    const v = $("from").value;
    if (v) play("LIVE_REPLAY", new Date(v).getTime());
  };
  $("timeline").onclick = (e) => {
    const r = e.currentTarget.getBoundingClientRect();
    const t = tl.from + (tl.to - tl.from) * (e.clientX - r.left) / r.width;
    $("from").value = new Date(t - new Date().getTimezoneOffset() * 60e3).toISOString()
      .slice(0, 19);
    play("LIVE_REPLAY", t);
  };
  try {
    const saved = JSON.parse(sessionStorage.getItem("sluice-viewer") || "null");
    if (saved) { $("ak").value = saved.ak; $("sk").value = saved.sk; $("region").value = saved.region; }
  } catch (e) { /* nothing saved */ }
  requestAnimationFrame(tick);
})();
