// Plays an HLS session URL of a running sluiced from a page of ANOTHER origin, in Debian's
// headless Chromium (playwright-core), and reports what played, as one JSON line on stdout:
//   node cross_origin.mjs <page url> [seconds]
// The page (served by the caller on a different port) loads hls.js and plays the session URL
// given in its query; every playlist and segment request is then a cross-origin XHR, which the
// browser only lets through when the gateway's CORS headers allow it. The page sets
// window.playState = {errors: [...]} itself. Reported: currentTime advance over `seconds`, the
// pixel spread of the frame on screen, the page's origin, failed requests (url and Chromium's
// reason) and console errors.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [pageUrl, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 4);
const profile = mkdtempSync(join(tmpdir(), "sluice-chromium-"));
const out = { consoleErrors: [], failedRequests: [] };
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"],
});
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on("console", (m) => { if (m.type() === "error") out.consoleErrors.push(m.text()); });
  page.on("requestfailed", (r) => out.failedRequests.push({ url: r.url(),
                                                            error: (r.failure() || {}).errorText }));
  await page.goto(pageUrl);
  out.origin = await page.evaluate(() => location.origin);
  try {
    await page.waitForFunction(() => {
      const v = document.getElementById("video");
      return v.currentTime > 0.2 && !v.paused;
    }, null, { timeout: 30000 });
  } catch (e) {
    out.timeout = String(e.message || e).split("\n")[0];
  }
  const t0 = await page.evaluate(() => document.getElementById("video").currentTime);
  await page.waitForTimeout(seconds * 1000);
  const t1 = await page.evaluate(() => document.getElementById("video").currentTime);
  out.advanced = t1 - t0;
  out.wall = seconds;
  out.frame = await page.evaluate(() => {
    const v = document.getElementById("video");
    const c = document.createElement("canvas");
    c.width = 64; c.height = 48;
    const g = c.getContext("2d");
    g.drawImage(v, 0, 0, 64, 48);
    const d = g.getImageData(0, 0, 64, 48).data;
    let lo = 255, hi = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      lo = Math.min(lo, y); hi = Math.max(hi, y);
    }
    return { min: lo, max: hi, width: v.videoWidth, height: v.videoHeight };
  });
  out.pageErrors = await page.evaluate(() => window.playState.errors);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
