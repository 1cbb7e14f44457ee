"""The sandbox's constructed filesystem: the standard library, NumPy and the worker at neutral paths.

Under bubblewrap the sandbox sees nothing of the host but one read-only tree, built here once and
cached, mounted at ``/sandbox``::

    /sandbox/python/bin/pythonX.Y        the interpreter (a copy of the real binary)
    /sandbox/python/lib/pythonX.Y/       the standard library and lib-dynload (no site-packages)
    /sandbox/python/lib/libpython*.so*   the interpreter's own shared library, if it has one
    /sandbox/os/                         the OS shared libraries the above need (``ldd``), and the loader
    /sandbox/lib/numpy, numpy.libs       NumPy, the only package
    /sandbox/lib/channel.py              the wire format
    /sandbox/worker.py                   the sandbox's end of the channel

Principle: *what is not copied in does not exist*, so the base interpreter's site-packages (IPython,
jinja2, nbgrader, torch...) are absent by construction, whether the grader runs from a venv, pyenv or
the OS Python. No host path survives in the tree either: every copied file in which a host prefix
(``sys.prefix``, ``sys.base_prefix``, NumPy's site directory) occurs is rewritten: text is replaced,
compiled ``.pyc`` files get their code objects' ``co_filename`` relocated, and in binaries (the
interpreter's compiled-in ``PREFIX`` and ``RUNPATH``) each NUL-terminated string starting with the
prefix is rewritten in place and padded with NULs (the relocation conda uses). A file that still holds
a host prefix after that is left out, so the tree holds no host prefix by construction.

The tree's own host location (``/var/tmp/autograder-runtime-UID/KEY``) is the source of the bind mount,
which ``/proc/self/mountinfo`` would show: the sandbox has no ``/proc`` (:func:`.isolation.bwrap_command`).
Not covered: at the ``rlimits`` level (no bubblewrap) the host's ``/proc`` is the sandbox's.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import marshal
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHANNEL = HERE.parent / "channel.py"
WORKER = HERE / "worker.py"
ROOT = "/sandbox"
PYTHON = f"{ROOT}/python"
OS_LIBS = f"{ROOT}/os"
LIB = f"{ROOT}/lib"
WORKER_PATH = f"{ROOT}/worker.py"
VERSION_DIR = f"python{sys.version_info.major}.{sys.version_info.minor}"
# Left out of the stdlib copy: other packages by principle (site-/dist-packages, and ensurepip, whose
# bundled pip and setuptools wheels zipimport could load); the regression suite ``test`` for size (123 MB)
# and the build configuration (``config-*``: host paths, static library).
SKIP_STDLIB = {"site-packages", "dist-packages", "ensurepip", "test"}
FORMAT = 4  # bump when the layout or the rewriting changes, so stale cached trees are not reused
KEEP_UNUSED = 86400  # seconds unused after which another tree in the cache is deleted


# ----------------------------------------------------------------------------- what must not leak
def host_prefixes() -> list[tuple[str, str]]:
    """``(host path, neutral path)`` pairs, longest host path first: how host paths are rewritten."""
    site_dir = Path(np.__file__).resolve().parent.parent
    pairs = {str(site_dir): LIB}
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        for form in (prefix, os.path.realpath(prefix)):
            if form not in ("/", "/usr", "/usr/local"):
                pairs.setdefault(form, PYTHON)
    if sys.base_prefix in ("/usr", "/usr/local"):
        # The OS interpreter: its stdlib and dynload dirs are what has to be relocated.
        pairs.setdefault(str(stdlib_dir()), f"{PYTHON}/lib/{VERSION_DIR}")
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def host_strings() -> list[str]:
    """Host paths a student must never see: repository, interpreter prefixes, NumPy's site directory, home."""
    repo = HERE.parents[1]
    found = {str(repo), os.path.realpath(repo), str(Path.home())}
    found |= {host for host, _ in host_prefixes()}
    return sorted(s for s in found if s not in ("/", "/usr", "/usr/local", ""))


def stdlib_dir() -> Path:
    """The base interpreter's standard library (also from a venv)."""
    return Path(getattr(sys, "_stdlib_dir", None) or os.path.dirname(os.__file__)).resolve()


def dynload_dir() -> Path | None:
    """The directory of the standard library's extension modules."""
    for entry in sys.path:
        if entry.endswith("lib-dynload") and os.path.isdir(entry):
            return Path(entry).resolve()
    return None


def numpy_dirs() -> list[Path]:
    """NumPy's package directory and, when the wheel has one, its ``numpy.libs`` of shared libraries."""
    pkg = Path(np.__file__).resolve().parent
    return [p for p in (pkg, pkg.parent / "numpy.libs") if p.exists()]


