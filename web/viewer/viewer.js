/* Sluice viewer: the /viewer page's logic. Plain browser JavaScript, no build step.
 *
 * - Calls this gateway's Kinesis Video APIs (ListStreams, ListFragments,
 *   GetHLSStreamingSessionURL, GetDASHStreamingSessionURL) as the AWS SDK would: REST-JSON POSTs
 *   signed with SigV4 using the keys typed into the form (kept in sessionStorage only). Hashes
 *   and HMACs come from WebCrypto where the browser offers it (secure contexts: HTTPS,
 *   localhost); on plain HTTP to a LAN address crypto.subtle is absent, and SluiceSha256 below
 *   (SHA-256 and HMAC-SHA256 written from FIPS 180-4 and RFC 2104) signs instead.
 *   sluiceViewer.signer tells which one was used.
 * - Plays a stream LIVE, or LIVE_REPLAY from a chosen producer time, with hls.js (HLS) or
 *   dash.js (DASH), both served by the gateway; sessions ask for DisplayFragmentTimestamp=ALWAYS
 *   so HLS segments carry their producer time (EXT-X-PROGRAM-DATE-TIME) and the page shows the
 *   producer time of the frame on screen (hls.playingDate) and how far behind live it is.
 * - Draws the last hour of fragments as a timeline; a click plays from that point.
 * window.sluiceViewer exposes the state for tests (hls / dash player, last producer time,
 * latency, signer). Loaded outside a browser (node), the file only exports SluiceSha256.
 */

/* SHA-256 (FIPS 180-4 section 6.2) and HMAC (RFC 2104 / FIPS 198-1) over Uint8Arrays.
 * sha256(bytes) and hmac(key, bytes) return a new 32-byte Uint8Array. Messages up to 2^53 bits. */
var SluiceSha256 = (function () {
  "use strict";
  /* first 32 bits of the fractional parts of the cube roots of the first 64 primes (4.2.2) */
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  /* initial hash value: square roots of the first 8 primes (5.3.3) */
  const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));

  function sha256(msg) {
    const len = msg.length;
    /* padding (5.1.1): 0x80, zeros, then the length in bits as a 64-bit big-endian number */
    const total = (((len + 8) >> 6) + 1) << 6;
    const m = new Uint8Array(total);
    m.set(msg);
    m[len] = 0x80;
    const dv = new DataView(m.buffer);
    const bits = len * 8;
    dv.setUint32(total - 8, Math.floor(bits / 0x100000000));
    dv.setUint32(total - 4, bits >>> 0);
    const H = new Uint32Array(H0);
    const W = new Uint32Array(64);
    for (let off = 0; off < total; off += 64) {
      /* message schedule (6.2.2 step 1) */
      for (let t = 0; t < 16; t++) W[t] = dv.getUint32(off + 4 * t);
      for (let t = 16; t < 64; t++) {
        const x = W[t - 15], y = W[t - 2];
        const s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
        const s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
        W[t] = (s1 + W[t - 7] + s0 + W[t - 16]) | 0;
      }
      let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (let t = 0; t < 64; t++) {
        const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        const ch = (e & f) ^ (~e & g);
        const T1 = (h + S1 + ch + K[t] + W[t]) | 0;
        const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const T2 = (S0 + maj) | 0;
        h = g; g = f; f = e; e = (d + T1) | 0;
        d = c; c = b; b = a; a = (T1 + T2) | 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    }
    const out = new Uint8Array(32);
    const ov = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) ov.setUint32(4 * i, H[i]);
    return out;
  }

  function hmac(key, msg) {
    const B = 64;
    const k0 = new Uint8Array(B);
    k0.set(key.length > B ? sha256(key) : key);
    const inner = new Uint8Array(B + msg.length), outer = new Uint8Array(B + 32);
    for (let i = 0; i < B; i++) {
      inner[i] = k0[i] ^ 0x36;
      outer[i] = k0[i] ^ 0x5c;
    }
    inner.set(msg, B);
    outer.set(sha256(inner), B);
    return sha256(outer);
  }

  return { sha256, hmac };
})();

if (typeof module !== "undefined" && typeof document === "undefined") module.exports = SluiceSha256;
else
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  const subtle = window.crypto && window.crypto.subtle;
  const state = { stream: null, hls: null, dash: null, producerMs: null, latencyMs: null,
                  mode: null, protocol: "HLS", errors: [],
                  signer: subtle ? "webcrypto" : "builtin" };
  window.sluiceViewer = state;

  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0"))
    .join("");

  async function sha256hex(s) {
    if (!subtle) return hex(SluiceSha256.sha256(enc.encode(s)));
    return hex(await subtle.digest("SHA-256", enc.encode(s)));
  }

  async function hmac(key, s) {
    if (!subtle) return SluiceSha256.hmac(key, enc.encode(s));
    const k = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false,
                                     ["sign"]);
    return new Uint8Array(await subtle.sign("HMAC", k, enc.encode(s)));
  }

  /* POST path with a JSON body to this gateway, SigV4-signed for service kinesisvideo. */
  async function api(path, payload) {
    const body = JSON.stringify(payload);
    const headers = { "Content-Type": "application/json" };
    const ak = $("ak").value.trim(), sk = $("sk").value, region = $("region").value.trim();
    if (ak && sk) {
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
    if (state.dash) state.dash.reset();
    state.hls = state.dash = null;
  }

  async function play(mode, fromMs) {
    destroy();
    status("");
    state.mode = mode;
    const dash = $("protocol").value === "DASH";
    state.protocol = dash ? "DASH" : "HLS";
    const req = { StreamName: state.stream, PlaybackMode: mode,
                  DisplayFragmentTimestamp: "ALWAYS" };
    const sel = { FragmentSelectorType: "PRODUCER_TIMESTAMP",
                  TimestampRange: { StartTimestamp: fromMs / 1000 } };
    if (!dash) req.DiscontinuityMode = "ON_DISCONTINUITY";
    if (mode === "LIVE_REPLAY") req[dash ? "DASHFragmentSelector" : "HLSFragmentSelector"] = sel;
    let url;
    try {
      url = dash ? (await api("/getDASHStreamingSessionURL", req)).DASHStreamingSessionURL
        : (await api("/getHLSStreamingSessionURL", req)).HLSStreamingSessionURL;
    } catch (e) {
      status(String(e.message || e));
      return;
    }
    state.url = url;
    const video = $("video");
    if (dash) {
      if (!window.dashjs) {
        status("dash.js is not installed on this gateway");
        return;
      }
      /* dash.js keeps liveDelay behind the live edge of the dynamic manifest (which lists
       * fragments as they are PERSISTED); catch-up on, as for hls.js below. Its clock sync
       * would ask a public time server (no network here): the page's clock is used as is,
       * as hls.js does. */
      const player = dashjs.MediaPlayer().create();
      state.dash = player;
      player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
        streaming: { delay: { liveDelay: 1.5 },
                     liveCatchup: { enabled: true, maxDrift: 3, playbackRate: 0.5 },
                     utcSynchronization: { enabled: false } } });
      player.on(dashjs.MediaPlayer.events.ERROR, (e) => {
        status("dash.js: " + ((e.error && (e.error.message || e.error.code)) || e.error));
      });
      player.initialize(video, url, true);
      return;
    }
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
