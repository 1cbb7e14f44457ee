"""Catalogues of realistic student bugs, written as edits of the solution notebooks, for measuring the feedback."""