# ----------------------------------------------------------------------------- rewriting
def _rewrite_bytes(data: bytes, pairs: list[tuple[str, str]]) -> bytes:
    """``data`` with every host prefix replaced: plainly in text, NUL-padded in binaries."""
    if b"\0" not in data:
        for host, neutral in pairs:
            data = data.replace(host.encode(), neutral.encode())
        return data
    for host, neutral in pairs:
        old = host.encode()
        if old not in data:
            continue
        new = neutral.encode() if len(neutral) <= len(old) else b"/" * len(old)

        def pad(match: re.Match, old=old, new=new) -> bytes:
            # One C string: prefix + rest + NUL becomes new + rest + NUL, then NULs up to the old length.
            return new + match.group(1) + b"\0" * (len(old) - len(new) + 1)

        data = re.sub(re.escape(old) + rb"([^\0]*)\0", pad, data)
    return data


def _relocate_code(code, pairs: list[tuple[str, str]]):
    filename = code.co_filename
    for host, neutral in pairs:
        filename = filename.replace(host, neutral)
    consts = tuple(_relocate_code(c, pairs) if hasattr(c, "co_filename") else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _rewrite_pyc(data: bytes, pairs: list[tuple[str, str]]) -> bytes | None:
    """A ``.pyc`` whose code objects name the relocated source, or ``None`` if it cannot be read."""
    try:
        code = marshal.loads(data[16:])
    except (ValueError, EOFError, TypeError):
        return None
    return data[:16] + marshal.dumps(_relocate_code(code, pairs))


def _copy_file(src: Path, dst: Path, pairs: list[tuple[str, str]], forbidden: list[bytes]) -> None:
    data = src.read_bytes()
    if any(f in data for f in forbidden):
        data = _rewrite_pyc(data, pairs) if src.suffix == ".pyc" else _rewrite_bytes(data, pairs)
        if data is None or any(f in data for f in forbidden):
            return  # NB: a file we could not clean is left out rather than leak a host path
    dst.write_bytes(data)
    os.utime(dst, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns))  # .pyc headers check the source mtime
    dst.chmod(0o755 if os.access(src, os.X_OK) else 0o644)


def _copy_tree(src: Path, dst: Path, pairs, forbidden, skip: set[str] = frozenset()) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        if entry.name in skip or entry.name.startswith("config-") or ".opt-" in entry.name:
            continue
        target = dst / entry.name
        if entry.is_symlink():
            link = os.readlink(entry)
            if not os.path.isabs(link) and ".." not in Path(link).parts:
                target.symlink_to(link)
            elif entry.is_file():
                _copy_file(entry.resolve(), target, pairs, forbidden)
        elif entry.is_dir():
            _copy_tree(entry, target, pairs, forbidden)
        elif entry.is_file():
            _copy_file(entry, target, pairs, forbidden)


# ----------------------------------------------------------------------------- shared libraries
def _ldd(paths: list[Path]) -> tuple[set[Path], Path | None]:
    """Every shared library ``paths`` load (transitively) and the ELF loader."""
    libs: set[Path] = set()
    loader = None
    ldd = shutil.which("ldd")
    if ldd is None:
        raise RuntimeError("building the sandbox needs ldd (the C library's tools)")
    for start in range(0, len(paths), 64):
        chunk = [str(p) for p in paths[start:start + 64]]
        out = subprocess.run([ldd, *chunk], capture_output=True, text=True, timeout=120).stdout
        for line in out.splitlines():
            line = line.strip()
            if "=>" in line:
                target = line.split("=>", 1)[1].strip().split(" (")[0].strip()
                if target.startswith("/"):
                    libs.add(Path(target))
            elif line.startswith("/") and " (0x" in line:
                loader = Path(line.split(" (")[0])
    return libs, loader


def loader_path() -> str:
    """Where the interpreter expects the ELF loader (its ``PT_INTERP``), bound there in the sandbox."""
    return str(_build_inputs()["loader"])


@functools.lru_cache(maxsize=1)
def _build_inputs() -> dict:
    interp = Path(sys.executable).resolve()
    elves = [interp]
    dyn = dynload_dir()
    if dyn is not None:
        elves += sorted(dyn.glob("*.so"))
    for pkg in numpy_dirs():
        elves += sorted(pkg.rglob("*.so*"))
    libs, loader = _ldd(elves)
    if loader is None:
        raise RuntimeError(f"cannot find the ELF loader of {interp} with ldd")
    return {"interp": interp, "libs": libs, "loader": loader, "dynload": dyn}


# ----------------------------------------------------------------------------- the tree
def cache_root() -> Path:
    """Where built trees are kept: ``$AUTOGRADER_RUNTIME_DIR`` or ``/var/tmp/autograder-runtime-UID``."""
    base = os.environ.get("AUTOGRADER_RUNTIME_DIR")
    if base:
        return Path(base)
    parent = Path("/var/tmp") if os.path.isdir("/var/tmp") else Path(tempfile.gettempdir())
    return parent / f"autograder-runtime-{os.geteuid()}"


