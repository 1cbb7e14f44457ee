"""Does ``python -m autograder users`` print set-up links an instructor can send as they are?"""

from urllib.parse import parse_qs, urlsplit

from autograder.server import users_cli


def test_add_and_invite_print_a_whole_link_with_the_servers_address(tmp_path, capsys):
    (tmp_path / "source").mkdir()
    assert users_cli.main(["--course", str(tmp_path), "--base-url", "https://rnn.example.edu/", "add",
                           "ada.lovelace@uni", "--role", "student"]) == 0
    out = capsys.readouterr().out
    link = out.split("send this link: ")[1].rstrip(")\n")
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "rnn.example.edu", "/course/setup")
    assert query["user"] == ["ada.lovelace@uni"] and query["code"][0] in out.split("set-up code: ")[1]
    assert users_cli.main(["--course", str(tmp_path), "invite", "ada.lovelace@uni"]) == 0
    again = capsys.readouterr().out.split("send this link: ")[1].rstrip(")\n")
    assert again.startswith(users_cli.DEFAULT_BASE_URL + "/course/setup?user=ada.lovelace%40uni&code=")
    assert parse_qs(urlsplit(again).query)["code"] != query["code"]  # a new one-time code


def test_a_base_url_that_is_not_an_address_is_refused_naming_it(tmp_path, capsys):
    import pytest

    for bad in ("rnn.example.edu", "ftp://x", "http://a b"):
        with pytest.raises(SystemExit) as exit_:
            users_cli.main(["--course", str(tmp_path), "--base-url", bad, "list"])
        assert exit_.value.code == 2 and "--base-url: got" in capsys.readouterr().err


def test_a_leaked_token_is_ended_by_a_new_one(tmp_path, capsys):
    """Does ``users token NAME`` make the old token name nobody, the new one the same account, and nothing else?"""
    from autograder.server import accounts, db

    (tmp_path / "source").mkdir()
    assert users_cli.main(["--course", str(tmp_path), "add", "ada", "--role", "student"]) == 0
    old = capsys.readouterr().out.split("token: ")[1].split()[0]
    engine = db.connect(db.default_url(tmp_path))
    ada = accounts.by_token(engine, old)
    assert ada is not None and ada.name == "ada"
    session = accounts.session_value(engine, "ada")
    assert users_cli.main(["--course", str(tmp_path), "token", "ada"]) == 0
    new = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    assert new != old and accounts.by_token(engine, old) is None and accounts.by_token(engine, new) == ada
    assert accounts.session_user(engine, session) == ada  # the browser session is not the token's business
    assert users_cli.main(["--course", str(tmp_path), "token", "nobody"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err


def test_import_prints_each_new_users_link_and_says_when_the_roster_names_no_one(tmp_path, capsys):
    """A roster import gives the instructor links to send (not bare codes); an empty roster is refused, naming the
    file and what it should hold, instead of printing nothing."""
    (tmp_path / "source").mkdir()
    roster = tmp_path / "roster.csv"
    roster.write_text("name,role\nada,student\nprof,instructor\n")
    assert users_cli.main(["--course", str(tmp_path), "--base-url", "https://rnn.example.edu", "import",
                           str(roster)]) == 0
    out = capsys.readouterr().out
    links = [line.split("set-up link: ")[1] for line in out.splitlines() if "set-up link: " in line]
    assert [parse_qs(urlsplit(link).query)["user"] for link in links] == [["ada"], ["prof"]]
    assert all(link.startswith("https://rnn.example.edu/course/setup?") for link in links)
    assert "2 account(s) created, 0 kept" in out
    empty = tmp_path / "empty.csv"
    empty.write_text("name,role\n")
    assert users_cli.main(["--course", str(tmp_path), "import", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "empty.csv names no one" in err and "name,role per line" in err
