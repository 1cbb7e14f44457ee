"""The sixth blind catalogue: realistic student bugs written before their diagnosis was seen (docs/blind6.md)."""
