"""The sandbox and its channel: values cross as plain data, limits hold, failures are reported."""

import io
import os
import pickle
import resource
import struct

import numpy as np
import pytest

from autograder import channel
from autograder.sandbox import Limits, Sandbox, SandboxFailure, SandboxUnavailableError, isolation

pytestmark = pytest.mark.skipif(isolation.detect() is None, reason="no sandbox isolation on this machine")

LIMITS = Limits(wall=2.0, cpu=20, memory=1024 * 2**20, processes=16, output=4096)


@pytest.fixture
def sandbox():
    with Sandbox(LIMITS) as sb:
        yield sb


# ----------------------------------------------------------------------------- channel, no process
def _pipe_peers():
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    return channel.Peer(a_r, a_w, "grader", "sandbox"), channel.Peer(b_r, b_w, "sandbox", "grader")


def test_values_round_trip_as_plain_types():
    """Do arrays, scalars, containers and non-finite floats come back equal and of the same type?"""
    grader, sandbox_side = _pipe_peers()
    value = {"a": np.arange(6.0).reshape(2, 3), "t": (1, 2.5, "s", None, True), "l": [np.float32(1.5), b"xy"],
             3: float("nan"), "i": np.int64(7), "c": np.array([1 + 2j])}
    grader.send({"op": "result"}, value)
    header, got = sandbox_side.receive()
    assert header["op"] == "result"
    assert type(got["a"]) is np.ndarray and np.array_equal(got["a"], value["a"])
    assert got["t"] == value["t"] and type(got["t"]) is tuple
    assert type(got["l"][0]) is np.float32 and got["l"][1] == b"xy"
    assert np.isnan(got[3]) and type(got["i"]) is np.int64 and got["c"].dtype == np.complex128


def test_unsendable_objects_travel_as_references_and_come_back_as_themselves():
    """Is a non-plain object kept by its owner and resolved to itself when it returns?"""
    grader, sandbox_side = _pipe_peers()

    class Rigged:
        def __eq__(self, other):
            return True

    obj = Rigged()
    sandbox_side.send({"op": "result"}, [obj, lambda: 1])
    _, got = grader.receive()
    assert isinstance(got[0], channel.RemoteRef) and not isinstance(got[0], Rigged)
    assert type(got[0]).__name__ == "Rigged"  # messages can name what the student returned
    assert got[0] != "anything" and callable(got[1])
    grader.send({"op": "result"}, got)
    _, back = sandbox_side.receive()
    assert back[0] is obj


def _frame_with_npy(blob: bytes) -> bytes:
    head = b'{"op":"result","value":{"t":"nd","b":0}}'
    return channel.MAGIC + struct.pack(">I", len(head)) + head + struct.pack(">I", 1) + \
        struct.pack(">Q", len(blob)) + blob


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/autograder-pickle-ran",))


def test_pickled_object_arrays_are_refused_without_unpickling(tmp_path):
    """Does a frame carrying a pickled object array fail to decode, leaving its payload unrun?"""
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload()], dtype=object), allow_pickle=True)
    r, w = os.pipe()
    os.write(w, _frame_with_npy(buf.getvalue()))
    peer = channel.Peer(r, os.open(os.devnull, os.O_WRONLY), "grader", "sandbox")
    with pytest.raises(channel.ProtocolError, match="bad array|dtype"):
        peer.receive()
    assert not os.path.exists("/tmp/autograder-pickle-ran")


def test_raw_pickle_is_not_a_frame():
    """Is a bare pickle stream rejected as a malformed frame?"""
    r, w = os.pipe()
    os.write(w, pickle.dumps(_Payload()))
    os.close(w)
    with pytest.raises(channel.ProtocolError):
        channel.read_frame(r)


