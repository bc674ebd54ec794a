"""Interop with a client nobody here wrote: PyJWT.

1. Starts `minijwt serve` on 127.0.0.1 (port chosen by the OS) with a known key,
   registers and logs in over HTTP, and verifies the access token with PyJWT:
   signature, `typ` at+jwt, `iss`, `exp`.
2. Signs tokens with PyJWT and checks `minijwt token verify`: HS256 with the
   key is accepted; `alg: none`, HS384, HS512 and a wrong key are rejected
   with exit code 1.

Usage: python pyjwt_interop.py PATH/TO/minijwt
Exits non-zero on the first failed check. Standard library plus PyJWT only.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import jwt  # PyJWT

SECRET = b"pyjwt-interop-key-0123456789abcdef"  # 34 bytes
SECRET_B64 = base64.urlsafe_b64encode(SECRET).rstrip(b"=").decode()
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}")


def post(base, path, body):
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def server_side(binary):
    env = dict(os.environ, MINIJWT_SECRET=SECRET_B64)
    with tempfile.TemporaryDirectory() as workdir:
        server = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", "--issuer", "pyjwt-interop"],
            cwd=workdir, env=env, stderr=subprocess.PIPE, text=True,
        )
        try:
            line = server.stderr.readline()
            address = line.split("http://", 1)[1].split(",", 1)[0]
            base = f"http://{address}"
            status, _ = post(base, "/auth/register", {"username": "alice", "password": "correct horse"})
            check(status == 201, "register over HTTP")
            status, tokens = post(base, "/auth/login", {"username": "alice", "password": "correct horse"})
            check(status == 200, "login over HTTP")

            access = tokens["access_token"]
            header = jwt.get_unverified_header(access)
            check(header == {"alg": "HS256", "typ": "at+jwt"}, f"access token header {header}")
            claims = jwt.decode(
                access, SECRET, algorithms=["HS256"], issuer="pyjwt-interop",
                options={"require": ["exp", "iat", "iss", "sub", "jti"]},
            )
            check(claims["username"] == "alice", "PyJWT verifies the server's access token")
            check(0 < claims["exp"] - time.time() <= 3600 + 5, f"exp is about an hour away ({claims['exp']})")
            try:
                jwt.decode(access, b"some-other-key-0123456789abcdefgh", algorithms=["HS256"])
                check(False, "PyJWT must refuse the access token under another key")
            except jwt.InvalidSignatureError:
                check(True, "PyJWT refuses the access token under another key")

            refresh_header = jwt.get_unverified_header(tokens["refresh_token"])
            check(refresh_header.get("typ") == "refresh+jwt", f"refresh token header {refresh_header}")
        finally:
            server.terminate()
            server.wait(timeout=10)
        check(server.returncode == 0, "server exits 0 on SIGTERM")


def verify(binary, token):
    result = subprocess.run(
        [binary, "token", "verify", token],
        env=dict(os.environ, MINIJWT_SECRET=SECRET_B64), capture_output=True, text=True,
    )
    return result.returncode, result.stdout, result.stderr


def none_token(claims):
    def segment(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}."


def client_side(binary):
    claims = {"sub": "42", "iss": "pyjwt", "exp": int(time.time()) + 600, "iat": int(time.time())}

    token = jwt.encode(claims, SECRET, algorithm="HS256")
    code, out, err = verify(binary, token)
    check(code == 0 and json.loads(out) == claims, f"minijwt accepts PyJWT's HS256 token ({err.strip()})")

    rejected = {
        "alg none (unsigned)": none_token(claims),
        "HS384 with the same key": jwt.encode(claims, SECRET, algorithm="HS384"),
        "HS512 with the same key": jwt.encode(claims, SECRET, algorithm="HS512"),
        "HS256 with a wrong key": jwt.encode(claims, b"the-wrong-key-0123456789abcdefghij", algorithm="HS256"),
        "HS256, expired": jwt.encode(dict(claims, exp=int(time.time()) - 10), SECRET, algorithm="HS256"),
    }
    for name, bad in rejected.items():
        code, _, err = verify(binary, bad)
        lines = err.strip().splitlines()
        check(code == 1 and len(lines) == 1, f"minijwt rejects {name}: {err.strip()}")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    server_side(binary)
    client_side(binary)
    print(f"{checks} passed, 0 failed")


if __name__ == "__main__":
    main()
