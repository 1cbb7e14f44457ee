"""The fifth blind catalogue: realistic student bugs not in blind3, blind4 or bugs/ (docs/blind5.md)."""
