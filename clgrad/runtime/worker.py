"""The sandbox child (``python -m clgrad.runtime.worker``): builds, creates and launches kernels
for the parent process, so that a driver that aborts, segfaults or hangs takes this process down
instead (see ``isolation``).

Requests (one at a time, pickled frames on stdin; answers on the original stdout):

* ``vet``: build a program, refuse it if the build log warns about an ABI mismatch, create the
  named kernels and launch each once on a tiny input at the group size it will use; answer with
  the program's binary, so the parent builds it from that without compiling again.
* ``probe``: build one program of self-check probes, and run each probe kernel on its input;
  each probe's outcome is sent as soon as it is known (a later crash loses nothing before it).

Before each step the child reports it (``{"stage": ...}``), so a death is attributed to the step
that caused it. Hooks for tests (``inject`` in a request) make a step crash, hang, fail, warn
or compute a wrong result on purpose.
"""
import os
import sys
import time


def main():
    # the protocol keeps the real stdout; anything a driver prints goes to stderr
    proto_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    proto_in = sys.stdin.buffer
    import warnings
    warnings.simplefilter("ignore")     # build logs are read explicitly

    from . import isolation as iso

    def frame(obj):
        iso.send(proto_out, obj)

    worker = _Worker(frame)
    # the child is up (clgrad imported): a death before this line is the sandbox's own
    # failure, never a verdict on the program it was about to build
    frame({"hello": os.getpid()})
    while True:
        msg = iso.recv(proto_in)
        if msg is None:
            break
        try:
            result = getattr(worker, "op_" + msg["op"])(msg)
        except Exception as e:  # noqa: BLE001  (reported to the parent, which decides)
            result = {"status": "error", "why": f"{type(e).__name__}: {e}"}
        frame({"result": result})
    proto_out.flush()
    # skip interpreter teardown: a driver that kept state about a failed build may abort there
    os._exit(0)


def _injected(spec, subject):
    """The action that ``spec`` (``action:regex`` pairs separated by ``;``) asks for when
    ``subject`` matches, or None."""
    import re
    for part in filter(None, (p.strip() for p in (spec or "").split(";"))):
        action, _, pattern = part.partition(":")
        if re.search(pattern, subject):
            return action.strip()
    return None


_SCRATCH = 256 << 10    # bytes per pointer argument of a trial launch
_FAKE_ABI = ("{file}:{line}:5: warning: AVX vector argument of type 'float16' (vector of 16 "
             "'float' values) without 'avx512f' enabled changes the ABI [-Wpsabi] (injected)")


