"""A large roster: 2,000 students imported in one command, one transaction, each with a token and a set-up code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.server import accounts, db
from tests.autograder.server import http


def test_a_roster_of_two_thousand_is_imported_once_and_kept_on_import_again(tmp_path):
    """Are 2,000 rows (and a duplicate line) 2,000 accounts with distinct tokens; is a second import a no-op?"""
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    roster = tmp_path / "roster.csv"
    lines = ["name,role", *(f"student{k:04d},student" for k in range(2000)), "student0007,student", "prof,instructor"]
    roster.write_text("\n".join(lines) + "\n")

    def users_import():
        return subprocess.run([sys.executable, "-m", "autograder", "users", "--course", str(course), "import",
                               str(roster)], cwd=http.REPO, env=http.env(), capture_output=True, text=True,
                              timeout=300)

    first = users_import()
    assert first.returncode == 0, first.stderr
    made = [line for line in first.stdout.splitlines() if "\ttoken: " in line]
    assert len(made) == 2001
    tokens = {line.split("token: ")[1].split("\t")[0] for line in made}
    assert len(tokens) == 2001
    engine = db.connect(db.default_url(course))
    some = next(line for line in made if line.startswith("student1234\t"))
    assert accounts.by_token(engine, some.split("token: ")[1].split("\t")[0]).name == "student1234"
    assert {u.role for u in accounts.list_users(engine) if u.name == "prof"} == {"instructor"}
    again = users_import()
    assert again.returncode == 0 and again.stdout.count("exists, kept") == 2001 and "token:" not in again.stdout
    assert len(accounts.list_users(engine)) == 2001
    engine.dispose()


def test_a_bad_row_anywhere_stores_nothing(tmp_path):
    """Is a roster with one bad name refused whole, naming its line (no half-imported class)?"""
    engine = db.connect(db.default_url(tmp_path))
    roster = tmp_path / "roster.csv"
    roster.write_text("".join(f"s{k},student\n" for k in range(500)) + "=cmd|' /C calc'!A0,student\n")
    with pytest.raises(accounts.AccountError, match="line 501"):
        accounts.add_users(engine, accounts.read_roster_csv(roster))
    with pytest.raises(accounts.AccountError, match="role 'teacher'"):
        accounts.add_users(engine, [("ok1", "student"), ("ok2", "teacher")])
    assert accounts.list_users(engine) == []
