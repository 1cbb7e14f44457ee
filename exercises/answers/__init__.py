"""Reference answers with the exact signatures of exercise functions that the core does not already have."""
