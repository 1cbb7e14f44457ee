"""Read a submission's files without following links: the grader opens only regular files it verified.

Principle (DESIGN.md, invariant 9: a refused file type): every directory of a submission is opened with
``O_DIRECTORY | O_NOFOLLOW`` relative to its already-opened parent, every file with ``O_NOFOLLOW |
O_NONBLOCK`` and then checked with ``fstat`` on the open descriptor: a symbolic link, a FIFO, a socket,
a device, or a regular file with more than one name (a hard link) anywhere in the submission refuses the
whole submission, with a message naming the file. What was read is kept in memory; the grader grades a
private copy of those bytes and never opens the submission's path again.

A submission collected from an nbgrader exchange is also compared with the student's folders in the
exchange's ``inbound``: ``nbgrader collect`` copies with ``shutil.copytree``, which *follows* links, so a
link the student planted in the inbound arrives in ``submitted/`` as a regular file holding whatever the
link pointed to (the instructor's source notebook, say). The collected files must equal, byte for byte,
the files of one of the student's inbound folders that is itself free of links and special files (a
link swapped back for a regular file after collect no longer matches: the student cannot write the
bytes the link pointed to).

Not covered: ``nbgrader collect`` itself still follows links while copying (a link to ``/dev/zero`` in
the inbound makes collect fill the disk before the grader ever runs); a student who deletes their own
inbound folder after collect is refused (there is nothing left to verify against). The notebook and the
two metadata files are kept in memory (at most :data:`MAX_KEPT` bytes each); every other file is only
hashed (SHA-256, at most :data:`MAX_FILE` bytes each, :data:`MAX_TOTAL` per folder), to compare with the
inbound copy.

Hard links: a hard link is the file itself under a second name, so nothing but ``st_nlink > 1`` tells
it apart; ``nbgrader submit`` and ``collect`` copy every file, so a genuine submission's files have one
name each, and a file with several is refused wherever the other name lives (inside the course or not).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_KEPT = 64 * 2**20
MAX_FILE = 2**30
MAX_TOTAL = 4 * 2**30
METADATA = ("timestamp.txt", "submission_secret.txt")
MAX_ENTRIES = 2000
MAX_DEPTH = 16
STUDENT_ID = re.compile(r"[\w.@-]+")
SECRET = re.compile(r"[0-9a-fA-F]{16,512}")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


class SubmissionFileError(ValueError):
    r"""A submission holds something the grader refuses to open; the message names the file.

    File names are the student's choice: control characters in them are shown escaped (as ``\x1b``), so a
    message cannot drive the terminal it is printed on.
    """

    def __init__(self, message: str):
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(label: str, what: str) -> SubmissionFileError:
    return SubmissionFileError(f"{label} is {what}; a submission may hold only regular files and folders "
                               "(no links, pipes or devices), so it was not graded")


def _open_dir(name: str, parent_fd: int | None, label: str) -> int:
    """Open the directory ``name`` (relative to ``parent_fd``) without following a link."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            try:
                mode = os.lstat(name, dir_fd=parent_fd).st_mode
            except OSError:
                mode = 0
            raise _refuse(label, _kind(mode) if mode else "not a folder") from None
        if exc.errno == errno.ENOENT:
            raise SubmissionFileError(f"{label} does not exist") from None
        raise SubmissionFileError(f"cannot open {label}: {exc.strerror}") from None