def test_oversized_header_is_refused():
    """Does the reader refuse a header longer than the cap before reading it?"""
    r, w = os.pipe()
    os.write(w, channel.MAGIC + struct.pack(">I", channel.MAX_HEADER + 1))
    with pytest.raises(channel.ProtocolError, match="exceeds"):
        channel.read_frame(r)


def test_header_with_an_enormous_integer_is_a_protocol_error():
    """Is a JSON integer beyond Python's digit limit refused as malformed, not raised as something else?"""
    head = b'{"op":"result","value":' + b"9" * 5000 + b"}"
    r, w = os.pipe()
    os.write(w, channel.MAGIC + struct.pack(">I", len(head)) + head + struct.pack(">I", 0))
    with pytest.raises(channel.ProtocolError, match="not JSON"):
        channel.read_frame(r)


def test_remote_errors_are_instances_of_the_builtin_kind():
    """Can a check catch a student's ValueError as a ValueError?"""
    err = channel.remote_error("ValueError", "x: bad shape")
    assert isinstance(err, ValueError) and isinstance(err, channel.RemoteError) and "bad shape" in str(err)
    other = channel.remote_error("SystemExit", "3")
    assert not isinstance(other, SystemExit) and other.kind == "SystemExit"


def test_sync_inplace_mirrors_changes_to_arrays_dicts_and_lists():
    """Are in-place changes made by the callee to its copies applied to the caller's objects?"""
    a, d, lst = np.zeros(3), {"w": np.ones(2), "gone": 1}, [1, np.zeros(1)]
    channel.sync_inplace((a, d, lst), (np.ones(3), {"w": np.full(2, 5.0), "new": 2}, [7, np.ones(1)]))
    assert np.array_equal(a, np.ones(3)) and np.array_equal(d["w"], [5.0, 5.0]) and d.get("new") == 2
    assert "gone" not in d and lst[0] == 7 and lst[1][0] == 1.0


# ----------------------------------------------------------------------------- sandbox process
def test_calls_callbacks_and_in_place_changes(sandbox):
    """Can the grader call a student function that calls back a grader function and mutates its input?

    The change is reported with the answer (``arguments_reported``), never written into the grader's array.
    """
    sandbox.exec_cell("def f(step, x):\n    x += 1\n    return step(x) * 2\n", "c1")
    x = np.zeros(2)
    assert sandbox.names()["f"] == "function"
    with channel.arguments_reported() as reported:
        out = sandbox.get("f")(lambda v: v + 10, x)
    assert np.array_equal(out, [22.0, 22.0]) and np.array_equal(x, [0.0, 0.0])
    assert len(reported) == 1 and np.array_equal(reported[0][0][1], [1.0, 1.0])


def test_student_exceptions_come_back_with_their_type(sandbox):
    """Is a ValueError raised by student code a ValueError here, with its message?"""
    sandbox.exec_cell("def f():\n    raise ValueError('x: expected (B, D)')\n", "c1")
    with pytest.raises(ValueError, match="expected"):
        sandbox.get("f")()


def test_cannot_import_grader_packages_or_see_the_repository(sandbox):
    """Are simulator and autograder unimportable, and the repository and /root invisible?"""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (f"import os, sys\nsys.path.insert(0, {repo!r})\nseen = [os.path.exists({repo!r}), "
            "os.path.exists('/root/.ssh'), os.path.exists('/etc/passwd')]\nerrors = []\n"
            "for name in ('simulator', 'autograder', 'nbgrader', 'torch'):\n"
            "    try:\n        __import__(name)\n    except ImportError as exc:\n        errors.append(name)\n")
    sandbox.exec_cell(code, "c1")
    assert sandbox.get("seen") == [False, False, False]
    assert sandbox.get("errors") == ["simulator", "autograder", "nbgrader", "torch"]


