"""API keys: random, recognisable, stored as a hash with a short non-secret prefix; the rate limiter's bucket."""

from __future__ import annotations

import hashlib

import pytest

from roadmap_agent.api.auth import RateLimiter
from roadmap_agent.errors import RateLimited
from roadmap_agent.store.users import KEY_SCHEME, PREFIX_CHARS, hash_key, key_prefix, new_key


def test_keys_are_random_long_and_recognisable() -> None:
    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith(KEY_SCHEME) and len(key) == len(KEY_SCHEME) + 43  # 32 random bytes, base64url


def test_only_the_hash_and_a_short_prefix_are_kept() -> None:
    key = new_key()
    stored = hash_key(key)
    assert stored == hashlib.sha256(key.encode()).hexdigest() and len(stored) == 64
    assert key not in stored and key[len(KEY_SCHEME):] not in stored
    assert key_prefix(key) == key[:PREFIX_CHARS] and len(key) - PREFIX_CHARS >= 35  # the rest stays secret
    assert hash_key(key) == stored and hash_key(key + "x") != stored


def test_hashing_never_fails_on_hostile_input() -> None:
    assert len(hash_key("rak_\ud800\x00我")) == 64


def test_bucket_allows_a_burst_then_says_when_to_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("roadmap_agent.api.auth.time.monotonic", lambda: clock[0])
    limiter = RateLimiter(burst=2, per_minute=6)  # one token every 10 s
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimited) as limited:
        limiter.take("a")
    assert limited.value.retry_after == 10 and "Retry in 10 s" in limited.value.message
    limiter.take("b")  # per key
    clock[0] += 10
    limiter.take("a")