def open_folder(root: Path | str, parts: tuple[str, ...], label_root: str = "") -> int:
    """A descriptor of ``root/parts[0]/parts[1]/...``, each part opened as a real folder, never through a link.

    ``root`` itself is the caller's (the course directory, resolved); the parts below it are checked.
    """
    fd = os.open(str(root), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    label = label_root
    try:
        for part in parts:
            label = f"{label}/{part}" if label else part
            child = _open_dir(part, fd, label)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_fd(fd: int, label: str, limit: int, keep: bool = True) -> tuple[bytes, str, int]:
    """(bytes if ``keep`` else b"", SHA-256, size) of the open ``fd``, refused unless a one-name regular file."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(label, _kind(info.st_mode))
    if info.st_nlink != 1:
        raise _refuse(label, f"a hard link (the same file has {info.st_nlink} names)")
    if info.st_size > limit:
        raise SubmissionFileError(f"{label} is {info.st_size} bytes, more than the {limit} the grader reads")
    chunks, size, digest = [], 0, hashlib.sha256()
    while chunk := os.read(fd, 1 << 20):
        size += len(chunk)
        if size > limit:
            raise SubmissionFileError(f"{label} is more than the {limit} bytes the grader reads")
        digest.update(chunk)
        if keep:
            chunks.append(chunk)
    return b"".join(chunks), digest.hexdigest(), size


def _open_file(dir_fd: int | None, name: str, label: str) -> int:
    try:
        return os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise _refuse(label, "a symbolic link") from None
        if exc.errno == errno.ENOENT:
            raise SubmissionFileError(f"{label} does not exist") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):
            mode = os.lstat(name, dir_fd=dir_fd).st_mode
            raise _refuse(label, _kind(mode)) from None
        raise SubmissionFileError(f"cannot open {label}: {exc.strerror}") from None


def read_file_at(dir_fd: int | None, name: str, label: str, limit: int = MAX_KEPT) -> bytes:
    """The bytes of the regular file ``name`` in ``dir_fd``, opened without following a link."""
    fd = _open_file(dir_fd, name, label)
    try:
        return _read_fd(fd, label, limit)[0]
    finally:
        os.close(fd)


def read_regular(path: Path | str, limit: int = MAX_KEPT) -> bytes:
    """The bytes of ``path`` if it is a regular file with one name; its last component is not followed."""
    path = Path(path)
    try:
        parent = os.open(str(path.parent), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SubmissionFileError(f"cannot read {path.name}: {exc.strerror} ({path.parent})") from None
    try:
        return read_file_at(parent, path.name, path.name, limit)
    finally:
        os.close(parent)


def read_tree(dir_fd: int, label: str, keep=lambda rel: True) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every file under the open folder ``dir_fd``, refusing anything not a one-name regular file.

    Returns ``({relative path: bytes} for the paths ``keep`` accepts, {relative path: SHA-256} for all)``.
    """
    files: dict[str, bytes] = {}
    digests: dict[str, str] = {}
    budget = {"entries": 0, "bytes": 0}

    def walk(fd: int, prefix: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise SubmissionFileError(f"{label}/{prefix} is nested more than {MAX_DEPTH} folders deep")
        for name in sorted(os.listdir(fd)):
            budget["entries"] += 1
            if budget["entries"] > MAX_ENTRIES:
                raise SubmissionFileError(f"{label} holds more than {MAX_ENTRIES} files and folders")
            rel = f"{prefix}{name}"
            mode = os.lstat(name, dir_fd=fd).st_mode
            if stat.S_ISDIR(mode):
                child = _open_dir(name, fd, f"{label}/{rel}")
                try:
                    walk(child, rel + "/", depth + 1)
                finally:
                    os.close(child)
            elif stat.S_ISREG(mode):
                kept = keep(rel)
                ffd = _open_file(fd, name, f"{label}/{rel}")
                try:
                    data, digests[rel], size = _read_fd(ffd, f"{label}/{rel}", MAX_KEPT if kept else MAX_FILE, kept)
                finally:
                    os.close(ffd)
                budget["bytes"] += size
                if budget["bytes"] > MAX_TOTAL:
                    raise SubmissionFileError(f"{label} holds more than {MAX_TOTAL} bytes")
                if kept:
                    files[rel] = data
            else:
                raise _refuse(f"{label}/{rel}", _kind(mode))

    walk(dir_fd, "", 0)
    return files, digests


@dataclass
class Submission:
    """One student's submitted files, read and verified; nothing here was read through a link."""

    student: str
    assignment: str
    files: dict[str, bytes] = field(default_factory=dict)  # the notebook(s) and the metadata files
    digests: dict[str, str] = field(default_factory=dict)  # SHA-256 of every file, kept or not

    def text(self, name: str) -> str | None:
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8", errors="replace")

    @property
    def timestamp(self) -> str | None:
        """The content of ``timestamp.txt`` (checked by :func:`read_submission`), or None."""
        text = self.text("timestamp.txt")
        return text.strip() if text and text.strip() else None

    @property
    def secret(self) -> str | None:
        """The content of ``submission_secret.txt`` (hex, checked), or None when it did not come by an exchange."""
        text = self.text("submission_secret.txt")
        return text.strip() if text is not None else None


def check_student_id(student: str) -> None:
    """Student ids reach file names, the gradebook and the feedback page: letters, digits, ``. _ - @`` only."""
    if not STUDENT_ID.fullmatch(student) or student.startswith("."):
        raise SubmissionFileError(f"student id {student!r} holds characters other than letters, digits, '.', "
                                  "'_', '-' and '@' (or starts with '.'), so it was not graded")


def _check_metadata(sub: Submission, label: str) -> None:
    from nbgrader.utils import parse_utc

    if "timestamp.txt" in sub.files:
        text = sub.files["timestamp.txt"]
        try:
            value = text.decode("ascii").strip()
            if len(value) > 64:
                raise ValueError("too long")
            if value:
                parse_utc(value)
        except (ValueError, OverflowError, UnicodeDecodeError):
            raise SubmissionFileError(f"{label}/timestamp.txt does not hold a timestamp (expected e.g. "
                                      "'2026-11-26 12:00:00.000000 UTC')") from None
    if "submission_secret.txt" in sub.files:
        text = sub.files["submission_secret.txt"].decode("ascii", errors="replace").strip()
        if not SECRET.fullmatch(text):
            raise SubmissionFileError(f"{label}/submission_secret.txt does not hold the hexadecimal secret "
                                      "nbgrader submit writes")


def read_submission(course: Path | str, student: str, assignment: str, notebook: str | None = None) -> Submission:
    """Read ``course/submitted/<student>/<assignment>/`` without following any link, and check it.

    Keeps the bytes of ``notebook`` (default: every top-level ``.ipynb``) and of the metadata files;
    every other file is verified and hashed only. Raises :class:`SubmissionFileError` naming the first
    file refused: a link or special file anywhere (the student's and the assignment's folders
    included), a hard link, an oversized file, a malformed ``timestamp.txt`` or
    ``submission_secret.txt``, or a student id outside the safe alphabet.
    """
    check_student_id(student)
    label = f"submitted/{student}/{assignment}"

    def keep(rel: str) -> bool:
        return rel in METADATA or (rel == notebook if notebook else "/" not in rel and rel.endswith(".ipynb"))

    fd = open_folder(Path(course) / "submitted", (student, assignment), "submitted")
    try:
        sub = Submission(student, assignment, *read_tree(fd, label, keep))
    finally:
        os.close(fd)
    _check_metadata(sub, label)
    return sub


def list_students(course: Path | str, assignment: str) -> list[str]:
    """Every ``submitted/<student>/`` with an entry ``<assignment>`` of any type (links included, to be refused).

    Names starting with ``.`` are skipped, as nbgrader's own glob does.
    """
    folder = Path(course) / "submitted"
    if not folder.is_dir():
        return []
    students = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                students.append(entry.name)
            elif entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.lstat(Path(entry.path) / assignment)
                    students.append(entry.name)
    return sorted(students)


def inbound_folder(exchange: Path | str, course_id: str) -> Path:
    """``<exchange>/<course_id>/inbound``, where ``nbgrader submit`` puts submissions."""
    return Path(exchange) / course_id / "inbound"


def check_against_inbound(sub: Submission, inbound: Path | str) -> None:
    """Is the collected submission a faithful copy of one of the student's inbound folders, free of links?

    Some ``<student>+<assignment>+*`` entry of ``inbound`` must be a real folder of one-name regular
    files whose files include every collected one (``sub.digests``, SHA-256) with the same content
    (collect may leave some out: its ignore list and size limit). Folders with links are not matches;
    they refuse the submission only when no clean folder matches (the message names the first link), so
    a folder another student planted under this student's name cannot get a faithful copy refused.
    """
    inbound = Path(inbound)
    prefix = f"{sub.student}+{sub.assignment}+"
    names = sorted(n for n in os.listdir(inbound) if n.startswith(prefix))
    if not names:
        raise SubmissionFileError(f"submitted/{sub.student}/{sub.assignment} came from an exchange but the "
                                  f"exchange's inbound holds no {prefix}* folder to check it against")
    first_error: SubmissionFileError | None = None
    for name in names:
        try:
            fd = open_folder(inbound, (name,), "inbound")
            try:
                _, digests = read_tree(fd, f"inbound/{name}", keep=lambda rel: False)
            finally:
                os.close(fd)
        except SubmissionFileError as exc:
            first_error = first_error or exc
            continue
        if all(digests.get(rel) == digest for rel, digest in sub.digests.items()):
            return
    if first_error is not None:
        raise first_error
    raise SubmissionFileError(f"submitted/{sub.student}/{sub.assignment} differs from every {prefix}* folder "
                              "in the exchange's inbound (was a file of it a link when it was collected?), so "
                              "it was not graded")


def read_metadata(course: Path | str, student: str, assignment: str) -> Submission:
    """Only ``timestamp.txt`` and ``submission_secret.txt``, each read without links and checked alone.

    For a refused submission: with both, its page of reasons can still be released to the student (and
    ``release_feedback``, which needs both for every page, still works for the others). Missing or
    refused files are left out.
    """
    sub = Submission(student, assignment)
    label = f"submitted/{student}/{assignment}"
    try:
        check_student_id(student)
        fd = open_folder(Path(course) / "submitted", (student, assignment), "submitted")
    except SubmissionFileError:
        return sub
    try:
        for name in ("timestamp.txt", "submission_secret.txt"):
            with contextlib.suppress(SubmissionFileError):
                one = Submission(student, assignment, {name: read_file_at(fd, name, f"{label}/{name}", 4096)})
                _check_metadata(one, label)
                sub.files.update(one.files)
    finally:
        os.close(fd)
    return sub


SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION", re.M | re.S)


def _normal(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def solution_regions(sources: list[str]) -> list[str]:
    """The instructor's solution regions, nbgrader's markers included, each line stripped.

    The release replaces every one of them by a stub, so no student receives them.
    """
    return [_normal(m.group(0)) for text in sources for m in SOLUTION_REGION.finditer(text)]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ["".join(value)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def check_provenance(label: str, data: bytes, regions: list[str]) -> None:
    """Refuse a notebook that is the instructor's source: it holds every solution region, markers included.

    Principle (DESIGN.md, invariant 8): the release replaces each solution region (with its ``### BEGIN
    SOLUTION`` / ``### END SOLUTION`` markers) by a stub, so a notebook holding all of them verbatim came
    from the instructor's side, whatever route brought it (a link or hard link collect followed, a copied
    file). Requiring all of them keeps a student who types the markers around an answer safe. Not
    covered: a partial copy, or a source without solution regions.
    """
    if not regions:
        return
    try:
        import json

        texts = _strings(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return  # not a notebook: grading reports that
    body = "\n".join(_normal(t) for t in texts)
    if all(region in body for region in regions):
        raise SubmissionFileError(f"{label} is a copy of the instructor's source notebook (it holds every "
                                  "solution with nbgrader's markers, which the release removes; was it a link?), "
                                  "so it was not graded")