class _Worker:
    def __init__(self, frame):
        import pyopencl as cl
        self.cl = cl
        self.frame = frame
        self.contexts = {}

    def stage(self, text):
        self.frame({"stage": text})

    def device(self, address):
        got = self.contexts.get(address)
        if got is None:
            from .caps import read_caps
            pi, di, key = address
            dev = self.cl.get_platforms()[pi].get_devices()[di]
            have = read_caps(dev, limits=False).key
            if have != key:
                raise RuntimeError(f"device {pi}:{di} is {have!r} here, not {key!r}")
            ctx = self.cl.Context([dev])
            queue = self.cl.CommandQueue(ctx)
            got = self.contexts[address] = (dev, ctx, queue, [])
        return got

    def scratch(self, ctx, queue, buffers, n):
        """``n`` buffers of zeros for a trial launch, one per pointer argument: a kernel then
        reads zeros (valid indices, offsets and counts) wherever another argument's kernel
        wrote before, and writes nowhere another pointer reads."""
        size = _SCRATCH
        while len(buffers) < n:
            buffers.append(self.cl.Buffer(ctx, self.cl.mem_flags.READ_WRITE, size))
        for b in buffers[:n]:
            self.cl.enqueue_fill_buffer(queue, b, b"\0", 0, size)
        return buffers[:n]

    def build(self, ctx, dev, source, options):
        cl = self.cl
        try:
            prog = cl.Program(ctx, source).build(options=list(options))
        except cl.Error as e:
            return None, str(e)
        return prog, prog.get_build_info(dev, cl.program_build_info.LOG) or ""

    @staticmethod
    def act(action, what):
        """An injected crash (SIGABRT, as LLVM's fatal errors end) or hang."""
        if action == "crash":
            sys.stderr.write(f"LLVM ERROR: injected crash in {what}\n")
            sys.stderr.flush()
            os.abort()
        if action == "hang":
            time.sleep(1e6)

    # --- vet -----------------------------------------------------------------------------------
    def op_vet(self, msg):
        import numpy as np
        cl = self.cl
        dev, ctx, queue, scratch = self.device(msg["device"])
        source = msg["source"]
        action = _injected(msg.get("inject"), source)
        self.stage("building the program")
        prog, log = self.build(ctx, dev, source, msg["options"])
        if prog is None or action == "fail":
            return {"status": "build_failed", "log": log or "build failed on purpose (injected)"}
        if action == "abi":
            log += "\n" + _FAKE_ABI.format(file="input.cl", line=1)
        from .isolation import abi_warnings
        abi = abi_warnings(log)
        if abi:
            return {"status": "abi", "log": log,
                    "why": f"the build log warns about the ABI: {abi[0][1]}"}
        for name, arg_dtypes, local_cap in msg["kernels"]:
            self.stage(f"creating kernel {name}")
            try:
                k = cl.Kernel(prog, name)
            except cl.Error as e:
                return {"status": "create_failed", "log": log,
                        "why": f"kernel {name}: {e}"}
            info = cl.kernel_work_group_info
            required = tuple(k.get_work_group_info(info.COMPILE_WORK_GROUP_SIZE, dev))
            if any(required):       # reqd_work_group_size: that shape exactly
                local = tuple(max(1, n) for n in required)
            else:
                from .isolation import group_size
                local = (group_size(k.get_work_group_info(info.WORK_GROUP_SIZE, dev),
                                    msg["max_wg"], local_cap),)
            dtypes = [None if d is None else np.dtype(d) for d in arg_dtypes]
            k.set_scalar_arg_dtypes(dtypes)
            # every count, size, stride and offset 1: one element of work, read near the start
            bufs = iter(self.scratch(ctx, queue, scratch, dtypes.count(None)))
            args = [next(bufs) if d is None else d.type(1) for d in dtypes]
            self.stage(f"launching kernel {name} once (work-group of {'x'.join(map(str, local))})")
            if action in ("crash", "hang"):
                self.act(action, name)
            try:
                k(queue, local, local, *args)
                queue.finish()
            except cl.Error as e:
                return {"status": "launch_failed", "log": log,
                        "why": f"kernel {name}: {e}"}
        if action in ("crash", "hang") and not msg["kernels"]:
            self.act(action, "the build")
        binary = b""
        try:
            binary = prog.get_info(cl.program_info.BINARIES)[0] or b""
        except cl.Error:
            pass
        return {"status": "ok", "log": log, "binary": bytes(binary)}

    # --- probe ---------------------------------------------------------------------------------
    def op_probe(self, msg):
        import numpy as np
        cl = self.cl
        dev, ctx, queue, _ = self.device(msg["device"])
        inject = msg.get("inject")
        self.stage("building the probes")
        prog, log = self.build(ctx, dev, msg["source"], ())
        if prog is None:
            return {"status": "build_failed", "log": log}
        for p in msg["probes"]:
            for label, (line, _, _) in p["labels"].items():
                if _injected(inject, label) == "abi":
                    log += "\n" + _FAKE_ABI.format(file="probes.cl", line=line)
        from .isolation import abi_warnings
        warned = abi_warnings(log)
        placed = any(ln is not None and p["lines"][0] <= ln <= p["lines"][1]
                     for ln, _ in warned for p in msg["probes"])
        mf = cl.mem_flags
        for p in msg["probes"]:
            name = p["name"]
            first, last = p["lines"]
            hit = [(ln, t) for ln, t in warned if ln is not None and first <= ln <= last]
            if warned and not placed:   # on no probe's lines: every probe is suspect
                hit = warned
            if hit:     # not launched: such a kernel can take the process down
                self.frame({"probe": name, "status": "abi", "warnings": hit})
                continue
            if warned:  # PoCL then loses every kernel of the program: run it again elsewhere
                self.frame({"probe": name, "status": "skipped"})
                continue
            actions = [_injected(inject, label) for label in p["labels"]]
            action = next((a for a in actions if a), None)
            self.stage(f"running probe {name}")
            if action in ("crash", "hang"):
                self.act(action, name)
            try:
                if action == "missing":
                    raise cl.LogicError("clCreateKernel failed: INVALID_KERNEL_NAME (injected)")
                k = cl.Kernel(prog, p["kernel"])
            except cl.Error as e:
                self.frame({"probe": name, "status": "create_failed", "why": str(e)})
                continue
            src = np.frombuffer(p["input"], dtype=p["dtype"])
            a = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=src)
            o = cl.Buffer(ctx, mf.READ_WRITE, p["out_bytes"])
            try:
                k(queue, (p["global"],), (p["local"],) if p["local"] else None, a, o)
                out = np.empty(p["out_bytes"], np.uint8)
                cl.enqueue_copy(queue, out, o)
                queue.finish()
            except cl.Error as e:
                self.frame({"probe": name, "status": "launch_failed", "why": str(e)})
                continue
            data = bytearray(out.tobytes())
            for label, (_, start, _) in p["labels"].items():
                if _injected(inject, label) == "wrong":   # the top byte of the first value
                    data[start + p["itemsize"] - 1] ^= 0x40
            data = bytes(data)
            self.frame({"probe": name, "status": "ok", "output": data})
        return {"status": "ok", "log": log}


if __name__ == "__main__":
    sys.exit(main())
