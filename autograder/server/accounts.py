"""Accounts of the course server: students and instructors, salted password hashes, API tokens, set-up codes.

Passwords are stored as ``scrypt$n$r$p$salt$hash`` (``hashlib.scrypt``, a random 16-byte salt each);
bearer tokens and one-time set-up codes only as their SHA-256, so a copy of the database lets nobody in.
Accounts come from nbgrader's roster (the gradebook's students), a CSV (``name,role``), or one at a time
(``python -m autograder users add NAME --role student``).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from autograder.server import db

ROLES = ("student", "instructor")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SETUP_SECONDS = 7 * 24 * 3600
MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"


class AccountError(ValueError):
    """A name, role, password or code that cannot be accepted; the message says which and why."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a stored hash (False for a malformed or missing hash)."""
    try:
        scheme, n, r, p, salt, key = (stored or "").split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(key) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), key)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise AccountError(f"user name {name!r}: expected 1-64 letters, digits or _ . @ - (starting with a letter "
                           "or digit)")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def _row_user(row) -> User:
    return User(row.id, row.name, row.role)


def add_user(engine: Engine, name: str, role: str) -> tuple[User, str, str]:
    """Create an account; returns (user, API token, one-time set-up code). The secrets are shown once, never stored."""
    _check_name(name)
    _check_role(role)
    token, code = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    with engine.begin() as conn:
        if conn.execute(sa.select(db.users.c.id).where(db.users.c.name == name)).first():
            raise AccountError(f"user {name!r} exists already")
        uid = conn.execute(db.users.insert().values(
            name=name, role=role, token_hash=_digest(token), setup_hash=_digest(code),
            setup_expires=db.now() + SETUP_SECONDS, created=db.now())).inserted_primary_key[0]
    return User(uid, name, role), token, code


def add_users(engine: Engine, rows: list[tuple[str, str]]) -> tuple[list[tuple[User, str, str]], list[str]]:
    """Create many accounts at once (a roster): ``(created [(user, token, code)], names that exist already)``.

    One transaction and one query for the existing names, whatever the roster's size: 2,000 students are one
    commit, not 2,000 (each a disk sync on SQLite). Every row is checked before anything is written; a name
    given twice in the roster is created once. Existing accounts are kept as they are (their tokens unchanged).
    """
    wanted: dict[str, str] = {}
    for name, role in rows:
        wanted.setdefault(_check_name(name), _check_role(role))
    created, kept = [], []
    with engine.begin() as conn:
        names = list(wanted)
        existing = set()
        for k in range(0, len(names), 500):  # bound the parameters of one statement
            existing |= set(conn.execute(sa.select(db.users.c.name).where(
                db.users.c.name.in_(names[k:k + 500]))).scalars())
        fresh = []
        for name in names:
            if name in existing:
                kept.append(name)
                continue
            token, code = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
            fresh.append((name, token, code))
        now = db.now()
        if fresh:
            conn.execute(db.users.insert(), [
                {"name": name, "role": wanted[name], "token_hash": _digest(token), "setup_hash": _digest(code),
                 "setup_expires": now + SETUP_SECONDS, "created": now} for name, token, code in fresh])
            ids = {}
            for k in range(0, len(fresh), 500):
                ids.update(conn.execute(sa.select(db.users.c.name, db.users.c.id).where(
                    db.users.c.name.in_([f[0] for f in fresh[k:k + 500]]))).all())
            created = [(User(ids[name], name, wanted[name]), token, code) for name, token, code in fresh]
    return created, kept


