"""The API-key cache: a found key is remembered for its TTL, a revoked one is forgotten at once and for good."""

from __future__ import annotations

from roadmap_agent.store.key_cache import KeyCache
from roadmap_agent.store.users import User

ALICE = User("u-alice", "alice", False, key_id="k-alice")
BOB = User("u-bob", "bob", False, key_id="k-bob")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_remembered_for_its_ttl_then_asked_again() -> None:
    clock = Clock()
    cache = KeyCache(ttl=5.0, clock=clock)
    assert cache.get("hash-a") is None
    cache.put("hash-a", ALICE)
    clock.now += 4.9
    assert cache.get("hash-a") == ALICE
    clock.now += 0.2
    assert cache.get("hash-a") is None, "past the TTL the database must be asked again"


def test_revoking_forgets_the_key_at_once_and_a_lookup_in_flight_cannot_bring_it_back() -> None:
    cache = KeyCache(ttl=60.0, clock=Clock())
    cache.put("hash-a", ALICE)
    cache.put("hash-b", BOB)
    cache.revoked("k-alice")
    assert cache.get("hash-a") is None
    assert cache.get("hash-b") == BOB, "other keys stay cached"
    cache.put("hash-a", ALICE)  # a lookup that read the row just before the revocation committed
    assert cache.get("hash-a") is None


def test_a_ttl_of_zero_caches_nothing() -> None:
    cache = KeyCache(ttl=0.0, clock=Clock())
    cache.put("hash-a", ALICE)
    assert cache.get("hash-a") is None


def test_the_cache_keeps_at_most_max_entries_dropping_the_oldest() -> None:
    cache = KeyCache(ttl=60.0, max_entries=2, clock=Clock())
    users = [User(f"u{n}", f"user{n}", False, key_id=f"k{n}") for n in range(3)]
    for number, user in enumerate(users):
        cache.put(f"hash-{number}", user)
    assert cache.get("hash-0") is None
    assert [cache.get("hash-1"), cache.get("hash-2")] == users[1:]
