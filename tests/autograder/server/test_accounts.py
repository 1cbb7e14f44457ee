import pytest
import sqlalchemy as sa

from autograder.server import accounts, db


@pytest.fixture
def engine(tmp_path):
    return db.connect(f"sqlite:///{tmp_path / 'server.db'}")


def test_passwords_are_salted_hashes_and_verify_in_constant_form(engine):
    """Are two hashes of one password different, and does only the right password verify?"""
    a, b = accounts.hash_password("correct horse"), accounts.hash_password("correct horse")
    assert a != b and "correct horse" not in a
    assert accounts.verify_password("correct horse", a)
    assert not accounts.verify_password("correct hors", a)
    for broken in ("", None, "md5$x", "scrypt$1$2$3$zz$yy", "scrypt$a$b$c$d$e"):
        assert not accounts.verify_password("x", broken)


def test_tokens_and_setup_codes_are_stored_only_as_digests(engine):
    """Could someone with a copy of the database sign in? (no secret is stored in clear)"""
    user, token, code = accounts.add_user(engine, "ada", "student")
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.users)).first()
    assert token not in str(tuple(row)) and code not in str(tuple(row))
    assert accounts.by_token(engine, token) == user
    assert accounts.by_token(engine, token + "x") is None and accounts.by_token(engine, "") is None


def test_a_setup_code_sets_the_password_once(engine):
    """Does the one-time set-up code work once, and is a short password refused?"""
    _, _, code = accounts.add_user(engine, "ada", "student")
    assert accounts.authenticate(engine, "ada", "anything!") is None  # no password yet
    with pytest.raises(accounts.AccountError, match="at least 8"):
        accounts.set_password_with_code(engine, "ada", code, "short")
    accounts.set_password_with_code(engine, "ada", code, "a long password")
    assert accounts.authenticate(engine, "ada", "a long password").name == "ada"
    assert accounts.authenticate(engine, "ada", "wrong password") is None
    assert accounts.authenticate(engine, "nobody", "a long password") is None
    with pytest.raises(accounts.AccountError, match="not valid"):
        accounts.set_password_with_code(engine, "ada", code, "another password")


def test_an_expired_setup_code_is_refused(engine):
    _, _, code = accounts.add_user(engine, "ada", "student")
    with engine.begin() as conn:
        conn.execute(db.users.update().values(setup_expires=db.now() - 1))
    with pytest.raises(accounts.AccountError, match="expired"):
        accounts.set_password_with_code(engine, "ada", code, "a long password")


@pytest.mark.parametrize("name", ["", " ada", "a" * 65, "<script>", "ada;drop", "../x", "é"])
def test_bad_names_are_refused_with_the_rule(engine, name):
    with pytest.raises(accounts.AccountError, match="expected 1-64"):
        accounts.add_user(engine, name, "student")


def test_roles_and_duplicates_are_checked(engine):
    with pytest.raises(accounts.AccountError, match="expected one of student, instructor"):
        accounts.add_user(engine, "ada", "admin")
    accounts.add_user(engine, "ada", "student")
    with pytest.raises(accounts.AccountError, match="exists"):
        accounts.add_user(engine, "ada", "instructor")


def test_roster_csv_names_the_bad_line(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("name,role\nada,student\nprof,instructor\nbo\n")
    assert accounts.read_roster_csv(good) == [("ada", "student"), ("prof", "instructor"), ("bo", "student")]
    bad = tmp_path / "bad.csv"
    bad.write_text("ada,student\nbo,teacher\n")
    with pytest.raises(accounts.AccountError, match="bad.csv, line 2"):
        accounts.read_roster_csv(bad)


def test_a_user_with_submissions_is_kept(engine):
    user, _, _ = accounts.add_user(engine, "ada", "student")
    with engine.begin() as conn:
        conn.execute(db.submissions.insert().values(user_id=user.id, assignment="a", filename="a.ipynb",
                                                    notebook=b"{}", created=db.now(), status="queued"))
    with pytest.raises(accounts.AccountError, match="has submissions"):
        accounts.remove_user(engine, "ada")
    accounts.add_user(engine, "bo", "student")
    accounts.remove_user(engine, "bo")
    assert [u.name for u in accounts.list_users(engine)] == ["ada"]
