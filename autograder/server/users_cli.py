"""``python -m autograder users add|list|remove|import|invite|token``: manage the course server's accounts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

from autograder.server import accounts, db

DEFAULT_COURSE = Path(__file__).resolve().parents[2] / "exercises"
DEFAULT_BASE_URL = "http://127.0.0.1:5006"  # serve.py's default address


def setup_link(base_url: str, name: str, code: str) -> str:
    """The address to send a user: the server's set-up page with their name and one-time code (URL-encoded)."""
    return f"{base_url.rstrip('/')}/course/setup?{urlencode({'user': name, 'code': code})}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder users", description=__doc__)
    parser.add_argument("--course", type=Path, default=DEFAULT_COURSE, help="course directory (default: exercises/)")
    parser.add_argument("--db-url", default=None, help="server database (default: SQLite in the course directory)")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL,
                        help=f"the server's address for students, in set-up links (default {DEFAULT_BASE_URL})")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="create an account and print its API token and one-time set-up code")
    add.add_argument("name")
    add.add_argument("--role", choices=accounts.ROLES, default="student")
    sub.add_parser("list", help="list accounts")
    remove = sub.add_parser("remove", help="delete an account without submissions")
    remove.add_argument("name")
    imp = sub.add_parser("import", help="create accounts from a CSV (name,role) or from nbgrader's gradebook")
    imp.add_argument("csv", nargs="?", type=Path)
    imp.add_argument("--gradebook", action="store_true", help="the gradebook's students")
    invite = sub.add_parser("invite", help="a new one-time set-up code (invitation or password reset)")
    invite.add_argument("name")
    token = sub.add_parser("token", help="a new API token (the old one stops working at once: a leaked token)")
    token.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.base_url.startswith(("http://", "https://")) or any(c.isspace() for c in args.base_url):
        parser.error(f"--base-url: got {args.base_url[:80]!r}; expected the server's address, e.g. "
                     "https://rnn.example.edu or http://127.0.0.1:5006")
    try:
        engine = db.connect(args.db_url or db.default_url(args.course))
        if args.action == "add":
            user, token, code = accounts.add_user(engine, args.name, args.role)
            print(f"{user.name} ({user.role})\ntoken: {token}\nset-up code: {code} "
                  f"(send this link: {setup_link(args.base_url, user.name, code)})")
        elif args.action == "list":
            for user in accounts.list_users(engine):
                print(f"{user.name}\t{user.role}")
        elif args.action == "remove":
            accounts.remove_user(engine, args.name)
            print(f"removed {args.name}")
        elif args.action == "invite":
            code = accounts.new_setup_code(engine, args.name)
            print(f"set-up code for {args.name}: {code} (send this link: {setup_link(args.base_url, args.name, code)})")
        elif args.action == "token":
            print(f"new token for {args.name} (the old one no longer works): {accounts.new_token(engine, args.name)}")
        else:
            if bool(args.csv) == bool(args.gradebook):
                raise accounts.AccountError("give a CSV file or --gradebook (one of them)")
            rows = accounts.read_roster_csv(args.csv) if args.csv else accounts.roster_from_gradebook(args.course)
            created, kept = accounts.add_users(engine, rows)
            source = f"{args.csv}" if args.csv else f"the gradebook of {args.course}"
            if not rows:
                raise accounts.AccountError(
                    f"{source} names no one: expected " + ("one name,role per line (role: student or instructor)"
                    if args.csv else "students added with `nbgrader db student add NAME` (or give a roster CSV)"))
            for name in kept:
                print(f"{name}: exists, kept")
            for user, token, code in created:
                print(f"{user.name}\t{user.role}\ttoken: {token}\tset-up link: "
                      f"{setup_link(args.base_url, user.name, code)}")
            print(f"{len(created)} account(s) created, {len(kept)} kept from {source}"
                  + ("; send each new user their set-up link" if created else ""))
    except (accounts.AccountError, db.DatabaseError, OSError) as exc:
        print(f"autograder users: {exc}", file=sys.stderr)
        return 2
    return 0