# ----------------------------------------------------------------------------- what the sandbox can see
PROBE = r'''
import os, sys, stat

def _probe(forbidden, content_forbidden):
    hits = []
    fb = [f.encode() for f in content_forbidden]

    def check(where, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for f in forbidden:
            if f in text and len(hits) < 200:
                hits.append((where, f))

    def check_bytes(where, data):
        for f in fb:
            if f in data and len(hits) < 200:
                hits.append((where, f.decode()))

    names = 0
    for top, dirs, files in os.walk("/", followlinks=False):
        if top in ("/proc", "/dev", "/sys"):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(top, name)
            names += 1
            check("name " + path, path)
            if os.path.islink(path):
                check("link " + path, os.readlink(path))
        for name in files:
            path = os.path.join(top, name)
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                with open(path, "rb") as f:
                    check_bytes("file " + path, f.read())
            except OSError:
                pass
    pids = [p for p in os.listdir("/proc") if p.isdigit()] if os.path.isdir("/proc") else []
    for pid in pids + ["self", "thread-self"]:
        base = "/proc/" + pid
        for entry in ("cmdline", "environ", "mountinfo", "mounts", "maps", "cgroup", "status", "stat",
                      "mountstats", "smaps", "comm", "sched"):
            try:
                with open(base + "/" + entry, "rb") as f:
                    check(base + "/" + entry, f.read())
            except OSError:
                pass
        for link in ("cwd", "exe", "root"):
            try:
                check(base + "/" + link, os.readlink(base + "/" + link))
            except OSError:
                pass
        try:
            for fd in os.listdir(base + "/fd"):
                check(base + "/fd/" + fd, os.readlink(base + "/fd/" + fd))
        except OSError:
            pass
    for entry in ("cmdline", "mounts", "self/mountinfo", "filesystems", "swaps", "modules", "version"):
        try:
            with open("/proc/" + entry, "rb") as f:
                check("/proc/" + entry, f.read())
        except OSError:
            pass
    import sysconfig
    check("sys.path", repr(sys.path))
    for attr in ("executable", "prefix", "base_prefix", "exec_prefix", "base_exec_prefix", "_base_executable",
                 "platlibdir", "_stdlib_dir", "argv", "orig_argv"):
        check("sys." + attr, repr(getattr(sys, attr, "")))
    check("environ", repr(dict(os.environ)))
    check("cwd", os.getcwd())
    check("sysconfig paths", repr(sysconfig.get_paths()))
    check("sysconfig vars", repr(sysconfig.get_config_vars()))
    for name, mod in list(sys.modules.items()):
        check("module " + name, repr(getattr(mod, "__file__", "")) + repr(getattr(mod, "__path__", "")))
        for value in list(vars(mod).values())[:500]:
            code = getattr(value, "__code__", None)
            if type(code).__name__ == "code":
                check("code " + name, code.co_filename)
        spec = getattr(mod, "__spec__", None)
        check("spec " + name, repr(getattr(spec, "origin", "")))
    return names, hits
'''

HOST_PACKAGES = ("IPython", "traitlets", "jinja2", "nbgrader", "torch", "panel", "bokeh", "param", "pytest",
                 "nbformat", "simulator", "autograder", "keras", "pip", "setuptools")

IMPORTS = r'''
import importlib, importlib.util, pkgutil, sys

def _imports(names, host_dirs):
    # Every trick to reach a host package: plain import, host directories on sys.path, a spec from a file.
    reached = []
    sys.path.extend(host_dirs)
    for name in names:
        try:
            importlib.import_module(name)
            reached.append(name)
        except Exception:
            pass
        for d in host_dirs:
            try:
                spec = importlib.util.spec_from_file_location(name, d + "/" + name + "/__init__.py")
                if spec is not None:
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    reached.append(name + " from " + d)
            except Exception:
                pass
    del sys.path[-len(host_dirs):]
    top = sorted({m.name for m in pkgutil.iter_modules()})
    return reached, top
'''


