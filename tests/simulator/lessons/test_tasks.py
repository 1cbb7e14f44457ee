import numpy as np
import pytest

from simulator.lessons import tasks


def test_first_symbol_label_is_the_first_input():
    """Is the label the one-hot symbol at t = 0, with noise distractors after it?"""
    d = tasks.first_symbol(500, 12, K=5, noise=0.8, seed=3)
    assert d.X.shape == (500, 12, 5) and d.y.shape == (500,)
    np.testing.assert_array_equal(d.X[:, 0].argmax(axis=1), d.y)
    np.testing.assert_array_equal(d.X[:, 0].sum(axis=1), np.ones(500))
    assert set(np.unique(d.X[:, 0])) == {0.0, 1.0}
    assert abs(d.X[:, 1:].std() - 0.8) < 0.02 and abs(d.X[:, 1:].mean()) < 0.02
    assert d.chance == pytest.approx(0.2) and d.kind == "classification" and d.num_outputs == 5
    assert set(np.unique(d.y)) == set(range(5))


def test_first_symbol_symbol_distractors_are_one_hot():
    """With symbol distractors, is every step a one-hot code of the same alphabet?"""
    d = tasks.first_symbol(50, 7, K=3, distractors="symbols", seed=1)
    np.testing.assert_array_equal(d.X.sum(axis=2), np.ones((50, 7)))
    assert set(np.unique(d.X)) == {0.0, 1.0}


def test_seeds_reproduce_and_differ():
    a, b, c = (tasks.first_symbol(20, 9, seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    np.testing.assert_array_equal(tasks.adding(10, 8, seed=2).X, tasks.adding(10, 8, seed=2).X)


def test_adding_problem_targets_are_the_marked_sums():
    """Two markers, one per half, and y = the sum of the two marked values?"""
    d = tasks.adding(300, 10, seed=0)
    values, markers = d.X[..., 0], d.X[..., 1]
    np.testing.assert_array_equal(markers.sum(axis=1), np.full(300, 2.0))
    np.testing.assert_array_equal(markers[:, :5].sum(axis=1), np.ones(300))
    np.testing.assert_allclose(d.y, (values * markers).sum(axis=1))
    assert ((values >= 0) & (values <= 1)).all()
    assert d.kind == "regression" and d.num_outputs == 1
    # the best constant guess (1.0) is right within the tolerance about as often as ``chance`` says
    big = tasks.adding(20000, 10, seed=1)
    assert abs(np.mean(np.abs(big.y - 1.0) < tasks.ADDING_TOLERANCE) - big.chance) < 0.01


def test_make_dispatches_by_name():
    np.testing.assert_array_equal(tasks.make("first_symbol", 4, 6, K=3, seed=1).X,
                                  tasks.first_symbol(4, 6, 3, seed=1).X)
    np.testing.assert_array_equal(tasks.make("adding", 4, 6, seed=1).y, tasks.adding(4, 6, seed=1).y)


@pytest.mark.parametrize("call, match", [
    (lambda: tasks.first_symbol(0, 5), "n: expected an integer >= 1, got 0"),
    (lambda: tasks.first_symbol(3, 1), "T: expected an integer in"),
    (lambda: tasks.first_symbol(3, 5, K=1), "K: expected"),
    (lambda: tasks.first_symbol(3, 5, K=2.5), "K: expected an integer, got 2.5"),
    (lambda: tasks.first_symbol(3, 5, distractors="zeros"), "distractors: got 'zeros'"),
    (lambda: tasks.first_symbol(3, 5, noise=float("nan")), "noise: expected a finite number"),
    (lambda: tasks.first_symbol(3, 5, noise=-1.0), "noise: expected a finite number >= 0"),
    (lambda: tasks.adding(3, True), "T: expected an integer, got True"),
    (lambda: tasks.make("copy", 3, 5), "name: got 'copy'"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
