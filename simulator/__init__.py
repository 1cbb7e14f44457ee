"""Reference NumPy implementations of recurrent networks: the single source of truth for every number."""
