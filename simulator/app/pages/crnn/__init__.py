"""The crnn page: its model (no GUI), its view and what only it draws."""
