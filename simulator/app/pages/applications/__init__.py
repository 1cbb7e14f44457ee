"""The applications page: its model (no GUI), its view and what only it draws."""
