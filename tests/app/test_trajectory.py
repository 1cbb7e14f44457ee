"""Does the trajectory's hover say each step's hidden state, to 3 decimals, for any H and T?"""

import json

import numpy as np
import pytest

from simulator.app.components.trajectory import Trajectory


@pytest.mark.parametrize("T, H", [(1, 1), (20, 4), (7, 12)])
def test_the_hover_text_is_each_steps_hidden_state(T, H):
    rng = np.random.default_rng(T * 100 + H)
    h = rng.normal(scale=3.0, size=(T, H))
    trajectory = Trajectory()
    trajectory.set_states(h)
    texts = trajectory.path.data["h"]
    assert len(texts) == T and trajectory.path.data["t"] == list(range(T))
    for text, row in zip(texts, h, strict=True):
        assert text.startswith("[") and text.endswith("]") and text.count(",") == H - 1
        np.testing.assert_allclose(json.loads(text), row, atol=5e-4 + 1e-12)
        assert all(len(part.strip().split(".")[1]) == 3 for part in text[1:-1].split(","))  # 3 decimals each
