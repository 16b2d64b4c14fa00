"""Tokens: where they come from, and when to refresh them.

The SDK never verifies a token (the Shield does); it only reads the payload's `exp` to know
when to send `refresh` with a new one."""
import base64
import inspect
import json
from typing import Optional


def jwt_exp(token: str) -> Optional[float]:
    """The `exp` claim (seconds since the epoch) of a JWT, or None when it has none or the
    token is not a readable JWT."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode()))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            return None
        return float(exp)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def refresh_delay(exp: float, now: float, obtained_at: float, before: float) -> float:
    """Seconds from `now` until a token expiring at `exp` should be refreshed.

    The aim is `before` seconds ahead of `exp`; a token whose whole lifetime (from
    `obtained_at`) is shorter than twice that is refreshed at half its lifetime instead, so
    a short-lived token is neither refreshed in a loop nor left to expire."""
    lifetime = max(0.0, exp - obtained_at)
    margin = min(before, lifetime / 2.0)
    return max(0.0, exp - margin - now)


async def fetch_token(source) -> str:
    """The token from `source`: a str, a callable returning one, or a coroutine function."""
    if source is None:
        raise ValueError("no token")
    if isinstance(source, str):
        return source
    value = source()
    if inspect.isawaitable(value):
        value = await value
    if not isinstance(value, str) or not value:
        raise ValueError("the token callable must return a non-empty str")
    return value
