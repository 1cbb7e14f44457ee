import gc

import pytest

import serve
from simulator.app.layout import framed, nav_bar
from simulator.app.pages import home


def test_routes_serve_home_cell_and_architectures():
    routes = serve.routes()
    for path in ("/", "/cell", "/architectures"):
        assert path in routes and callable(routes[path])


def test_nav_bar_marks_the_current_page_for_screen_readers():
    html = nav_bar("cell").object
    assert html.count('aria-current="page"') == 1
    assert '<a href="/cell" aria-current="page"' in html and '<a href="/architectures"' in html


def test_home_links_every_page_and_framed_puts_the_nav_first():
    page = framed("", home.create())
    assert "rnn-nav" in page.objects[0].object
    body = page.objects[1].object
    assert 'href="/cell"' in body and 'href="/architectures"' in body and "Step" in body


class FakeServer:
    """What pn.serve(start=False) returns, without a socket: records the callbacks and the start."""

    def __init__(self):
        self.callbacks, self.started = [], False
        self.io_loop = self

    def add_callback(self, fn):
        self.callbacks.append(fn)

    def start(self):
        self.started = True


def _serve(argv):
    seen, server = {}, FakeServer()

    def fake(routes, **kw):
        from bokeh.server import urls

        seen.update(kw, routes=routes, frozen=gc.get_freeze_count(),
                    handlers=[handler for _, handler, *_ in urls.per_app_patterns])
        return server

    serve.pn.serve, original = fake, serve.pn.serve
    try:
        serve.main(argv)
    finally:
        serve.pn.serve = original
        serve.context.HANDLE = None  # no course server leaks into the other tests of this process
        gc.unfreeze()  # main froze the start-up heap, as before a fork: not this test process's
    return seen, server


def test_serve_parses_the_documented_options(tmp_path):
    from tests.autograder.server.conftest import released_course

    course = released_course(tmp_path / "course")
    seen, server = _serve(["--port", "5099", "--num-procs", "2", "--allow-websocket-origin", "example.org:80",
                           "--course", str(course)])
    assert seen["port"] == 5099 and seen["num_procs"] == 2 and seen["websocket_origin"] == ["example.org:80"]
    assert seen["address"] == "127.0.0.1" and seen["start"] is False and server.started
    # The course server: its API, its sign-in, its pages, and one course server per process after the fork.
    assert any(pattern.startswith("/api/v1/") for pattern, *_ in seen["extra_patterns"])
    assert seen["auth_provider"].login_url == "/login" and seen["cookie_secret"]
    assert {"/course", "/course/feedback", "/course/dashboard", "/cell"} <= set(seen["routes"])
    assert len(server.callbacks) == 1


def test_serve_builds_sessions_once_and_freezes_the_start_up_heap_before_forking():
    """Before pn.serve (which forks): the page handler that builds nothing on a GET, and a frozen heap."""
    from simulator.app.pagehtml import PageHandler

    seen, _ = _serve(["--no-course", "--num-procs", "2"])
    assert PageHandler in seen["handlers"] and seen["frozen"] > 0


def test_serve_without_a_course_serves_the_pages_only():
    seen, server = _serve(["--no-course"])
    assert seen["extra_patterns"] == [] and "auth_provider" not in seen and "/course" not in seen["routes"]
    assert "/cell" in seen["routes"] and server.callbacks == []


@pytest.mark.parametrize("variable, raw", [("RNN_JOIN_SHARE", "1.5"), ("RNN_GC_THAW_EVERY", "0"),
                                           ("RNN_BOKEH_DEFAULTS", "yes"), ("RNN_BUILD_YIELD_MS", "-1"),
                                           ("RNN_BUILD_YIELD_MS", "fast"), ("RNN_PATCH_BATCH", "on"),
                                           ("RNN_WS_CORK", "2")])
def test_bad_serving_settings_in_the_environment_are_refused_in_one_line(monkeypatch, capsys, variable, raw):
    monkeypatch.setenv(variable, raw)
    with pytest.raises(SystemExit):
        _serve(["--no-course"])
    err = capsys.readouterr().err
    assert f"{variable}: got {raw!r}" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["--course", "/nonexistent/course"], "expected an nbgrader course directory"),
    (["--db-url", "nosuchdb://x/y"], "database URL"),
    (["--db-url", "postgresql+nosuchdriver://u@h/d"], "database URL"),
])
def test_bad_course_options_are_refused_in_one_line(argv, words, capsys):
    with pytest.raises(SystemExit):
        _serve(argv)
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("taken", ["port in use", "address not here"])
def test_a_port_it_cannot_listen_on_is_refused_in_one_line(taken, capsys):
    """The real pn.serve, on a port this test holds or an address no interface has: exit 2 and one line naming
    the address and port and what to pass instead, not an OSError traceback."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        address = "127.0.0.1" if taken == "port in use" else "192.0.2.1"  # TEST-NET-1: on no interface here
        try:
            with pytest.raises(SystemExit) as exit_:
                serve.main(["--no-course", "--port", str(port), "--address", address])
        finally:
            serve.context.HANDLE = None
            gc.unfreeze()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert f"cannot listen on {address}:{port}" in err and "--port" in err


def test_locked_updates_run_now_outside_a_server_session():
    from simulator.app.components.doclock import holds_lock, locked

    calls = []
    locked(lambda x: calls.append(x))(3)
    assert calls == [3]

    class Session:
        _pending_writes = None

    class Context:
        session = Session()

    class Doc:
        session_context = Context()

    assert not holds_lock(Doc())
    Session._pending_writes = []
    assert holds_lock(Doc())
