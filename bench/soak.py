"""Soak test: a steady mixed workload against a running minijwt server, while
sampling the server's resident memory, threads and open files.

    python3 bench/soak.py URL SERVER_PID MINUTES [RATE]

Each of 8 client threads loops over a session: register (once), login,
GET /me, POST /notes, GET /notes, GET /notes/{id}, DELETE /notes/{id},
POST /auth/refresh, GET /me with the new token, POST /auth/logout, at a
total of about RATE requests per second (default 200). Every 10 s it prints
one sample. It fails (exit 1) on any unexpected status or connection error,
or if the low points of memory, threads or open files in the second half of
the run (after the first minute) are above those of the first half by more
than a small slack. Standard library only.
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

CLIENTS = 8


def request(base, method, path, body=None, token=None):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def sample(pid):
    status = open(f"/proc/{pid}/status").read()
    field = lambda name: int(next(l for l in status.splitlines() if l.startswith(name)).split()[1])
    return field("VmRSS:") / 1024, field("Threads:"), len(os.listdir(f"/proc/{pid}/fd"))


def client(base, index, deadline, pause, counts, errors):
    name = f"soak{os.getpid()}x{index}"
    credentials = {"username": name, "password": "soak-test-password"}

    def expect(status, wanted, what):
        counts[index] += 1
        if status not in wanted:
            errors.append(f"{what}: {status}")
        time.sleep(pause)

    status, _ = request(base, "POST", "/auth/register", credentials)
    expect(status, (201,), "register")
    while time.time() < deadline and not errors:
        status, tokens = request(base, "POST", "/auth/login", credentials)
        if status == 503:  # the login queue is full: retry shortly, as documented
            time.sleep(0.2)
            continue
        expect(status, (200,), "login")
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        status, _ = request(base, "GET", "/me", token=access)
        expect(status, (200,), "me")
        status, note = request(base, "POST", "/notes", {"text": "soak"}, access)
        expect(status, (201,), "create note")
        status, _ = request(base, "GET", "/notes", token=access)
        expect(status, (200,), "list notes")
        status, _ = request(base, "GET", f"/notes/{note['id']}", token=access)
        expect(status, (200,), "get note")
        status, _ = request(base, "DELETE", f"/notes/{note['id']}", token=access)
        expect(status, (204,), "delete note")
        status, fresh = request(base, "POST", "/auth/refresh", {"refresh_token": refresh, "access_token": access})
        expect(status, (200,), "refresh")
        status, _ = request(base, "GET", "/me", token=fresh["access_token"])
        expect(status, (200,), "me after refresh")
        status, _ = request(base, "POST", "/auth/logout", {"refresh_token": fresh["refresh_token"]})
        expect(status, (204,), "logout")


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base, pid, minutes = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    rate = float(sys.argv[4]) if len(sys.argv) == 5 else 200.0
    deadline = time.time() + minutes * 60
    pause = CLIENTS / rate
    counts = [0] * CLIENTS
    errors = []
    threads = [
        threading.Thread(target=client, args=(base, i, deadline, pause, counts, errors), daemon=True)
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()

    started = time.time()
    samples = []
    print(f"{'t (s)':>6} {'requests':>9} {'req/s':>7} {'RSS MB':>7} {'threads':>8} {'fds':>5}")
    last = 0
    while any(t.is_alive() for t in threads) and not errors:
        time.sleep(10)
        elapsed = time.time() - started
        total = sum(counts)
        rss, nthreads, fds = sample(pid)
        samples.append((elapsed, rss, nthreads, fds))
        print(f"{elapsed:6.0f} {total:9d} {(total - last) / 10:7.0f} {rss:7.1f} {nthreads:8d} {fds:5d}", flush=True)
        last = total
    for thread in threads:
        thread.join(timeout=15)

    if errors:
        print(f"FAIL: {len(errors)} errors, first: {errors[0]}", file=sys.stderr)
        sys.exit(1)
    after_warmup = [s for s in samples if s[0] >= 60] or samples
    half = max(1, len(after_warmup) // 2)
    early, late = after_warmup[:half], after_warmup[half:] or after_warmup[-1:]
    # Compare the quiet points (minimums) of the two halves: a sample taken
    # while a login hashes shows 19 MiB more, which is not growth.
    low = lambda part, i: min(s[i] for s in part)
    print(
        f"after warm-up: RSS low {low(early, 1):.1f} -> {low(late, 1):.1f} MB "
        f"(peak {max(s[1] for s in after_warmup):.1f}), threads low {low(early, 2)} -> {low(late, 2)}, "
        f"fds low {low(early, 3)} -> {low(late, 3)}; {sum(counts)} requests, 0 errors"
    )
    grew = (
        low(late, 1) > low(early, 1) + 5
        or low(late, 2) > low(early, 2) + 10
        or low(late, 3) > low(early, 3) + 10
    )
    if grew:
        print("FAIL: grew after warm-up", file=sys.stderr)
        sys.exit(1)
    print(f"soak ok: {len(samples)} samples")


if __name__ == "__main__":
    main()