def _content_strings(strings):
    # A bare top-level home such as /root also occurs in innocent text (a test's "/root" literal); inside
    # files we look for what lies under it (/root/.pyenv, /root/.cache, ...).
    home = str(os.path.expanduser("~"))
    return [s for s in strings if s != home] + [home if home.count("/") >= 2 else home + "/."]


def _host_strings(extra=()):
    """Computed here, not by the code under test: repository, interpreter prefixes, NumPy's directory, home."""
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = {repo, os.path.expanduser("~"), os.path.dirname(os.path.dirname(np.__file__)), *extra}
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        found |= {prefix, os.path.realpath(prefix)}
    return sorted(s for s in found if s not in ("/", "/usr", "/usr/local", ""))


def test_host_prefixes_are_rewritten_in_text_code_and_c_strings():
    """Does the tree builder relocate text, .pyc code objects and NUL-terminated strings without moving bytes?"""
    import marshal

    from autograder.sandbox import runtime

    pairs = [("/home/alice/venv", "/sandbox/python")]
    text = runtime._rewrite_bytes(b"prefix = '/home/alice/venv/lib'\n", pairs)
    assert text == b"prefix = '/sandbox/python/lib'\n"
    blob = b"\x7fELF\0" + b"/home/alice/venv/lib\0" + b"next\0"
    out = runtime._rewrite_bytes(blob, pairs)
    assert len(out) == len(blob) and out.endswith(b"next\0")
    assert out[5:].split(b"\0")[0] == b"/sandbox/python/lib"
    longer = runtime._rewrite_bytes(b"\0/v/lib\0", [("/v", "/sandbox/python")])
    assert longer == b"\0///lib\0"  # a neutral path that does not fit becomes slashes (the root)
    code = compile("def f():\n    return 1\n", "/home/alice/venv/lib/m.py", "exec")
    pyc = runtime._rewrite_pyc(b"\0" * 16 + marshal.dumps(code), pairs)
    relocated = marshal.loads(pyc[16:])
    inner = next(c for c in relocated.co_consts if hasattr(c, "co_filename"))
    assert relocated.co_filename == inner.co_filename == "/sandbox/python/lib/m.py"


def test_nothing_a_student_can_read_names_a_host_path():
    """Does walking /, reading every file and /proc, and asking Python where it lives reveal no host path?"""
    with Sandbox(Limits(wall=120, cpu=120, memory=2 * 2**30)) as sb:
        strings = _host_strings([str(sb._tmp), os.getcwd()])  # the session's private directory on the host too
        sb.exec_cell(PROBE + "import numpy\n", "probe")
        names, hits = sb.get("_probe")(strings, _content_strings(strings))
    assert names > 1000, "the walk saw too little to mean anything"
    assert hits == [], hits[:20]


def test_only_the_standard_library_and_numpy_are_importable(sandbox):
    """Do the grader's packages stay out of reach, even with the host's site-packages put on sys.path?"""
    import pkgutil
    import site
    import sys

    host_dirs = sorted({*site.getsitepackages(), site.getusersitepackages(), *[p for p in sys.path if p]})
    sandbox.exec_cell(IMPORTS, "imports")
    reached, top = sandbox.get("_imports")(list(HOST_PACKAGES), host_dirs)
    assert reached == []
    stdlib_dirs = [sys._stdlib_dir, *[p for p in sys.path if p.endswith("lib-dynload")]]
    stdlib = {m.name for m in pkgutil.iter_modules(stdlib_dirs)}
    assert sorted(set(top) - stdlib) == ["channel", "numpy"]


STDLIB_IMPORTS = r'''
import importlib, sys
failed = []
for name in sorted(sys.stdlib_module_names):
    if name not in ("antigravity", "this", "idlelib", "turtledemo", "__phello__"):  # they print or open windows
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
'''


