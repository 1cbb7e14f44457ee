"""A file picker that refuses large files in the browser, so a huge upload never reaches (or breaks) the websocket.

The browser sends ``{"name", "size", "type"}`` for every picked file, plus ``"data"`` (base64) only when the
file is at most ``max_bytes``; the server then decides (``on_file(name, content_or_None, size)``), so every
refusal, including "too large", is a message written by the server in the page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

import param
from panel.custom import JSComponent


class ImageUpload(JSComponent):
    """``<input type=file>`` for one image; large files are announced by size but not sent."""

    accept = param.String(default=".png,.jpg,.jpeg,image/png,image/jpeg", doc="Hint for the browser's file dialog.")
    max_bytes = param.Integer(default=2 * 1024 * 1024, bounds=(1, 8 * 1024 * 1024),
                              doc="Files larger than this are not sent to the server.")

    _esm = """
    export function render({ model }) {
      const input = document.createElement("input");
      input.type = "file";
      input.accept = model.accept;
      input.className = "rnn-upload-input";
      input.setAttribute("aria-label", "Upload a PNG or JPEG image of one digit");
      input.addEventListener("change", () => {
        const file = input.files && input.files[0];
        if (!file) return;
        const meta = {name: file.name, size: file.size, type: file.type || ""};
        if (file.size > model.max_bytes) {
          model.send_msg(meta);
          input.value = "";
          return;
        }
        const reader = new FileReader();
        reader.onload = () => {
          const url = String(reader.result || "");
          model.send_msg({...meta, data: url.slice(url.indexOf(",") + 1)});
          input.value = "";
        };
        reader.onerror = () => model.send_msg({...meta, error: "unreadable"});
        reader.readAsDataURL(file);
      });
      return input;
    }
    """

    def __init__(self, on_file: Callable[[str, bytes | None, int], None], **params):
        super().__init__(**params)
        self._on_file = on_file

    def _handle_msg(self, msg) -> None:
        if not isinstance(msg, dict):
            return
        name = str(msg.get("name", ""))[:200]
        try:
            size = int(msg.get("size", 0))
        except (TypeError, ValueError):
            size = 0
        content = None
        if isinstance(msg.get("data"), str):
            try:
                content = base64.b64decode(msg["data"], validate=True)
            except (binascii.Error, ValueError):
                content = b""  # not base64: treated as an unreadable file
        elif "error" in msg:
            content = b""
        self._on_file(name, content, size)
