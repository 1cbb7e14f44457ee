"""The tuning half of the fourth blind catalogue: even positions within each assignment (tune on these only)."""

from tests.autograder.blind4.catalogue import half

BUGS = half("tuning")
