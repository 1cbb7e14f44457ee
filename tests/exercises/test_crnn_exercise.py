"""The crnn assignment beyond the checks every assignment gets in test_course.py (release without answers,
solution full marks, untouched release zero, release runs top to bottom): its 12 one-point test cells."""

from tests.exercises.test_course import _autograded_ids


def test_crnn_solution_earns_twelve_one_point_cells(course_runs):
    """Does nbgrader give the crnn solution all 12 autograded points, one per test cell?"""
    graded = course_runs["graded"]["crnn"]
    assert graded.returncode == 0, graded.log[-3000:]
    tests = _autograded_ids("crnn")
    solution = graded.scores["solution"]
    assert len(tests) == 12 and tests <= set(solution)
    assert all(solution[t] == (1.0, 1.0) for t in tests), solution
