"""The seventh blind catalogue: realistic student bugs written before their diagnosis was seen (docs/blind7.md)."""
