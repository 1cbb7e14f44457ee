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


def test_serve_parses_the_documented_options():
    seen = {}
    serve.pn.serve, original = (lambda routes, **kw: seen.update(kw)), serve.pn.serve
    try:
        serve.main(["--port", "5099", "--num-procs", "2", "--allow-websocket-origin", "example.org:80"])
    finally:
        serve.pn.serve = original
    assert seen["port"] == 5099 and seen["num_procs"] == 2 and seen["websocket_origin"] == ["example.org:80"]
    assert seen["address"] == "127.0.0.1"


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