def test_the_standard_library_is_all_there(sandbox):
    """Does every standard module that imports in the grader import in the sandbox (but ensurepip's wheels)?"""
    import json
    import subprocess
    import sys

    # The same interpreter, in the same mode, outside: what fails there (Windows modules...) is not missing.
    out = subprocess.run([sys.executable, "-I", "-S", "-W", "ignore", "-c", STDLIB_IMPORTS + "print(failed)"],
                         capture_output=True, text=True, timeout=120)
    here = json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))
    sandbox.exec_cell("import warnings\nwarnings.simplefilter('ignore')\n" + STDLIB_IMPORTS, "stdlib")
    assert sorted(set(sandbox.get("failed")) - set(here)) == ["ensurepip"]


VENV_SCRIPT = r'''
import json, site, sys, sysconfig
sys.path.insert(0, sys.argv[1])
from autograder.sandbox import Limits, Sandbox
exec(sys.argv[2])
exec(sys.argv[3])
strings = json.loads(sys.argv[4]) + [sys.prefix]
base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
host_dirs = sorted({*site.getsitepackages(), site.getusersitepackages(), base["purelib"], base["platlib"]})
with Sandbox(Limits(wall=120, cpu=120, memory=2 * 2**30)) as sb:
    sb.exec_cell(PROBE + IMPORTS, "probe")
    names, hits = sb.get("_probe")(strings, strings)
    reached, top = sb.get("_imports")(json.loads(sys.argv[5]), host_dirs)
print(json.dumps({"names": names, "hits": hits, "reached": reached, "prefix": sys.prefix}))
'''


@pytest.mark.parametrize("system_site", [True, False], ids=["venv-with-base-packages", "isolated-venv"])
def test_a_grader_in_a_venv_shows_neither_the_venv_nor_the_base_packages(tmp_path, system_site):
    """From a venv (seeing the base's packages, or only a NumPy of its own), do base packages and paths stay hidden?"""
    import json
    import subprocess
    import sys

    venv = tmp_path / "grader-venv"
    flags = ["--system-site-packages"] if system_site else []
    subprocess.run([sys.executable, "-m", "venv", *flags, "--without-pip", str(venv)], check=True)
    if not system_site:
        # The venv's own NumPy (linked from the base, as a wheel installed into the venv would be there).
        site_dir = next(venv.glob("lib/python*/site-packages"))
        for pkg in ("numpy", "numpy.libs"):
            source = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), pkg)
            if os.path.exists(source):
                (site_dir / pkg).symlink_to(source)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    strings = _content_strings(_host_strings([str(venv)]))
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", VENV_SCRIPT, repo, f"PROBE = {PROBE!r}", f"IMPORTS = {IMPORTS!r}",
         json.dumps(strings), json.dumps(list(HOST_PACKAGES))],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.splitlines()[-1])
    assert report["prefix"] == str(venv)
    assert report["reached"] == [] and report["hits"] == [], report


# Written after the constructed filesystem, run once, not tuned on: other places a host path could show.
HELD_OUT_VIEWS = r'''
import ctypes.util, inspect, os, subprocess, sys
import numpy as np
views = []
for root in ("/proc/1/root", "/proc/self/root", "/proc/1/cwd"):
    try:
        views.append(repr(sorted(os.listdir(root))))
    except OSError:
        pass
views.append(inspect.getsourcefile(np.ones) or "")
views.append(repr(getattr(np, "__config__", None) and np.__config__.CONFIG))
views.append(repr(ctypes.util.find_library("c")))
try:
    with open("/proc/self/exe", "rb") as f:
        views.append(f.read().decode("latin-1"))
except OSError:
    pass
child = subprocess.run([sys.executable, "-c", "import sys, os; print(sys.path, sys.prefix, os.environ)"],
                       capture_output=True, text=True)
views.append(child.stdout + child.stderr)
views.append(repr([m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)]))
views.append(os.uname().nodename)
'''


