"""What uploads in progress may hold: a few slots per account, and a budget of buffered bytes per server process.

An upload's body is kept in memory until it is whole (the notebook is parsed from it), so the memory a client
can make the server hold is the number of its uploads in progress times their size. Both factors are bounded
before a byte of a body is kept:

- per account, at most ``per_user`` uploads in progress (429 beyond): a double click is two, a script may send
  three in parallel, a flood of slow uploads from one token is refused at its headers;
- per process, at most ``budget`` bytes of upload bodies over everyone (503 with ``Retry-After`` beyond). An
  upload reserves its declared ``Content-Length`` when it starts; one without (chunked) grows its reservation
  as its bytes arrive and is cut off when the budget is spent. So ``held <= budget`` at every moment (plus at
  most one network chunk being appended).

A :class:`Ticket` is given back however the upload ends (answered, refused, the client gone mid-body): the
handler closes it in ``on_finish`` and ``on_connection_close``, and closing twice is harmless.

Not covered: the bound is per process (``--num-procs N`` holds up to N budgets); a client with many accounts
(tokens) has their slots together, still within the process budget; memory the parser uses while splitting a
body (a copy of it) comes on top of the budget, for at most ``per_user`` uploads per account at once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from autograder.server.submissions import RefusedError

UPLOADS_PER_USER = 3  # uploads in progress per account (a double click is two)
BUDGET_MIB = 256  # MiB of upload bodies held at once per process: a class of 300 sending 100 KiB notebooks is 30
ENV = "RNN_UPLOAD_BUDGET_MIB"


def budget_from_env(environ=os.environ) -> int:
    """The process budget in bytes: ``RNN_UPLOAD_BUDGET_MIB`` (a positive whole number of MiB) or the default."""
    raw = environ.get(ENV, "").strip()
    if not raw:
        return BUDGET_MIB * 2**20
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= 1_000_000:
        raise ValueError(f"{ENV}={raw[:40]!r}: expected a whole number of MiB between 1 and 1000000")
    return int(raw) * 2**20


@dataclass(eq=False)
class Ticket:
    """One upload's share: its account's slot and ``reserved`` bytes of the budget, until :meth:`close`."""

    slots: UploadSlots
    user_id: int
    reserved: int
    received: int = 0
    closed: bool = field(default=False)

    def take(self, n: int) -> bool:
        """Count ``n`` more body bytes; False when they do not fit (the budget is spent: drop the upload)."""
        self.received += n
        if self.received <= self.reserved:
            return True
        return self.slots._grow(self, self.received - self.reserved)

    def close(self) -> None:
        self.slots._close(self)


class UploadSlots:
    """Slots per account and the process budget; every method is quick (the event loop calls them)."""

    def __init__(self, per_user: int = UPLOADS_PER_USER, budget: int | None = None):
        self.per_user = per_user
        self.budget = budget_from_env() if budget is None else budget
        self.held = 0  # bytes reserved by open tickets
        self._open: dict[int, int] = {}  # user id -> uploads in progress
        self._lock = threading.Lock()

    def open(self, user_id: int, declared: int | None) -> Ticket:
        """A ticket for a new upload of ``user_id`` declaring ``declared`` bytes (None: chunked, not yet known).

        Raises :class:`~autograder.server.submissions.RefusedError` (429: the account's slots are taken; 503: the
        budget would be exceeded).
        """
        want = max(0, declared or 0)
        with self._lock:
            if self._open.get(user_id, 0) >= self.per_user:
                raise RefusedError(429, f"you have {self.per_user} uploads in progress already: wait until one "
                                         "has finished, then send again")
            if self.held + want > self.budget or (declared is None and self.held >= self.budget):
                raise RefusedError(503, "the server is receiving many uploads at once: send again in a few "
                                         "seconds (nothing was stored)")
            self._open[user_id] = self._open.get(user_id, 0) + 1
            self.held += want
            return Ticket(self, user_id, want)

    def _grow(self, ticket: Ticket, extra: int) -> bool:
        with self._lock:
            if ticket.closed or self.held + extra > self.budget:
                return False
            self.held += extra
            ticket.reserved += extra
            return True

    def _close(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.closed:
                return
            ticket.closed = True
            self.held -= ticket.reserved
            left = self._open.get(ticket.user_id, 0) - 1
            if left > 0:
                self._open[ticket.user_id] = left
            else:
                self._open.pop(ticket.user_id, None)

    def in_progress(self, user_id: int) -> int:
        with self._lock:
            return self._open.get(user_id, 0)
