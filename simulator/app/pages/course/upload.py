"""A notebook picker: the image upload's browser-side size check, for ``.ipynb`` files up to the server's cap."""

from __future__ import annotations

import param

from autograder.server.submissions import MAX_UPLOAD
from simulator.app.components.upload import ImageUpload


class NotebookUpload(ImageUpload):
    """``<input type=file>`` for one notebook; files over ``max_bytes`` are announced by size, never sent."""

    accept = param.String(default=".ipynb,application/x-ipynb+json", doc="Hint for the browser's file dialog.")
    max_bytes = param.Integer(default=MAX_UPLOAD, bounds=(1, MAX_UPLOAD), doc="Files larger than this are not sent.")

    _esm = ImageUpload._esm.replace('"Upload a PNG or JPEG image of one digit"', '"Choose your notebook (.ipynb)"')
