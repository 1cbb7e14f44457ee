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