def _key() -> str:
    h = hashlib.sha256(f"{FORMAT} {sys.version} {sys.executable}".encode())
    for path in (Path(sys.executable).resolve(), Path(np.__file__).resolve(), stdlib_dir() / "os.py"):
        st = path.stat()
        h.update(f"{path} {st.st_size} {st.st_mtime_ns}".encode())
    for path in (CHANNEL, WORKER, Path(__file__)):  # this builder too: a change in it means a new tree
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


def _safe_dir(path: Path) -> bool:
    # A cache another user could write to could hand the sandbox a planted interpreter.
    try:
        st = path.lstat()
    except OSError:
        return False
    return path.is_dir() and not path.is_symlink() and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def build(dest: Path) -> None:
    """Write the tree described in the module docstring into the empty directory ``dest``."""
    pairs = host_prefixes()
    forbidden = [h.encode() for h, _ in pairs]
    inputs = _build_inputs()
    py_lib = dest / "python" / "lib"
    _copy_tree(stdlib_dir(), py_lib / VERSION_DIR, pairs, forbidden, SKIP_STDLIB)
    if inputs["dynload"] is not None and not (py_lib / VERSION_DIR / "lib-dynload").exists():
        _copy_tree(inputs["dynload"], py_lib / VERSION_DIR / "lib-dynload", pairs, forbidden)
    (dest / "python" / "bin").mkdir(parents=True)
    interp = inputs["interp"]
    _copy_file(interp, dest / "python" / "bin" / interp.name, pairs, forbidden)
    (dest / "os").mkdir()
    prefixes = [Path(h) for h, _ in pairs]
    for lib in sorted(inputs["libs"]):
        if any(lib.resolve().is_relative_to(p) for p in numpy_dirs()):
            continue  # found through NumPy's own $ORIGIN run path
        own = any(lib.is_relative_to(p) for p in prefixes)
        _copy_file(lib.resolve(), (py_lib if own else dest / "os") / lib.name, pairs, forbidden)
    _copy_file(inputs["loader"].resolve(), dest / "os" / "ld.so", pairs, forbidden)
    (dest / "lib").mkdir()
    for pkg in numpy_dirs():
        _copy_tree(pkg, dest / "lib" / pkg.name, pairs, forbidden)
    _copy_file(CHANNEL, dest / "lib" / "channel.py", pairs, forbidden)
    _copy_file(WORKER, dest / "worker.py", pairs, forbidden)
    for path in [dest, *dest.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


def interpreter_name() -> str:
    """The interpreter's file name under ``/sandbox/python/bin``."""
    return _build_inputs()["interp"].name


@functools.lru_cache(maxsize=1)
def tree() -> Path:
    """The built tree for this interpreter, NumPy and worker: reused from the cache or built now (once)."""
    root = cache_root()
    with contextlib.suppress(OSError):
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
        if _safe_dir(root):
            root.chmod(0o755)  # whatever the umask: the sandbox user must reach the tree (level "rlimits")
    if not _safe_dir(root):
        # Someone else's (or a group-writable) directory: build privately, never reuse.
        root = Path(tempfile.mkdtemp(prefix="autograder-runtime-"))
        root.chmod(0o755)
        atexit.register(shutil.rmtree, root, True)
    final = root / _key()
    if not (final / ".complete").exists():
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:
            build(work)
            (work / ".complete").write_text("")
            work.chmod(0o755)
            try:
                work.rename(final)
            except OSError:
                if not (final / ".complete").exists():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if not _safe_dir(final):
        raise RuntimeError(f"the sandbox's runtime tree {final} is not owned by this user or is writable by others")
    os.utime(final)
    _prune(root, final)
    return final


def _prune(root: Path, keep: Path) -> None:
    now = time.time()
    for entry in root.iterdir():
        with contextlib.suppress(OSError):
            if entry != keep and now - entry.stat().st_mtime > KEEP_UNUSED:
                shutil.rmtree(entry, ignore_errors=True)


def bwrap_binds() -> list[str]:
    """The bubblewrap arguments that mount the tree at ``/sandbox`` and the loader where the binary wants it."""
    built = tree()
    os.utime(built)  # in use: not pruned by another grader
    parents = [str(p) for p in reversed(Path(loader_path()).parents) if str(p) != "/"]
    # NB: the loader's directories must be listed by the sandbox user too (for exec of a new interpreter).
    dirs = [a for p in parents for a in ("--perms", "0755", "--dir", p)]
    return ["--ro-bind", str(built), ROOT, *dirs, "--ro-bind", str(built / "os" / "ld.so"), loader_path()]


def command() -> list[str]:
    """The interpreter inside the sandbox: ``python -I -S -X utf8`` (no environment, no site)."""
    return [f"{PYTHON}/bin/{interpreter_name()}", "-I", "-S", "-X", "utf8"]


ENV = {"LD_LIBRARY_PATH": f"{PYTHON}/lib:{OS_LIBS}"}
