"""Crash test for the storage substrate: kill -9 under load, recover, check every acknowledged
entry.

Each round starts `crash_writer write DIR ROUND` (4 threads appending with group commit; an ACK
line is printed only after the entry and its catalog row are durable), lets it run for a random
0.3-1.5 s, kills it with SIGKILL, and then runs `crash_writer verify DIR`, feeding it the ACK
lines of ALL rounds so far: every acknowledged entry, also from earlier rounds, must still be
present and byte-identical after recovery, and every catalog row must point at durable data.
The store is reused across rounds, so each round also appends after a recovery.

usage: crash_test.py CRASH_WRITER [ROUNDS] [SEED]   (prints the seed; exit 0 = pass)
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def main():
    exe = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"crash test: {rounds} rounds, seed {seed}", flush=True)
    data = tempfile.mkdtemp(prefix="sl-crash-")
    acked = []  # "ROUND ACK ..." lines
    try:
        for rnd in range(1, rounds + 1):
            out = tempfile.TemporaryFile()
            err = tempfile.TemporaryFile()
            p = subprocess.Popen([exe, "write", data, str(rnd)], stdout=out, stderr=err)
            # Wait until it is appending (first ACK) so the kill lands under load.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and p.poll() is None:
                out.seek(0, os.SEEK_END)
                if out.tell() > 0:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.3, 1.5))
            if p.poll() is not None:
                err.seek(0)
                print(f"round {rnd}: writer exited early ({p.returncode}): {err.read().decode()}")
                return 1
            p.send_signal(signal.SIGKILL)
            p.wait()
            out.seek(0)
            text = out.read().decode()
            lines = text.split("\n")
            complete = lines[:-1]  # the last piece is empty or a partial line cut by the kill
            new = [f"{rnd} {ln}" for ln in complete if ln.startswith("ACK ")]
            if not new:
                print(f"round {rnd}: no acknowledged entry before the kill")
                return 1
            acked.extend(new)
            v = subprocess.run([exe, "verify", data], input="\n".join(acked) + "\n",
                               capture_output=True, text=True, errors="replace", timeout=300)
            cuts = v.stderr.count("recovery cut")
            print(f"round {rnd}: +{len(new)} acked, total {len(acked)}; verify: "
                  f"{v.stdout.strip().splitlines()[-1] if v.stdout.strip() else '?'}"
                  f"{f'; {cuts} torn tail(s) cut' if cuts else ''}", flush=True)
            if v.returncode != 0:
                print(v.stdout)
                print(v.stderr)
                print(f"FAILED in round {rnd} (seed {seed})")
                return 1
        print("crash test passed")
        return 0
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
