"""Grading for the RNN exercises: the checks that test cells call, and (elsewhere) the sandboxed grader."""
