"""A sandbox process for the work that can take a process down with it.

An OpenCL driver can abort, segfault or hang while it compiles a kernel it has not seen before
(PoCL 3.0's LLVM 14 on AMD Zen 4 aborts with ``LLVM ERROR: Cannot select`` on 16-wide builtin
calls); no ``try`` in Python catches that. So a kernel not yet known to work on a device is first
built, created and launched once in a child process (``clgrad.runtime.worker``), and so are the
device self-check's probes. If the child dies or hangs, the user's process learns what was being
done when it happened and carries on; the next request starts a new child.

One child serves the whole process (every device), started on first use and kept while the
process lives. Messages are pickled frames (4-byte length, then the payload) over the child's
stdin and stdout; the child's stderr goes to a temporary file whose tail explains a death.
``CLGRAD_ISOLATE_BUILDS=0`` builds in the user's process instead (debugging), and
``CLGRAD_BUILD_TIMEOUT`` (seconds, default 300) bounds one request.
"""
import atexit
import os
import pickle
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from ..base import MXNetError

_HEADER = struct.Struct("<I")

#: A build log line saying that a vector crosses a call boundary the two sides disagree on
#: (clang: "AVX vector argument of type 'float16' ... without 'avx512f' enabled changes the ABI").
_ABI = re.compile(r"changes the ABI")
_LOCATION = re.compile(r"\.cl:(\d+):\d+(?:\s*<Spelling=[^>]*>)?:?\s*(?:warning:\s*)?")


class SandboxError(MXNetError):
    """The sandbox process died, hung, or could not be started; says what it was doing."""

    def __init__(self, message, stage="", reason=""):
        super().__init__(message)
        self.stage = stage
        self.reason = reason


def available():
    """Whether this platform can run the sandbox: not Windows, whose pipes cannot be waited on
    with a timeout (``select``); there kernels are built in the process and the driver's claims
    are trusted."""
    return sys.platform != "win32"


def enabled():
    """Whether risky builds go to the sandbox (``CLGRAD_ISOLATE_BUILDS`` is not 0)."""
    return available() and \
        os.environ.get("CLGRAD_ISOLATE_BUILDS", "1").strip() not in ("0", "no", "false")


def timeout():
    """Seconds one sandbox request may take (``CLGRAD_BUILD_TIMEOUT``, default 300)."""
    try:
        return max(1.0, float(os.environ.get("CLGRAD_BUILD_TIMEOUT", "300")))
    except ValueError:
        return 300.0


def abi_warnings(log):
    """[(line number in the source or None, text)] of the log's ABI-mismatch warnings."""
    out = []
    for text in (log or "").splitlines():
        if _ABI.search(text):
            m = _LOCATION.search(text)
            # the message without the temporary file's path
            out.append((int(m.group(1)) if m else None,
                        text[m.end():].strip() if m else text.strip()))
    return out


def group_size(limit, max_wg, cap):
    """The work-group size a 1-D kernel launches with: the largest power of two within the
    compiled kernel's limit, the device's maximum and ``cap`` (the launch helper and the
    sandbox's trial launch agree through this one function)."""
    bound = max(1, min(limit, max_wg, cap))
    local = 1
    while local * 2 <= bound:
        local *= 2
    return local


