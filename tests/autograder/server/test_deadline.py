"""The deadline second, by the server's clock at receipt: 23:59:59.9 is on time, 00:00:00.1 is late.

Principle: one timestamp per submission, taken when the server had the whole upload, decides lateness and is the
stored time; checking the notebook, waiting for the student's lock or a busy database never moves it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from autograder.server import accounts, db
from autograder.server.submissions import RefusedError
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import distinct, notebook_bytes
from tests.autograder.server.test_hostile_server import quiet_server  # noqa: F401 - fixture

A, NAME = fx.ASSIGNMENT, "rnn_cell.ipynb"


def _stored(server, sid):
    with server.engine.connect() as conn:
        return conn.execute(sa.select(db.submissions.c.created, db.submissions.c.late)
                            .where(db.submissions.c.id == sid)).one()


@pytest.mark.parametrize("policy", ["accept", "refuse"])
def test_received_a_tenth_before_the_deadline_is_on_time_however_late_it_is_stored(quiet_server, monkeypatch,  # noqa: F811
                                                                                    policy):
    """Is an upload received at deadline - 0.1 s on time although the server only stores it 5 s later?"""
    prof, _, _ = accounts.add_user(quiet_server.engine, "prof", "instructor")
    ada, _, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    deadline = db.now() + 3600.0
    quiet_server.configure(prof, A, deadline=deadline, late_policy=policy)
    monkeypatch.setattr(db, "now", lambda: deadline + 5.0)  # the checks and the insert happen after the deadline
    sid = quiet_server.submit(ada, A, NAME, notebook_bytes(fx.solved_notebook()), received=deadline - 0.1)
    created, late = _stored(quiet_server, sid)
    assert created == deadline - 0.1 and late is False


def test_received_a_tenth_after_the_deadline_is_late_or_refused(quiet_server):  # noqa: F811
    """Is deadline + 0.1 s late with 'accept' (stored as late) and refused with 'refuse' (nothing stored)?"""
    prof, _, _ = accounts.add_user(quiet_server.engine, "prof", "instructor")
    bo, _, _ = accounts.add_user(quiet_server.engine, "bo", "student")
    deadline = db.now() + 3600.0
    data = notebook_bytes(fx.solved_notebook())
    quiet_server.configure(prof, A, deadline=deadline, late_policy="refuse")
    with pytest.raises(RefusedError) as err:
        quiet_server.submit(bo, A, NAME, data, received=deadline + 0.1)
    assert err.value.status == 403 and "deadline" in err.value.message
    assert quiet_server.submissions_of(bo) == []
    quiet_server.configure(prof, A, late_policy="accept")
    sid = quiet_server.submit(bo, A, NAME, distinct(data, 0), received=deadline + 0.1)
    assert _stored(quiet_server, sid) == (deadline + 0.1, True)


def test_exactly_at_the_deadline_is_on_time(quiet_server):  # noqa: F811
    """Is the deadline itself still on time (late means after it)?"""
    prof, _, _ = accounts.add_user(quiet_server.engine, "prof", "instructor")
    cy, _, _ = accounts.add_user(quiet_server.engine, "cy", "student")
    deadline = db.now() + 3600.0
    quiet_server.configure(prof, A, deadline=deadline, late_policy="refuse")
    sid = quiet_server.submit(cy, A, NAME, notebook_bytes(fx.solved_notebook()), received=deadline)
    assert _stored(quiet_server, sid) == (deadline, False)
