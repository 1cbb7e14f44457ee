"""The nbgrader course: notebook builders and the reference answers of the exercises that are not core functions."""