# --- framing -----------------------------------------------------------------------------------
def send(stream, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def recv(stream):
    """The next frame from a blocking binary stream, or None at its end."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)  # noqa: S301  (frames of our own child process)


def _describe_exit(code):
    if code is None:
        return "is still running"
    if code < 0:
        try:
            return f"died with signal {signal.Signals(-code).name}"
        except ValueError:
            return f"died with signal {-code}"
    return f"exited with status {code}"


class Sandbox:
    """The child process and the one-request-at-a-time conversation with it."""

    def __init__(self):
        self._proc = None
        self._err = None
        self._owner = None      # pid that started the child (a forked copy starts its own)
        self._lock = threading.Lock()
        self._buf = b""
        self._greeted = False
        self.counts = {"started": 0, "requests": 0}

    def _start(self):
        if self._err is not None:
            self._err.close()
        self._err = tempfile.TemporaryFile()
        env = dict(os.environ, PYOPENCL_NO_CACHE="1", CLGRAD_SELFCHECK="0",
                   CLGRAD_ISOLATE_BUILDS="0")
        # what a simulator reports about trial launches on made-up arguments is not about the
        # user's kernels: it goes to the sandbox's stderr, not the user's Oclgrind log
        env.pop("OCLGRIND_LOG", None)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "clgrad.runtime.worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self._err, env=env, close_fds=True)
        except OSError as e:
            self._proc = None
            raise SandboxError(f"cannot start the sandbox process ({sys.executable} -m "
                               f"clgrad.runtime.worker): {e}", "start", str(e)) from None
        self._owner = os.getpid()
        self._buf = b""
        self._greeted = False       # the child's first frame says it started (clgrad imported)
        self.counts["started"] += 1

    def _alive(self):
        return self._proc is not None and self._owner == os.getpid() and \
            self._proc.poll() is None

    def close(self):
        """Stop the child (it exits when its input ends; killed if it does not)."""
        with self._lock:
            self._stop()
            if self._err is not None:
                self._err.close()
                self._err = None

    def _stop(self):
        proc, self._proc = self._proc, None
        if proc is None or self._owner != os.getpid():
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except Exception:  # noqa: BLE001  (a child that does not listen is killed)
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def _stderr_tail(self, limit=2000):
        if self._err is None:
            return ""
        try:
            self._err.seek(0, os.SEEK_END)
            size = self._err.tell()
            self._err.seek(max(0, size - limit))
            text = self._err.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return "\n".join(lines[-8:])

    def _read_exact(self, n, deadline):
        fd = self._proc.stdout.fileno()
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, max(65536, n - len(self._buf)))
            if not chunk:
                raise EOFError
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _read_frame(self, deadline):
        (n,) = _HEADER.unpack(self._read_exact(_HEADER.size, deadline))
        return pickle.loads(self._read_exact(n, deadline))  # noqa: S301  (our own child)

    def request(self, msg, seconds=None, on_frame=None):
        """Send ``msg``, pass intermediate frames to ``on_frame`` and return the result.

        Raises ``SandboxError`` (with the stage the child had reported) if the child dies,
        exceeds ``seconds``, or cannot be started.
        """
        seconds = timeout() if seconds is None else seconds
        with self._lock:
            if not self._alive():
                self._stop()
                self._start()
            stage = "sending the request"
            self.counts["requests"] += 1
            try:
                send(self._proc.stdin, msg)
                deadline = time.monotonic() + seconds
                stage = "waiting for the child"
                while True:
                    frame = self._read_frame(deadline)
                    if "hello" in frame:
                        self._greeted = True
                        continue
                    if "stage" in frame:
                        stage = frame["stage"]
                    if "result" in frame:
                        return frame["result"]
                    if on_frame is not None:
                        on_frame(frame)
            except TimeoutError:
                self._proc.kill()
                self._proc.wait()
                self._proc = None
                why = f"did not finish within {seconds:g} s (killed)"
            except (EOFError, BrokenPipeError, OSError, pickle.UnpicklingError):
                try:
                    code = self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    code = self._proc.wait()
                self._proc = None
                why = _describe_exit(code)
            if not self._greeted:
                # it never started (an import failed, say): the sandbox is broken, and a build
                # goes without it rather than blaming the program (``SandboxError.stage``)
                stage = "start"
            tail = self._stderr_tail()
            reason = why + (f"; its last output:\n{tail}" if tail else "")
            raise SandboxError(f"the sandbox process {why} while {stage}", stage, reason)


_sandbox = Sandbox()
atexit.register(_sandbox.close)


def request(msg, seconds=None, on_frame=None):
    """One request to this process's sandbox (see ``Sandbox.request``)."""
    return _sandbox.request(msg, seconds, on_frame)


def stats():
    """How many sandbox processes this process started, and how many requests it sent."""
    return dict(_sandbox.counts)


def shutdown():
    """Stop the sandbox process (the next request starts a new one)."""
    _sandbox.close()


def device_address(device):
    """How the sandbox finds ``device``: platform and device index, and the key that must match."""
    return (device.platform_index, device.device_index, device.claims.key)