def test_held_out_views_of_the_filesystem(sandbox):
    """Do views the sandbox's filesystem was not written for (other roots, a child interpreter, config) stay clean?"""
    sandbox.exec_cell(HELD_OUT_VIEWS, "views")
    views = sandbox.get("views")
    import socket

    strings = _content_strings(_host_strings())
    hits = [(k, s) for k, text in enumerate(views) for s in strings if s in text]
    assert views[-1] == "sandbox" != socket.gethostname()
    assert len(views) >= 6 and hits == [], hits  # /proc/1 (root's) may be unreadable


def test_environment_is_scrubbed_and_user_unprivileged():
    """Does student code see a minimal environment, a private home and a non-root user?"""
    os.environ["AUTOGRADER_SECRET_FOR_TEST"] = "secret"
    try:
        with Sandbox(LIMITS) as sb:
            sb.exec_cell("import os\nenv = dict(os.environ)\nuid = os.getuid()\nhome = os.getcwd()\n" + PRIVILEGES, "c")
            env, uid, caps, no_new_privs = sb.get("env"), sb.get("uid"), sb.get("caps"), sb.get("no_new_privs")
    finally:
        del os.environ["AUTOGRADER_SECRET_FOR_TEST"]
    assert "AUTOGRADER_SECRET_FOR_TEST" not in env and uid != 0
    assert caps == [0, 0, 0, 0] and no_new_privs == 1


# The sandbox has no /proc (its mountinfo names host directories), so capabilities and no_new_privs are
# asked of the kernel directly: capget(2) (version 3: two 32-bit words each) and prctl(PR_GET_NO_NEW_PRIVS).
PRIVILEGES = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()
assert libc.capget(header, data) == 0, ctypes.get_errno()
caps = [data[0], data[3], data[1], data[4]]  # effective and permitted, low and high words
no_new_privs = libc.prctl(39, 0, 0, 0, 0)
"""


def test_the_sandbox_has_no_procfs(sandbox):
    """Was hole H4: /proc/self/mountinfo named the host directory of the runtime tree. Is there no /proc at all?"""
    sandbox.exec_cell("import os\nseen = []\nfor p in ('/proc', '/proc/self/mountinfo', '/proc/1/mountinfo', "
                      "'/proc/mounts', '/proc/loadavg'):\n    seen.append(os.path.exists(p))\n"
                      "top = sorted(os.listdir('/'))\n", "c")
    assert sandbox.get("seen") == [False] * 5
    assert "proc" not in sandbox.get("top") and "sandbox" in sandbox.get("top")


def test_timeout_kills_and_later_requests_fail_fast(sandbox):
    """Does an endless loop end in a SandboxFailure naming the timeout, and the sandbox stay dead?"""
    with pytest.raises(SandboxFailure, match="timed out"):
        sandbox.exec_cell("while True:\n    pass\n", "loop")
    with pytest.raises(SandboxFailure, match="timed out"):
        sandbox.names()
    sandbox.start()
    sandbox.exec_cell("x = 1", "again")
    assert sandbox.get("x") == 1


def test_a_sandbox_that_stops_reading_cannot_block_the_grader(sandbox):
    """Does sending a large argument to a sandbox that no longer reads its channel time out instead of hanging?"""
    sandbox.exec_cell("def f(x):\n    return 1\n", "c1")
    f = sandbox.get("f")
    sandbox.exec_cell("import channel, time\nchannel.read_frame = lambda *a, **k: time.sleep(10**6)\n", "c2")
    with pytest.raises(SandboxFailure, match="timed out"):
        f(np.zeros(2**20))  # 8 MiB, far more than a pipe holds


@pytest.mark.parametrize("code, reason", [
    ("import os\nos._exit(3)", "exit code 3"),
    ("import ctypes\nctypes.string_at(0)", "segmentation fault"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "SIGKILL"),
])
def test_crashes_are_reported_with_their_cause(sandbox, code, reason):
    """Are os._exit, segfaults and kills reported with what happened?"""
    with pytest.raises(SandboxFailure, match=reason):
        sandbox.exec_cell(code, "crash")


@pytest.mark.parametrize("code", ["raise SystemExit(1)", "raise KeyboardInterrupt", "import sys\nsys.exit(2)"])
def test_exit_and_interrupt_are_ordinary_errors(sandbox, code):
    """Do SystemExit and KeyboardInterrupt fail the request but leave the sandbox running?"""
    with pytest.raises(channel.RemoteError):
        sandbox.exec_cell(code, "exit")
    sandbox.exec_cell("y = 2", "after")
    assert sandbox.get("y") == 2


def test_memory_limit_raises_memory_error(sandbox):
    """Does allocating 3 GB under a 1 GB limit raise MemoryError in the student's code?"""
    with pytest.raises(MemoryError):
        sandbox.exec_cell("import numpy as np\nblock = np.ones(3 * 2**30 // 8)", "mem")
    sandbox.exec_cell("small = 1", "after")


