"""A double click is one submission: the same bytes from the same student within a minute answer the first's id.

Principle: identity is (student, assignment, exact bytes, within ``DUPLICATE_SECONDS``), decided under the
student's lock, so parallel repeats cannot both insert. Never across students: two students handing in the same
file are two submissions, or one would be shown the other's feedback.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from autograder.server import accounts, db, submissions
from tests.autograder.fixtures import course as fx
from tests.autograder.server.conftest import distinct, notebook_bytes
from tests.autograder.server.test_hostile_server import _race, _stored, quiet_server  # noqa: F401 - fixture

A, NAME = fx.ASSIGNMENT, "rnn_cell.ipynb"


def test_parallel_identical_uploads_are_one_submission(quiet_server):  # noqa: F811
    """Do eight simultaneous copies of one upload (a frantic double click) store one row and answer its id?"""
    quiet_server.rate_limit = 100
    user, _, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    ids, refused = _race(quiet_server, user, 8, same=True)
    assert not refused and len(set(ids)) == 1 and _stored(quiet_server, user) == 1


def test_a_repeat_at_the_maximum_is_answered_not_refused(quiet_server):  # noqa: F811
    """With one submission allowed, is the double click's second request the first's id rather than a 403?"""
    prof, _, _ = accounts.add_user(quiet_server.engine, "prof", "instructor")
    quiet_server.configure(prof, A, max_submissions=1)
    user, _, _ = accounts.add_user(quiet_server.engine, "bo", "student")
    data = notebook_bytes(fx.solved_notebook())
    first = quiet_server.submit(user, A, NAME, data)
    again = quiet_server.submit(user, A, NAME, data)
    assert again == first and again.duplicate and not first.duplicate
    with pytest.raises(submissions.RefusedError) as err:  # a changed notebook is a new submission: over the maximum
        quiet_server.submit(user, A, NAME, distinct(data, 0))
    assert err.value.status == 403


def test_two_students_with_the_same_file_are_two_submissions(quiet_server):  # noqa: F811
    """Is a copied notebook (same bytes, another student) stored for each, each seeing only their own?"""
    ada, _, _ = accounts.add_user(quiet_server.engine, "ada", "student")
    bo, _, _ = accounts.add_user(quiet_server.engine, "bo", "student")
    data = notebook_bytes(fx.solved_notebook())
    a, b = quiet_server.submit(ada, A, NAME, data), quiet_server.submit(bo, A, NAME, data)
    assert a != b and not b.duplicate
    with pytest.raises(submissions.RefusedError) as err:
        quiet_server.submission(bo, a)
    assert err.value.status == 404


def test_the_same_bytes_after_the_window_are_a_new_submission(quiet_server):  # noqa: F811
    """Is the identity bounded in time (a deliberate resubmission a while later is recorded)?"""
    user, _, _ = accounts.add_user(quiet_server.engine, "cy", "student")
    data = notebook_bytes(fx.solved_notebook())
    first = quiet_server.submit(user, A, NAME, data)
    later = db.now() + submissions.DUPLICATE_SECONDS + 61  # past the window and the rate limit's minute
    again = quiet_server.submit(user, A, NAME, data, received=later)
    assert again != first and not again.duplicate
    with quiet_server.engine.connect() as conn:
        times = conn.execute(sa.select(db.submissions.c.created).order_by(db.submissions.c.id)).scalars().all()
    assert times[-1] == later  # stored at the time the server received it



# Held out: written after the mechanism, run once, not tuned on.
def test_heldout_same_bytes_under_another_file_name_is_the_same_submission(quiet_server):  # noqa: F811
    """Is a re-upload renamed by the browser ('rnn_cell (1).ipynb') still the first one?"""
    user, _, _ = accounts.add_user(quiet_server.engine, "dee", "student")
    data = notebook_bytes(fx.solved_notebook())
    first = quiet_server.submit(user, A, NAME, data)
    assert quiet_server.submit(user, A, "rnn_cell (1).ipynb", data) == first


def test_heldout_a_repeat_at_the_rate_limit_is_answered_not_429(quiet_server):  # noqa: F811
    """At the minute's limit, is a retry of an accepted upload still answered with its id?"""
    user, _, _ = accounts.add_user(quiet_server.engine, "eve", "student")
    data = notebook_bytes(fx.solved_notebook())
    ids = [quiet_server.submit(user, A, NAME, distinct(data, k)) for k in range(quiet_server.rate_limit)]
    again = quiet_server.submit(user, A, NAME, distinct(data, 1))
    assert again == ids[1] and again.duplicate


def test_heldout_refused_uploads_are_refused_each_time_and_store_nothing(quiet_server):  # noqa: F811
    """Is a malformed notebook sent twice refused twice (a refusal is never remembered as a submission)?"""
    user, _, _ = accounts.add_user(quiet_server.engine, "fay", "student")
    for _ in range(2):
        with pytest.raises(submissions.RefusedError) as err:
            quiet_server.submit(user, A, NAME, b'{"cells": [')
        assert err.value.status == 422
    assert _stored(quiet_server, user) == 0


def test_heldout_a_mixed_burst_stores_each_distinct_notebook_once(quiet_server):  # noqa: F811
    """Do three copies of one notebook and two of another, all at once, store exactly two rows?"""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    quiet_server.rate_limit = 100
    user, _, _ = accounts.add_user(quiet_server.engine, "gus", "student")
    data = notebook_bytes(fx.solved_notebook())
    bodies = [data, data, data, distinct(data, 0), distinct(data, 0)]
    gate = threading.Barrier(len(bodies))

    def one(body):
        gate.wait()
        return quiet_server.submit(user, A, NAME, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        ids = list(pool.map(one, bodies))
    assert len(set(ids[:3])) == 1 and len(set(ids[3:])) == 1 and ids[0] != ids[3]
    assert _stored(quiet_server, user) == 2
