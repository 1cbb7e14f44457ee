"""A blind catalogue of student bugs (written without reading the diagnosis code), split into two halves."""
