"""The held-out half of the fourth blind catalogue: odd positions within each assignment (never tuned on).

Only the lead runs this half, once, at the end (``python benchmarks/blind4_report.py --half heldout``).
"""

from tests.autograder.blind4.catalogue import half

BUGS = half("heldout")
