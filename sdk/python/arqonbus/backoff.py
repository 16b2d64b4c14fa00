"""Reconnection delays: exponential backoff with jitter, bounded.

The n-th consecutive failed attempt (n = 0, 1, ...) waits
`min(max, initial * factor**n)`, then scaled by a random factor in `[1 - jitter, 1]`
("equal jitter" for jitter 0.5, "full jitter" for 1.0): many clients cut off by one Shield
restart do not all come back in the same millisecond. After `max_attempts` consecutive
failures (None: never) the client gives up and stays disconnected."""
import random
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5          # seconds before the first retry
    max: float = 30.0             # upper bound of any delay
    factor: float = 2.0           # growth per consecutive failure
    jitter: float = 0.5           # 0: none; 1: anywhere between 0 and the delay
    max_attempts: Optional[int] = None   # consecutive failed attempts before giving up

    def __post_init__(self):
        if self.initial < 0 or self.max < 0:
            raise ValueError("Backoff delays must not be negative")
        if self.factor < 1:
            raise ValueError("Backoff.factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("Backoff.jitter must be within 0..1")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError("Backoff.max_attempts must be None or >= 0")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `attempt` (0 = the first retry)."""
        base = self.initial * (self.factor ** min(attempt, 64))
        base = min(self.max, base)
        return base * (1.0 - self.jitter * rand())

    def gives_up(self, failures: int) -> bool:
        """True once `failures` consecutive attempts failed and no more are allowed."""
        return self.max_attempts is not None and failures >= self.max_attempts
