"""`arq auth gen` mints HS256 tokens that an independent checker (hmac) accepts."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time
import unittest

ARQ = os.path.join(os.environ["ARQ_BIN_DIR"], "arq")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def arq(*args, env=None):
    e = dict(os.environ)
    e.pop("ARQON_JWT_SECRET", None)
    e.update(env or {})
    return subprocess.run([ARQ, *args], capture_output=True, text=True, env=e, timeout=30)


def verify(token, secret):
    header_b64, claims_b64, sig_b64 = token.split(".")
    expected = hmac.new(secret.encode(), f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, b64url_decode(sig_b64)):
        raise AssertionError("signature does not verify")
    return json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))


class AuthGenTest(unittest.TestCase):
    def test_token_verifies_with_claims(self):
        before = int(time.time())
        r = arq("auth", "gen", "--tenant", "T1", "--sub", "alice", "--role", "admin",
                "--ttl", "120", "--secret", "s3cret-value")
        self.assertEqual(r.returncode, 0, r.stderr)
        header, claims = verify(r.stdout.strip(), "s3cret-value")
        self.assertEqual(header["alg"], "HS256")
        self.assertEqual(claims["sub"], "alice")
        self.assertEqual(claims["tenant_id"], "T1")
        self.assertEqual(claims["role"], "admin")
        self.assertGreaterEqual(claims["iat"], before)
        self.assertLessEqual(claims["iat"], int(time.time()))
        self.assertEqual(claims["exp"] - claims["iat"], 120)

    def test_wrong_secret_does_not_verify(self):
        r = arq("auth", "gen", "--tenant", "T1", "--sub", "bob", "--secret", "right")
        self.assertEqual(r.returncode, 0, r.stderr)
        with self.assertRaises(AssertionError):
            verify(r.stdout.strip(), "wrong")

    def test_rooms_claim_and_default_ttl(self):
        r = arq("auth", "gen", "--tenant", "T1", "--sub", "bob", "--rooms", "lobby,game-*",
                "--secret", "k")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, claims = verify(r.stdout.strip(), "k")
        self.assertEqual(claims["rooms"], ["lobby", "game-*"])
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        self.assertNotIn("role", claims)

    def test_secret_from_config_file_and_env(self):
        with tempfile.TemporaryDirectory() as d:
            secret_path = os.path.join(d, "secret")
            with open(secret_path, "w") as f:
                f.write("file-secret\n")
            conf = os.path.join(d, "arqon.toml")
            with open(conf, "w") as f:
                f.write(f'[auth]\njwt_secret_file = "{secret_path}"\n')
            r = arq("auth", "gen", "--tenant", "T", "--sub", "u", "--config", conf)
            self.assertEqual(r.returncode, 0, r.stderr)
            verify(r.stdout.strip(), "file-secret")
            r = arq("auth", "gen", "--tenant", "T", "--sub", "u", "--config", conf,
                    env={"ARQON_JWT_SECRET": "env-secret"})
            self.assertEqual(r.returncode, 0, r.stderr)
            verify(r.stdout.strip(), "env-secret")

    def test_bad_ids_are_refused(self):
        for tenant in ["a.b", "*", ">", "", "x" * 65, "a b"]:
            r = arq("auth", "gen", "--tenant", tenant, "--sub", "u", "--secret", "k")
            self.assertEqual(r.returncode, 2, tenant)
            self.assertIn("tenant", r.stderr)
            self.assertEqual(r.stdout, "")
        r = arq("auth", "gen", "--tenant", "T", "--sub", "u.v", "--secret", "k")
        self.assertEqual(r.returncode, 2)
        self.assertIn("sub 'u.v': may contain only", r.stderr)
        r = arq("auth", "gen", "--tenant", "T", "--sub", "u", "--rooms", "a.b", "--secret", "k")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a room pattern", r.stderr)

    def test_no_secret_fails_closed(self):
        r = arq("auth", "gen", "--tenant", "T", "--sub", "u")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no JWT secret configured", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_bad_config_is_reported_with_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write("[auth]\njwt_secret = \"k\"\nbogus = 1\n")
        try:
            r = arq("auth", "gen", "--tenant", "T", "--sub", "u", "--config", f.name)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"{f.name}:3: auth.bogus: unknown key", r.stderr)
        finally:
            os.unlink(f.name)

    def test_bad_ttl_and_usage(self):
        r = arq("auth", "gen", "--tenant", "T", "--sub", "u", "--ttl", "0", "--secret", "k")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--ttl", r.stderr)
        r = arq("auth", "gen", "--tenant", "T")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tenant and --sub are required", r.stderr)


class VersionTest(unittest.TestCase):
    def test_version(self):
        r = arq("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^arq \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    unittest.main()