def remove_user(engine: Engine, name: str) -> None:
    """Delete an account that has no submissions (graded work is never deleted with its author's account)."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
        if row is None:
            raise AccountError(f"no user {name!r}")
        if conn.execute(sa.select(db.submissions.c.id).where(db.submissions.c.user_id == row.id)).first():
            raise AccountError(f"user {name!r} has submissions; they are kept, so the account is kept too "
                               "(reset its password instead)")
        conn.execute(db.users.delete().where(db.users.c.id == row.id))


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_row_user(r) for r in conn.execute(sa.select(db.users).order_by(db.users.c.name))]


def find(engine: Engine, name: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
    return _row_user(row) if row else None


def by_token(engine: Engine, token: str) -> User | None:
    """The user whose bearer token this is, or None."""
    if not token or len(token) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.token_hash == _digest(token))).first()
    return _row_user(row) if row else None


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user if ``password`` is theirs; None otherwise (the same answer for an unknown name)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
    stored = row.password_hash if row else None
    ok = verify_password(password, stored) if stored else verify_password(password, _DUMMY)  # same cost either way
    return _row_user(row) if row and stored and ok else None


_DUMMY = hash_password(secrets.token_urlsafe(12))


def set_password_with_code(engine: Engine, name: str, code: str, password: str) -> User:
    """Use a one-time set-up code (from ``users add`` or an invitation) to choose a password; the code is spent."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"password: expected at least {MIN_PASSWORD} characters")
    with engine.begin() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
        if (row is None or not row.setup_hash or not hmac.compare_digest(row.setup_hash, _digest(code or ""))
                or (row.setup_expires or 0) < db.now()):
            raise AccountError("this set-up link is not valid (wrong, used or expired): "
                               "ask your instructor for a new one")
        conn.execute(db.users.update().where(db.users.c.id == row.id).values(
            password_hash=hash_password(password), setup_hash=None, setup_expires=None))
    return _row_user(row)


def _session_tag(row) -> str:
    """What a session cookie carries besides the name: it changes when the password changes or the account is
    made anew (its id), so a password reset or a removal ends every session signed in before it.
    """
    return hashlib.sha256(f"{row.id}:{row.password_hash or ''}".encode()).hexdigest()[:24]


def session_value(engine: Engine, name: str) -> str:
    """The (then signed) cookie value of a new session of ``name``: ``name:tag``."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
    if row is None:
        raise AccountError(f"no user {name!r}")
    return f"{row.name}:{_session_tag(row)}"


def session_user(engine: Engine, value: str) -> User | None:
    """The user of a session cookie's value, or None when it names nobody or was signed before a password change
    or before the account was removed and made again.
    """
    name, _, tag = (value or "").partition(":")
    if not tag or not NAME.match(name):
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).first()
    return _row_user(row) if row is not None and hmac.compare_digest(_session_tag(row), tag) else None


def new_setup_code(engine: Engine, name: str) -> str:
    """A fresh one-time set-up code for ``name`` (an invitation or a password reset)."""
    code = secrets.token_urlsafe(16)
    with engine.begin() as conn:
        n = conn.execute(db.users.update().where(db.users.c.name == name).values(
            setup_hash=_digest(code), setup_expires=db.now() + SETUP_SECONDS)).rowcount
    if not n:
        raise AccountError(f"no user {name!r}")
    return code


def new_token(engine: Engine, name: str) -> str:
    """A fresh API token for ``name``; the old one names nobody from now on (a leaked token is ended this way).

    Only its digest is stored, as for every token; sessions and the password are untouched (``users invite``
    resets those).
    """
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        n = conn.execute(db.users.update().where(db.users.c.name == name).values(token_hash=_digest(token))).rowcount
    if not n:
        raise AccountError(f"no user {name!r}")
    return token


def read_roster_csv(path: Path | str) -> list[tuple[str, str]]:
    """``name,role`` rows (a header row ``name,role`` is allowed; role defaults to student)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for k, row in enumerate(csv.reader(f), start=1):
            if not row or not row[0].strip() or (k == 1 and row[0].strip().lower() == "name"):
                continue
            name, role = row[0].strip(), (row[1].strip() if len(row) > 1 and row[1].strip() else "student")
            try:
                rows.append((_check_name(name), _check_role(role)))
            except AccountError as exc:
                raise AccountError(f"{Path(path).name}, line {k}: {exc}") from None
    return rows


def roster_from_gradebook(course: Path | str) -> list[tuple[str, str]]:
    """The students in the course's nbgrader gradebook, as (name, "student")."""
    from autograder.gradebook import open_gradebook

    with open_gradebook(course) as gb:
        return [(_check_name(s.id), "student") for s in gb.students]
