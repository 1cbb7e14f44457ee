"""Red-team payloads against the autograder: hostile submissions built from the real release notebooks."""
