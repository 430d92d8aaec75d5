// Drives the /viewer page of a running sluiced in Debian's headless Chromium (playwright-core)
// and reports what a viewer would see, as one JSON line on stdout:
//   node viewer_live.mjs <gateway url> <access key> <secret key> <stream> [seconds]
// Steps: open /viewer, type the keys, load the stream list, pick the stream, press Live; then
// watch the <video>: currentTime over `seconds`, the pixel spread of the frame on screen (drawn
// into a canvas, and two element screenshots that must differ), and the page's own live
// latency (wall clock minus the producer time of the frame on screen, from hls.playingDate).
// Options (environment):
//   SL_VIEWER_PROTOCOL=DASH   play with dash.js instead of hls.js (the page's protocol menu)
//   SL_VIEWER_HOST_ALIAS=name open the page as http://name:<port>, name mapped to the gateway's
//                             address by Chromium's host resolver rules: an origin Chromium does
//                             not treat as secure (no WebCrypto), as a LAN address over plain
//                             HTTP would be. The output says isSecureContext and which signer the
//                             page used.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, ak, sk, stream, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 6);
const protocol = process.env.SL_VIEWER_PROTOCOL || "HLS";
const alias = process.env.SL_VIEWER_HOST_ALIAS || "";
const gw = new URL(url);
const pageOrigin = alias ? `http://${alias}:${gw.port}` : url;
const profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"));
const out = { consoleErrors: [] };
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required",
         ...(alias ? [`--host-resolver-rules=MAP ${alias} ${gw.hostname}`] : [])],
});
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on("console", (m) => { if (m.type() === "error") out.consoleErrors.push(m.text()); });
  // every request must go to the gateway (by the page's name or its own URL): nothing from
  // the network
  out.foreignRequests = [];
  out.httpErrors = [];
  const own = [new URL(pageOrigin).origin, gw.origin];
  page.on("request", (r) => {
    if (!own.includes(new URL(r.url()).origin)) out.foreignRequests.push(r.url());
  });
  page.on("response", (r) => { if (r.status() >= 400) out.httpErrors.push(r.status() + " " + r.url()); });
  await page.goto(pageOrigin + "/viewer");
  out.isSecureContext = await page.evaluate(() => window.isSecureContext);
  out.hasSubtle = await page.evaluate(() => !!(window.crypto && window.crypto.subtle));
  await page.fill("#ak", ak);
  await page.fill("#sk", sk);
  await page.click("#load");
  await page.click(`#streams li[data-stream="${stream}"]`, { timeout: 15000 });
  await page.selectOption("#protocol", protocol);
  await page.click("#live");
  await page.waitForFunction(() => {
    const v = document.getElementById("video");
    return v.currentTime > 0.2 && !v.paused;
  }, null, { timeout: 30000 });
  const t0 = await page.evaluate(() => document.getElementById("video").currentTime);
  const shot1 = await page.locator("#video").screenshot();
  const latencies = [];
  const start = Date.now();
  while (Date.now() - start < seconds * 1000) {
    await page.waitForTimeout(250);
    const l = await page.evaluate(() => window.sluiceViewer.latencyMs);
    if (typeof l === "number") latencies.push(l);
  }
  const t1 = await page.evaluate(() => document.getElementById("video").currentTime);
  const shot2 = await page.locator("#video").screenshot();
  out.frame = await page.evaluate(() => {
    const v = document.getElementById("video");
    const c = document.createElement("canvas");
    c.width = 64; c.height = 48;
    const g = c.getContext("2d");
    g.drawImage(v, 0, 0, 64, 48);
    const d = g.getImageData(0, 0, 64, 48).data;
    let lo = 255, hi = 0, sum = 0, sq = 0, n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      lo = Math.min(lo, y); hi = Math.max(hi, y); sum += y; sq += y * y; n++;
    }
    const mean = sum / n;
    return { min: lo, max: hi, stddev: Math.sqrt(sq / n - mean * mean),
             width: v.videoWidth, height: v.videoHeight };
  });
  out.advanced = t1 - t0;
  out.wall = seconds;
  out.screenshotsDiffer = Buffer.compare(shot1, shot2) !== 0;
  if (process.env.SL_VIEWER_SHOT) writeFileSync(process.env.SL_VIEWER_SHOT, shot2);
  latencies.sort((a, b) => a - b);
  out.latencyMs = latencies.length ? {
    median: latencies[Math.floor(latencies.length / 2)], min: latencies[0],
    max: latencies[latencies.length - 1], n: latencies.length } : null;
  out.producerMs = await page.evaluate(() => window.sluiceViewer.producerMs);
  out.pageErrors = await page.evaluate(() => window.sluiceViewer.errors);
  out.fragmentsOnTimeline = await page.evaluate(() => window.sluiceViewer.fragments);
  out.signer = await page.evaluate(() => window.sluiceViewer.signer);
  out.protocol = await page.evaluate(() => window.sluiceViewer.protocol);
  out.sessionUrl = await page.evaluate(() => window.sluiceViewer.url);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
