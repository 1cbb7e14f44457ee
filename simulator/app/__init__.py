"""The Panel web app: one module per page in ``pages/``, shared pieces beside them."""