def test_process_count_is_capped(sandbox):
    """Can student code start at most a few processes (here: 40 tries, a limit of 16)?"""
    code = ("import os, time\nstarted = 0\nfor _ in range(40):\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n"
            "    started += 1\n")
    sandbox.exec_cell(code, "fork")
    started = sandbox.get("started")
    assert 0 < started < LIMITS.processes


def test_processes_die_with_the_sandbox():
    """Are the student's background processes gone once the sandbox is closed?"""
    sb = Sandbox(LIMITS)
    sb.start()
    sb.exec_cell("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        time.sleep(60)\n", "bg")
    uid = isolation.sandbox_uid()
    sb.close()
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = open(f"/proc/{pid}/status").read()
        except OSError:
            continue
        if uid is not None and f"Uid:\t{uid}\t" in status:
            alive.append(pid)
    assert alive == []


def test_output_is_capped(sandbox):
    """Is a flood of output cut to the cap while the sandbox keeps answering?"""
    sandbox.exec_cell("for _ in range(2000):\n    print('x' * 10000)\n", "flood")
    sandbox.exec_cell("z = 3", "after")
    assert sandbox.get("z") == 3
    assert len(sandbox.output) <= LIMITS.output and "dropped" in sandbox.output_text()


def test_no_network(sandbox):
    """Can student code reach a server listening on this machine's loopback?"""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    reached = True\nexcept OSError:\n    reached = False\n")
    sandbox.exec_cell(code, "net")
    with pytest.raises(OSError):
        server.accept()
    server.close()
    assert sandbox.get("reached") is False


def test_writes_stay_inside(sandbox, tmp_path):
    """Do files written to /tmp or to a host path fail or land in the sandbox's private space?"""
    target = tmp_path / "escaped.txt"
    code = ("results = []\nfor path in ['/tmp/autograder-escape.txt', " + repr(str(target)) + ", 'local.txt']:\n"
            "    try:\n        open(path, 'w').write('x')\n        results.append(True)\n"
            "    except OSError:\n        results.append(False)\n")
    sandbox.exec_cell(code, "write")
    assert not target.exists() and not os.path.exists("/tmp/autograder-escape.txt")
    assert sandbox.get("results") == [sandbox.level == "bwrap", False, True]


def test_private_space_is_small_and_bounded():
    """Does filling /tmp with many files stop at the private tmpfs size instead of the host's memory or disk?"""
    with Sandbox(Limits(wall=5.0, disk=4 * 2**20)) as sb:
        code = ("written = 0\ntry:\n    for i in range(64):\n        with open(f'/tmp/f{i}', 'wb') as f:\n"
                "            f.write(b'x' * 2**20)\n        written += 1\nexcept OSError as exc:\n"
                "    error = exc.errno\n")
        sb.exec_cell(code, "fill")
        assert sb.get("written") <= 4 and sb.get("error") == 28  # ENOSPC


