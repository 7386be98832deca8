"""Users and their API keys: create, authenticate, list, revoke; and the embedded default's local user.

A key is ``rak_`` + 32 random bytes (``secrets.token_urlsafe``). It is shown once, when created; the database
keeps only its SHA-256 hash and a short non-secret prefix (for ``users list`` and ``users revoke-key``).
A fast unsalted hash is right here, unlike for passwords: a key carries 256 bits of entropy, so neither a
dictionary nor brute force over the hash is feasible, and a slow KDF (bcrypt, argon2) would only add latency to
every request. Lookup is by the hash itself (unique index), so no key material is ever compared in Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from roadmap_agent.errors import AlreadyExists, InvalidRequest, NotFound
from roadmap_agent.infra.database import Database
from roadmap_agent.store.key_cache import KeyCache
from roadmap_agent.store.records import as_utc, utcnow
from roadmap_agent.store.tables import api_keys, users

KEY_SCHEME = "rak_"  # "roadmap-agent key": recognisable by secret scanners
PREFIX_CHARS = len(KEY_SCHEME) + 8  # rak_ + 8 random characters: ~48 bits, unique enough to name a key
LOCAL_USER_ID = "local"  # the embedded default's user; tasks created before users existed are owned by it
KEY_FILE_NAME = "api-key"


# The user of an active key, by its hash (built once: the statement caches its compiled form).
_KEY_OWNER = (sa.select(users.c.id, users.c.name, users.c.is_admin, api_keys.c.id.label("key_id"))
              .join(users, users.c.id == api_keys.c.user_id)
              .where(api_keys.c.hash == sa.bindparam("hash"), api_keys.c.revoked_at.is_(None)))


def new_key() -> str:
    return KEY_SCHEME + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_CHARS]


@dataclass(frozen=True)
class User:
    id: str
    name: str
    is_admin: bool
    key_id: str | None = None  # the key this request authenticated with (rate limits are per key)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    user_id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class UserInfo:
    user: User
    created_at: datetime
    keys: list[KeyInfo]


class UserStore:
    def __init__(self, database: Database, *, key_cache_ttl: float = 0.0) -> None:
        """``key_cache_ttl``: seconds a found key is remembered (store/key_cache.py); 0 asks every time."""
        self._db = database
        self._keys = KeyCache(key_cache_ttl)

    async def create_user(self, name: str, *, is_admin: bool = False, user_id: str | None = None) -> tuple[User, str]:
        """A new user and their first key (returned once, never stored in clear)."""
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidRequest("A user name must be 1 to 128 characters.")
        user = User(user_id or uuid.uuid4().hex, name, is_admin)

        async def insert(conn: AsyncConnection) -> str:
            await conn.execute(users.insert().values(id=user.id, name=name, is_admin=is_admin,
                                                     created_at=utcnow()))
            return await _insert_key(conn, user.id)

        key = await self._db.run(insert, write=True)
        return user, key

    async def create_key(self, user_id: str) -> str:
        return await self._db.run(lambda conn: _insert_key(conn, user_id), write=True)

    async def authenticate(self, key: str) -> User | None:
        """The user owning this key, or None when the key is unknown or revoked."""
        if not key.startswith(KEY_SCHEME) or len(key) > 200:
            return None
        hashed = hash_key(key)
        if (cached := self._keys.get(hashed)) is not None:
            return cached
        row = (await self._db.run(lambda conn: conn.execute(_KEY_OWNER, {"hash": hashed}))).one_or_none()
        if row is None:
            return None
        user = User(row.id, row.name, bool(row.is_admin), row.key_id)
        self._keys.put(hashed, user)
        return user

    async def user_of_key(self, key_id: str) -> User | None:
        """The user of the key with this id while it is not revoked (web sessions end with their key)."""
        query = (sa.select(users.c.id, users.c.name, users.c.is_admin, api_keys.c.id.label("key_id"))
                 .join(users, users.c.id == api_keys.c.user_id)
                 .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)))
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        return None if row is None else User(row.id, row.name, bool(row.is_admin), row.key_id)

    async def get_user(self, user_id: str) -> User | None:
        query = sa.select(users.c.id, users.c.name, users.c.is_admin).where(users.c.id == user_id)
        row = (await self._db.run(lambda conn: conn.execute(query))).one_or_none()
        return None if row is None else User(row.id, row.name, bool(row.is_admin))

    async def list_users(self) -> list[UserInfo]:
        async def work(conn: AsyncConnection) -> list[UserInfo]:
            user_rows = (await conn.execute(sa.select(users).order_by(users.c.created_at))).all()
            key_rows = (await conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at))).all()
            return [UserInfo(User(u.id, u.name, bool(u.is_admin)), as_utc(u.created_at),
                             [_key_info(k) for k in key_rows if k.user_id == u.id]) for u in user_rows]

        return await self._db.run(work)

    async def revoke_key(self, id_or_prefix: str) -> KeyInfo:
        """Revoke one key named by its id or its prefix (an ambiguous prefix is refused)."""
        query = sa.select(api_keys).where(sa.or_(api_keys.c.id == id_or_prefix, api_keys.c.prefix == id_or_prefix))

        async def work(conn: AsyncConnection) -> KeyInfo:
            rows = (await conn.execute(query)).all()
            if not rows:
                raise NotFound(f"No API key with id or prefix {id_or_prefix!r}; see `roadmap-agent users list`.")
            if len(rows) > 1:
                raise InvalidRequest(f"{len(rows)} keys share the prefix {id_or_prefix!r}; revoke by key id.")
            now = utcnow()
            await conn.execute(api_keys.update().where(api_keys.c.id == rows[0].id, api_keys.c.revoked_at.is_(None))
                               .values(revoked_at=now))
            return _key_info(rows[0], revoked_at=rows[0].revoked_at or now)

        info = await self._db.run(work, write=True)
        self._keys.revoked(info.id)
        return info


async def _insert_key(conn: AsyncConnection, user_id: str) -> str:
    key = new_key()
    await conn.execute(api_keys.insert().values(id=uuid.uuid4().hex, user_id=user_id, prefix=key_prefix(key),
                                                hash=hash_key(key), created_at=utcnow()))
    return key


def _key_info(row: Any, revoked_at: datetime | None = None) -> KeyInfo:
    revoked = revoked_at or row.revoked_at
    return KeyInfo(row.id, row.user_id, row.prefix, as_utc(row.created_at), as_utc(revoked) if revoked else None)


async def ensure_local_key(store: UserStore, key_file: Path) -> None:
    """Embedded default, first run: create the local (admin) user and a key in ``key_file`` (mode 0600).

    Deleting the file makes the next start issue a new key (the old one stays valid until revoked)."""
    if await asyncio.to_thread(key_file.exists):
        return
    key = None
    if await store.get_user(LOCAL_USER_ID) is None:
        with contextlib.suppress(AlreadyExists):  # another process created it first
            _, key = await store.create_user("local", is_admin=True, user_id=LOCAL_USER_ID)
    key = key or await store.create_key(LOCAL_USER_ID)
    await asyncio.to_thread(_write_key_file, key_file, key)


def _write_key_file(key_file: Path, key: str) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote its key first; ours is simply never used
        return
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")


def read_key_file(key_file: Path) -> str | None:
    try:
        return key_file.read_text().strip() or None
    except FileNotFoundError:
        return None
