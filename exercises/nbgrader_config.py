"""nbgrader configuration of the RNN course (run nbgrader commands from this directory)."""

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

c.CourseDirectory.course_id = "rnn-course"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A notebook runs a few hundred small checks; a generous limit still stops an endless loop.
c.ExecutePreprocessor.timeout = 120