@pytest.mark.skipif(isolation.unshare_path() is None, reason="no unprivileged unshare here")
def test_rlimits_level_without_bubblewrap(monkeypatch):
    """Does the fallback level (unshare + rlimits) run code with no network, no grader packages, bounded memory?"""
    # As root the fallback would switch to the sandbox uid, which may not be able to read the interpreter
    # here; the user namespace of `unshare -r` still isolates what this test checks.
    monkeypatch.setattr(isolation, "sandbox_uid", lambda: None)
    with Sandbox(LIMITS, level="rlimits") as sb:
        code = ("import socket, os\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n    net = 'open'\n"
                "except OSError as exc:\n    net = 'closed'\ntry:\n    import autograder\n    imported = True\n"
                "except ImportError:\n    imported = False\npid = os.getpid()\nimport sys\npaths = sys.path\n")
        sb.exec_cell(code, "probe")
        assert sb.get("net") == "closed" and sb.get("imported") is False and sb.get("pid") == 1
        leaks = [p for p in sb.get("paths") for s in _host_strings() if s in p]
        assert leaks == []  # the host's files stay readable at this level, but sys.path holds only the tree
        with pytest.raises(MemoryError):
            sb.exec_cell("import numpy as np\nblock = np.ones(3 * 2**30 // 8)", "mem")
        with pytest.raises(SandboxFailure, match="timed out"):
            sb.exec_cell("while True:\n    pass", "loop")


def test_refuses_level_none_without_unsafe():
    """Is running without limits refused unless asked for explicitly?"""
    with pytest.raises(SandboxUnavailableError):
        Sandbox(LIMITS, level="none")
    with pytest.raises(ValueError, match="level"):
        Sandbox(LIMITS, level="chroot")


def test_process_cap_counts_the_users_existing_tasks():
    """Without a uid of its own, does the sandbox get its process cap on top of what its user already runs?"""
    from autograder.sandbox.limits import rlimits, user_tasks

    mine = user_tasks(os.geteuid())
    assert mine >= 1
    assert rlimits(LIMITS, mine)[resource.RLIMIT_NPROC] == LIMITS.processes + mine


def test_limits_reject_bad_values():
    """Does Limits name the bad argument?"""
    with pytest.raises(ValueError, match="Limits.wall"):
        Limits(wall=0)


def test_the_worker_drops_grader_imports_and_keeps_line_numbers(sandbox):
    """Are a cell's `autograder` imports left out in the sandbox, the rest run, and its lines still its own?"""
    sandbox.exec_cell("import numpy as np\nfrom autograder.checks import check_rnn_step\nimport autograder\n"
                      "x = float(np.ones(2).sum())\ndef f():\n    return 1 / 0\n", "c1")
    assert sandbox.get("x") == 2.0
    with pytest.raises(channel.RemoteError) as err:
        sandbox.exec_cell("y = f()\n", "c2")
    assert 'File "<cell c1>", line 6' in err.value.remote_traceback


@pytest.mark.parametrize("deep", ["x = " + "-" * 200_000 + "1", "x = " + "+".join(["1"] * 300_000),
                                  "f = " + "lambda: " * 50_000 + "1",
                                  "import autograder\nx = " + "(" * 180 + "1" + ")" * 180 + " + a" + ".b" * 200_000],
                         ids=["unary", "sum", "lambdas", "attributes"])
def test_a_cell_that_exhausts_the_parser_fails_in_the_sandbox_only(sandbox, deep):
    """Does code no parser can hold fail as that cell's error (or its time limit) inside the sandbox?"""
    with pytest.raises((channel.RemoteError, SandboxFailure)) as err:
        sandbox.exec_cell(deep, "deep")
    if isinstance(err.value, channel.RemoteError):
        assert err.value.kind in ("MemoryError", "RecursionError", "SyntaxError"), err.value
        sandbox.exec_cell("z = 3\n", "after")
        assert sandbox.get("z") == 3
    else:
        assert "timed out" in str(err.value)
