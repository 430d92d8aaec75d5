// Checks the viewer's own SHA-256 and HMAC-SHA256 (web/viewer/viewer.js, SluiceSha256, used
// where the browser has no WebCrypto) against node's crypto module:
//   node sha256_check.mjs <path of viewer.js>
// Inputs: every length 0..300 (covers the 55/56/63/64-byte padding edges and multi-block
// messages), 200 random lengths up to 70 kB, FIPS 180-4's example messages, and HMAC keys of
// every length 0..200 (shorter than, equal to and longer than the 64-byte block, which gets
// hashed first), all with seeded pseudo-random bytes. Prints one JSON line {checked, mismatches}
// and exits 1 on any mismatch.
import { createHash, createHmac } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const S = require(process.argv[2]);
let seed = 12345;
const rnd = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed >>> 16;
};
const bytes = (n) => Uint8Array.from({ length: n }, () => rnd() & 255);
const hex = (u) => Buffer.from(u).toString("hex");
let checked = 0;
const mismatches = [];
function sha(m) {
  checked++;
  const want = createHash("sha256").update(m).digest("hex");
  const got = hex(S.sha256(m));
  if (got !== want) mismatches.push({ kind: "sha256", len: m.length, got, want });
}
function mac(k, m) {
  checked++;
  const want = createHmac("sha256", k).update(m).digest("hex");
  const got = hex(S.hmac(k, m));
  if (got !== want) mismatches.push({ kind: "hmac", klen: k.length, mlen: m.length, got, want });
}
for (let n = 0; n <= 300; n++) sha(bytes(n));
for (let i = 0; i < 200; i++) sha(bytes(rnd() % 70000));
const enc = new TextEncoder();
for (const t of ["abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", ""])
  sha(enc.encode(t));
sha(new Uint8Array(1000000).fill(0x61)); // one million 'a' (FIPS 180-2 example)
for (let n = 0; n <= 200; n++) mac(bytes(n), bytes(rnd() % 300));
// the SigV4 key derivation chain as the viewer runs it
let k = enc.encode("AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
for (const part of ["20150830", "us-east-1", "iam", "aws4_request"]) {
  mac(k, enc.encode(part));
  k = S.hmac(k, enc.encode(part));
}
const sigv4 = hex(k);
console.log(JSON.stringify({ checked, mismatches: mismatches.slice(0, 5),
                             nmismatches: mismatches.length, sigv4SigningKey: sigv4 }));
process.exit(mismatches.length ? 1 : 0);
