"""Shared test settings: Keras runs on the PyTorch backend, float64 comparisons are exact to 1e-9."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
