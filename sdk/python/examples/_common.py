"""Shared by the examples: where the Shield is and where tokens come from.

ARQON_URL (default ws://127.0.0.1:4000/ws, `make run`'s Shield). The token: ARQON_TOKEN if
set (a fixed string: no refresh), else a function that mints a fresh one with
`arq auth gen` and `make run`'s secret (.arqon/jwt_secret), so the client can refresh it."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))   # the package from the source tree

URL = os.environ.get("ARQON_URL", "ws://127.0.0.1:4000/ws")


def token_source(user, ttl=600):
    fixed = os.environ.get("ARQON_TOKEN")
    if fixed:
        return fixed
    arq = os.environ.get("ARQ", os.path.join(REPO, "build", "bin", "arq"))
    secret_file = os.environ.get("ARQON_JWT_SECRET_FILE", os.path.join(REPO, ".arqon", "jwt_secret"))
    tenant = os.environ.get("ARQON_TENANT", "default")

    def mint():
        env = dict(os.environ)
        if "ARQON_JWT_SECRET" not in env:
            with open(secret_file) as f:
                env["ARQON_JWT_SECRET"] = f.read().strip()
        out = subprocess.run([arq, "auth", "gen", "--tenant", tenant, "--sub", user,
                              "--ttl", str(ttl)], env=env, check=True, capture_output=True,
                             text=True)
        return out.stdout.strip()
    return mint
