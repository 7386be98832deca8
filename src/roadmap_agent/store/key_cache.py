"""Recent API-key lookups, so a request with a key seen a moment ago skips the database.

Only keys that were found are remembered (an unknown key always asks the database, so a key created a
moment ago by another process works at once, and random keys cannot fill the cache), for ``ttl`` seconds
(``ROADMAP_AGENT_KEY_CACHE_TTL``, 0 = off), at most ``max_entries`` of them. Revocation:

* in this process (``UserStore.revoke_key``): immediate; the key is dropped and never cached again here;
* in another process (``roadmap-agent users revoke-key``, another API replica): each API process accepts the
  key for at most ``ttl`` seconds more, until its entry expires. Web sessions are not cached: they end at
  the next request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roadmap_agent.store.users import User

DEFAULT_MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(self, ttl: float, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[User, float]] = {}  # key hash -> (user, expiry); oldest first
        self._revoked: set[str] = set()  # key ids revoked by this process: a lookup in flight cannot re-add one

    def get(self, key_hash: str) -> User | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key_hash]
            return None
        return entry[0]

    def put(self, key_hash: str, user: User) -> None:
        if self.ttl <= 0 or user.key_id in self._revoked:
            return
        self._entries.pop(key_hash, None)
        while len(self._entries) >= self.max_entries:  # the oldest entry goes first (dicts keep insertion order)
            del self._entries[next(iter(self._entries))]
        self._entries[key_hash] = (user, self._clock() + self.ttl)

    def revoked(self, key_id: str) -> None:
        """This key answers 401 from now on in this process."""
        self._revoked.add(key_id)
        for key_hash in [h for h, (user, _) in self._entries.items() if user.key_id == key_id]:
            del self._entries[key_hash]
