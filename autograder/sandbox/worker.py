"""The sandbox's side of the channel: run the student's cells and serve the grader's calls.

Started as ``python -I -S worker.py LIBDIR CMD_FD REPLY_FD [UID]`` inside the sandbox; ``LIBDIR``
holds ``channel.py`` and NumPy and nothing else of the grader; ``UID`` is the user to drop to.
Requests (one frame each):

* ``{"op": "exec", "code": str, "cell": str, "drop": [str]}``: run a cell in the student's namespace, without
  its top-level imports of the packages ``drop`` names (the grader's own, which the sandbox does not have).
  The cell is parsed here, never in the grader: a cell that exhausts the parser (deep nesting, a huge
  expression) fails with its own ``MemoryError`` or ``RecursionError`` inside the sandbox's limits;
* ``{"op": "names"}``: the student's top-level names as ``[name, kind]`` with kind
  ``"function"``, ``"data"`` (sent by value) or ``"object"`` (kept here, sent as a reference);
* ``{"op": "get", "name": str}``: one name's value;
* ``{"op": "call"}`` with ``(target, args, kwargs)``: call a function kept here.
"""

import ast
import builtins
import os
import sys
import traceback
import types


def _imports_only(node, drop) -> bool:
    if isinstance(node, ast.Import):
        return all(a.name.split(".")[0] in drop for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and (node.module or "").split(".")[0] in drop
    return False


def compile_cell(text: str, filename: str, drop) -> types.CodeType:
    """``text`` compiled without its top-level imports of ``drop``; line numbers stay the cell's own."""
    if not any(name in text for name in drop):
        return compile(text, filename, "exec")
    try:
        tree = ast.parse(text, filename)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return compile(text, filename, "exec")  # raises the cell's own error
    tree.body = [node for node in tree.body if not _imports_only(node, drop)]
    return compile(tree, filename, "exec")


def _start_relay() -> None:
    """Point fds 1 and 2 at a relay process that forwards to the grader's output pipe until it stops reading.

    The grader keeps the first ``Limits.output`` bytes and then closes its end (it used to read and drop a
    flood for as long as the sandbox lived: half a core of the trusted process for 4 GB in 4 s, stop 22).
    The relay then drops what the student prints, here, on the sandbox's own CPU quota, so a long print
    never blocks nor raises in the student's code.
    """
    r, w = os.pipe()
    if os.fork() == 0:
        try:
            os.close(w)
            os.closerange(3, r)
            os.closerange(r + 1, 1 << 16)
            forwarding = True
            while chunk := os.read(r, 1 << 16):
                while forwarding and chunk:
                    try:
                        chunk = chunk[os.write(1, chunk):]
                    except OSError:  # the grader stopped reading (EPIPE): drop the rest
                        forwarding = False
        finally:
            os._exit(0)
    os.close(r)
    os.dup2(w, 1)
    os.dup2(w, 2)
    os.close(w)


def _main() -> None:
    libdir, cmd_fd, reply_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if len(sys.argv) > 4:
        # Started as root inside bubblewrap: become the sandbox user before anything else runs.
        uid = int(sys.argv[4])
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    sys.path.insert(0, libdir)
    _start_relay()  # NB: after the uid switch (the relay is the sandbox user's), before any student code
    # Keep the protocol off fds 0-2 so that input() or print() in student code cannot touch it.
    cmd_fd, reply_fd = os.dup(cmd_fd), os.dup(reply_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    import channel  # noqa: E402 - found through LIBDIR only

    peer = channel.Peer(cmd_fd, reply_fd, owner="sandbox", remote_name="grader")
    # The student's cells run in a fresh __main__ module (pickle and friends look names up there).
    student_main = types.ModuleType("__main__")
    sys.modules["__main__"] = student_main
    namespace = student_main.__dict__
    namespace["__builtins__"] = builtins
    plain = (type(None), bool, int, float, str, bytes)

    def kind(value) -> str:
        if callable(value):
            return "function"
        return "data" if _is_plain(value, plain, channel.np) else "object"

    def handle(header: dict, value) -> object:
        op = header.get("op")
        if op == "exec":
            drop = header.get("drop")
            drop = tuple(d for d in drop if type(d) is str) if type(drop) is list else ()
            code = compile_cell(header["code"], f"<cell {header.get('cell', '?')}>", drop)
            exec(code, namespace)  # noqa: S102 - this process exists to run the student's code
            return None
        if op == "names":
            return [[k, kind(v)] for k, v in list(namespace.items())
                    if not k.startswith("__") and type(v).__name__ != "module"]
        if op == "get":
            if header.get("name") not in namespace:
                raise NameError(f"name {header.get('name')!r} is not defined")
            return namespace[header["name"]]
        raise channel.ProtocolError(f"unknown request {op!r}")

    peer.send({"op": "ready"}, None)
    while True:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - the student may have replaced or closed the stream
                pass
        try:
            header, blobs = channel.read_frame(peer.rfd)
        except channel.ProtocolError:
            os._exit(0)
        try:
            value = peer.decode(header.get("value"), blobs)
        except channel.ProtocolError as exc:
            peer.send_error(exc)
            continue
        if header.get("op") == "call":
            try:
                peer.serve_call(value)
            except channel.ChannelClosedError:
                os._exit(0)
            except BaseException as exc:  # noqa: BLE001 - SystemExit or KeyboardInterrupt from the student
                peer.send_error(exc, traceback.format_exc())
            continue
        try:
            result = handle(header, value)
        except channel.ChannelClosedError:
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            try:
                peer.send_error(exc, traceback.format_exc())
            except channel.ChannelClosedError:
                os._exit(0)
            continue
        try:
            peer.send({"op": "result"}, result)
        except channel.ChannelClosedError:
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001 - a value that cannot be encoded is the student's error
            peer.send_error(exc, traceback.format_exc())


def _is_plain(value, plain: tuple, np, depth: int = 0) -> bool:
    if depth > 64:
        return False
    if type(value) in plain:
        return True
    if type(value) is np.ndarray or isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return value.dtype.kind in "biufc" and value.dtype.fields is None
    if type(value) in (list, tuple):
        return all(_is_plain(v, plain, np, depth + 1) for v in value)
    if type(value) is dict:
        return all(_is_plain(v, plain, np, depth + 1) for v in value.values())
    return False


if __name__ == "__main__":
    _main()
