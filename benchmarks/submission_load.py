"""Submission load: N students submit M notebooks at once through the course server's API.

Prints how many were graded (each exactly once, none lost) and submissions graded per minute, beside the
baseline: ``python -m autograder grade-course`` on the same notebooks with the same number of workers, in
the same run. Usage: ``python benchmarks/submission_load.py [--students 50] [--notebooks 200] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from autograder.server import accounts, db  # noqa: E402

ASSIGNMENT = "rnn_cell"
BUGS = (('h = np.tanh(a)', 'h = a'), ('params["b_h"]', '0.0 * params["b_h"]'))


def course_copy(root: Path) -> Path:
    course = root / "course"
    shutil.copytree(REPO / "exercises" / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", course)
    shutil.copytree(course / "source" / ASSIGNMENT, course / "release" / ASSIGNMENT)  # "released"
    return course


def notebooks(course: Path, n: int) -> list[bytes]:
    """The solution and buggy variants of it, in turn (a notebook whose bug text is absent stays the solution),
    each as distinct bytes."""
    nb = json.loads((course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    variants = [json.dumps(nb)]
    for old, new in BUGS:
        edited = json.loads(variants[0])
        for cell in edited["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["metadata"].get("nbgrader", {}).get("solution") and old in source:
                cell["source"] = source.replace(old, new, 1)
                break
        variants.append(json.dumps(edited))
    # NB: each one different bytes (trailing spaces): the server takes the same bytes from the same student again
    # within a minute for one submission (a double click), and 200 notebooks over 50 students repeat variants.
    return [variants[k % len(variants)].encode() + b" " * k for k in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, token: str, data: bytes) -> int:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"notebook\"; filename=\"{ASSIGNMENT}.ipynb\"\r\n"
            "\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/assignments/{ASSIGNMENT}/submissions",
                                     data=body, method="POST", headers={
                                         "Authorization": f"Bearer {token}",
                                         "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 202
        return json.loads(response.read())["id"]


def through_the_server(course: Path, books: list[bytes], students: int, workers: int) -> dict:
    engine = db.connect(db.default_url(course))
    tokens = [accounts.add_user(engine, f"student{k:03d}", "student")[1] for k in range(students)]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "BOKEH_LOG_LEVEL": "warn"}
    proc = subprocess.Popen([sys.executable, str(REPO / "serve.py"), "--course", str(course), "--port", str(port),
                             "--grading-workers", str(workers)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=2)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.3)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=students) as pool:  # every student at once
            ids = list(pool.map(lambda k: post(port, tokens[k % students], books[k]), range(len(books))))
        submitted = time.perf_counter() - start
        while True:
            with engine.connect() as conn:
                pending = conn.execute(sa.select(sa.func.count()).select_from(db.submissions).where(
                    db.submissions.c.status.in_(("queued", "running")))).scalar_one()
            if not pending:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.results.c.submission_id, db.results.c.score, db.results.c.max_score)).all()
        results = [r.submission_id for r in rows]
        scores = sorted({(r.score, r.max_score) for r in rows})
        graded = conn.execute(sa.select(sa.func.count()).select_from(db.submissions).where(
            db.submissions.c.status == "graded")).scalar_one()
    return {"ids": ids, "results": results, "graded": graded, "seconds": elapsed, "submit_seconds": submitted,
            "scores": scores}


def grade_course_baseline(root: Path, books: list[bytes], workers: int) -> float:
    course = course_copy(root / "baseline")
    for k, data in enumerate(books):
        folder = course / "submitted" / f"student{k:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_bytes(data)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade-course", str(course), "--assignment", ASSIGNMENT,
                    "--workers", str(workers), "--no-progress"], cwd=REPO, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--notebooks", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="grading processes on both sides")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="submission-load-") as tmp:
        root = Path(tmp)
        course = course_copy(root / "server")
        books = notebooks(course, args.notebooks)
        server = through_the_server(course, books, args.students, args.workers)
        baseline = grade_course_baseline(root, books, args.workers)
    once = sorted(server["results"]) == sorted(server["ids"]) and len(set(server["results"])) == len(server["ids"])
    per_minute = 60 * len(books) / server["seconds"]
    base_per_minute = 60 * len(books) / baseline
    print(f"{args.students} students, {len(books)} notebooks at once, {args.workers} grading workers each side")
    print(f"accepted by the API in {server['submit_seconds']:.1f} s; graded {server['graded']} of {len(books)}; "
          f"every submission recorded exactly once: {once}")
    print("scores seen (the solution and each bug variant): " + ", ".join(f"{s:g}/{m:g}" for s, m in server["scores"]))
    print(f"{'':24}{'seconds':>10}{'per minute':>12}")
    print(f"{'course server (API)':24}{server['seconds']:10.1f}{per_minute:12.1f}")
    print(f"{'grade-course (baseline)':24}{baseline:10.1f}{base_per_minute:12.1f}")
    print(f"server / grade-course throughput: {per_minute / base_per_minute:.2f}")
    if not once or server["graded"] != len(books):
        sys.exit(1)


if __name__ == "__main__":
    main()
