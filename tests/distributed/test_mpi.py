"""clgrad.distributed under ``mpirun -n 2``: the collectives on every dtype and shape, buckets,
the Trainer's dist_sync and DistributedTrainer against one process, and the faults (a rank that
raises, a rank that never joins a collective, ranks that disagree on the parameters).

Each case runs a script in two processes on this machine (``--oversubscribe``: CI machines may
have fewer cores than ranks) and checks its exit status and output.
"""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def _mpi_missing():
    if shutil.which("mpirun") is None:
        return "mpirun is not installed (Debian: apt install openmpi-bin libopenmpi-dev)"
    try:
        import mpi4py
        mpi4py.rc.initialize = False        # load the MPI library, start nothing
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError) as e:
        return f"mpi4py is not installed or finds no MPI library (pip install '.[mpi]'): {e}"
    return None


pytestmark = [pytest.mark.mpi, pytest.mark.skipif(_mpi_missing() is not None,
                                                   reason=str(_mpi_missing()))]


def _open_mpi_flags():
    """Open MPI's mpirun refuses more ranks than cores, and root, unless told; MPICH's (hydra)
    allows both and knows neither flag."""
    v = subprocess.run(["mpirun", "--version"], capture_output=True, text=True, timeout=60)
    if "Open MPI" not in v.stdout + v.stderr and "OpenRTE" not in v.stdout + v.stderr:
        return []
    flags = ["--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--allow-run-as-root")
    return flags


def mpirun(code, tmp_path, n=2, timeout=240, env=None, script=None):
    """Run ``code`` (or the file ``script`` with arguments) in ``n`` ranks; (returncode,
    stdout, stderr). ``timeout`` only guards against a hung job (the fault tests check that a
    failing rank stops the others instead of hanging); no test here measures speed, which
    ``bench/distributed.py`` does."""
    if script is None:
        path = tmp_path / "job.py"
        path.write_text("import numpy as onp\nfrom clgrad import np, distributed as D\n"
                        "D.init()\nr, n = D.rank(), D.size()\n" + textwrap.dedent(code))
        script = [str(path)]
    cmd = ["mpirun", "-n", str(n)] + _open_mpi_flags()
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    r = subprocess.run(cmd + [sys.executable] + script, cwd=tmp_path, env=e,
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def test_collectives_on_every_dtype_and_shape(tmp_path):
    rc, out, err = mpirun("""
        for dt in ["float32", "float64", "float16", "int32", "int64", "uint8", "int8", "bool"]:
            for shape in [(2, 3), (), (0, 3), (5,)]:
                h = (onp.arange(int(onp.prod(shape))).reshape(shape) + r * 3).astype(dt)
                a = np.array(h)
                D.allreduce(a, average=False)
                want = sum((onp.arange(int(onp.prod(shape))).reshape(shape) + k * 3).astype(dt)
                           .astype("float64") for k in range(n))
                if dt == "bool":
                    want = want != 0
                assert a.shape == shape and a.dtype == dt, (dt, shape, a)
                assert onp.allclose(a.asnumpy().astype("float64"),
                                    onp.asarray(want).astype("float64")), (dt, shape, a, want)
                b = np.array(h)
                D.broadcast(b, root=1)
                assert (b.asnumpy() == (onp.arange(int(onp.prod(shape))).reshape(shape) + 3)
                        .astype(dt)).all(), (dt, shape, b)
        m = np.array([1.0, 3.0]) * (r + 1)
        D.allreduce(m)                                          # average
        assert onp.allclose(m.asnumpy(), [1.5, 4.5]), m
        i = np.array([3, 4], dtype="int32") * (r + 1)
        D.allreduce(i)                                          # integers: the floor
        assert (i.asnumpy() == [4, 6]).all(), i
        t = np.arange(12).reshape(3, 4)[:, ::2]                 # a strided view, in place
        D.allreduce(t, average=False)
        assert onp.allclose(t.asnumpy(), 2 * onp.arange(12).reshape(3, 4)[:, ::2]), t
        g = D.allgather(np.ones((r + 1, 2)) * r)
        assert g.shape == (3, 2) and (g.asnumpy()[:, 0] == [0, 1, 1]).all(), g
        D.barrier()
        print(f"ok {r}", flush=True)
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("ok") == 2


def test_buckets_give_what_one_allreduce_per_array_gives(tmp_path):
    rc, out, err = mpirun("""
        rng = onp.random.default_rng(r)
        hs = [rng.standard_normal(s).astype(d) for s, d in
              [((300,), "float32"), ((7, 5), "float64"), ((1000,), "float32"), ((), "float32"),
               ((0,), "float32"), ((9,), "int64")]]
        one = [np.array(h) for h in hs]
        for a in one:
            D.allreduce(a)
        for limit in (64, 4096, 1 << 30):
            many = [np.array(h) for h in hs]
            D.allreduce_arrays(many, bucket_bytes=limit)
            for a, b in zip(one, many):
                assert a.dtype == b.dtype and (a.asnumpy() == b.asnumpy()).all(), (limit, a, b)
        print("ok")
    """, tmp_path)
    assert rc == 0, out + err


def test_a_rank_that_raises_stops_the_job_naming_it(tmp_path):
    rc, out, err = mpirun("""
        if r == 1:
            raise ValueError("bad batch on this rank")
        D.allreduce(np.ones(3))         # rank 0 would wait here forever
        print("rank 0 went on")
    """, tmp_path, timeout=120)
    assert rc != 0
    assert "rank 1 of 2 raised ValueError: bad batch on this rank" in err
    assert "rank 0 went on" not in out


def test_a_rank_that_dies_stops_the_job(tmp_path):
    rc, out, err = mpirun("""
        import os, signal
        if r == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        D.allreduce(np.ones(3))
        print("rank 0 went on")
    """, tmp_path, timeout=120, env={"CLGRAD_DIST_TIMEOUT": "30"})
    assert rc != 0
    assert "rank 0 went on" not in out


def test_a_collective_that_a_rank_never_joins_times_out(tmp_path):
    rc, out, err = mpirun("""
        import threading
        if r == 0:
            D.allreduce(np.ones(3), name="grads")
        else:
            threading.Event().wait()                    # never joins the collective
    """, tmp_path, timeout=120, env={"CLGRAD_DIST_TIMEOUT": "3"})
    assert rc != 0
    assert "rank 0: allreduce 'grads' did not complete within 3 s" in err


def test_ranks_with_different_parameters_are_told_at_start(tmp_path):
    rc, out, err = mpirun("""
        from clgrad import gluon
        net = gluon.nn.Dense(4 + r, in_units=3)
        net.initialize()
        try:
            gluon.Trainer(net.collect_params(), "sgd", kvstore="dist_sync")
        except D.DistributedError as e:
            print(f"refused: {e}", flush=True)      # (one write: the ranks share stdout)
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("broadcast_parameters: parameter 'bias (#0)'") == 2, out


def _losses(path):
    import json
    return json.loads(Path(path).read_text())


def test_distributed_digits_training_follows_one_process_step_by_step(tmp_path):
    args = [str(ROOT / "examples" / "train_digits.py"), "--epochs", "1", "--steps", "6",
            "--out", str(tmp_path / "out")]
    one = subprocess.run([sys.executable] + args + ["--loss-log", str(tmp_path / "one.json")],
                         cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=240)
    assert one.returncode == 0, one.stdout + one.stderr
    rc, out, err = mpirun(None, tmp_path, script=args + ["--distributed", "--loss-log",
                                                         str(tmp_path / "two.json")])
    assert rc == 0, out + err
    a, b = _losses(tmp_path / "one.json"), _losses(tmp_path / "two.json")
    assert len(a) == len(b) == 6
    for x, y in zip(a, b):
        assert abs(x - y) <= 1e-5 * max(1.0, abs(x)), (a, b)


def test_distributed_trainer_averages_and_steps_with_the_local_batch(tmp_path):
    rc, out, err = mpirun("""
        from clgrad import autograd, gluon
        rng = onp.random.default_rng(0)
        X, Y = rng.standard_normal((8, 3)).astype("float32"), rng.standard_normal((8, 2))
        def run(trainer_cls, xs, ys, batch, **kw):
            np.random.seed(1)
            net = gluon.nn.Dense(2, in_units=3)
            net.initialize()
            tr = trainer_cls(net.collect_params(), "sgd", {"learning_rate": 0.1}, **kw)
            for _ in range(3):
                with autograd.record():
                    loss = gluon.loss.L2Loss()(net(np.array(xs)), np.array(ys.astype("float32")))
                loss.backward()
                tr.step(batch)
            return net.weight.data().asnumpy()
        mine = slice(r * 4, r * 4 + 4)
        hv = run(gluon.DistributedTrainer, X[mine], Y[mine], 4)
        ds = run(gluon.Trainer, X[mine], Y[mine], 8, kvstore="dist_sync")
        single = run(gluon.Trainer, X, Y, 8)
        assert onp.allclose(hv, single, atol=1e-6) and onp.allclose(ds, single, atol=1e-6), \\
            (hv, ds, single)
        print("ok")
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("ok") == 2


def test_a_world_of_one_without_mpirun(tmp_path):
    code = ("from clgrad import np, distributed as D\nD.init()\nassert D.size() == 1\n"
            "a = np.ones(3); D.allreduce(a); D.broadcast(a); D.barrier()\nprint('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


def test_buckets_reduced_during_backward_equal_one_allreduce(tmp_path):
    rc, out, err = mpirun("""
        from clgrad import autograd
        from clgrad.autograd import Function
        from clgrad.optimizer import Arena
        shapes = [(100,), (10, 10), (44,), (3,)]
        ws = [np.array(onp.full(s, 1.0 + k, "float32")) for k, s in enumerate(shapes)]
        try:
            D.Buckets(np.zeros(400), [np.zeros(3)], average=False)
            raise AssertionError("accepted")
        except D.DistributedError as e:
            assert "not inside" in str(e), e
        def fresh(req="write"):
            global flat, views
            arena = Arena(shapes, "float32", ws[0].device)      # 128-element aligned views
            flat, views = arena.flat, arena.views
            autograd.mark_variables(ws, views, req)
            b = D.Buckets(flat, views, average=False, bucket_bytes=450)
            b.bind(ws)
            return b
        def loss():
            with autograd.record():
                return sum(((w * w) * (r + 1)).sum() for w in ws)
        want = [2 * w.asnumpy() * 3 for w in ws]        # d/dw of w^2 (r + 1), summed: 2w * 3

        b = fresh()
        assert len(b.ranges) == 3, b.ranges             # 400 | 400 | 176 + 12 bytes
        loss().backward()
        assert b.submitted == 3, b.submitted            # every bucket left during backward
        b.finish()
        for v, w in zip(views, want):
            assert onp.array_equal(v.asnumpy(), w), (v, w)

        b = fresh("add")                                # two passes before the step: redone
        loss().backward()
        loss().backward()
        b.finish()
        for v, w in zip(views, want):
            assert onp.array_equal(v.asnumpy(), 2 * w), (v, w)

        class Fails(Function):
            def forward(self, x):
                return x * 1
            def backward(self, dy):
                raise RuntimeError("vjp failed")
        b = fresh()
        for v in views:
            v[:] = r + 1                                # what the arena holds before
        x = np.ones(3); x.attach_grad()
        with autograd.record():
            bad = (Fails()(x) * ws[3]).sum() + (ws[2] * 2).sum()
        try:
            bad.backward()                              # ws[2], ws[3] final, then the vjp fails
            raise AssertionError("no error")
        except RuntimeError as e:
            assert "vjp failed" in str(e)
        assert b.submitted == 1, b.submitted            # (ws[2] and ws[3]'s bucket)
        b.finish()                                      # the arena's values, not the callbacks'
        for v in views:
            assert (v.asnumpy() == 3).all(), v
        print("ok", flush=True)
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("ok") == 2


def test_the_arena_padding_between_gradients_travels_as_zeros(tmp_path):
    """A bucket's host buffer spans the arena's padding between views, which no gradient read
    fills: it travels as zeros (it once carried whatever the allocator left there: here an inf
    of each sign, made NaN by the sum, a warning on the float16 wire, garbage in the arena)."""
    rc, out, err = mpirun("""
        import warnings
        from clgrad import autograd
        from clgrad.optimizer import Arena
        warnings.simplefilter("error")                  # the float16 sum warns on inf - inf
        shapes = [(100,), (10, 10), (44,), (3,)]
        ws = [np.array(onp.full(s, 1.0 + k, "float32")) for k, s in enumerate(shapes)]
        for compression in (None, "fp16"):
            arena = Arena(shapes, "float32", ws[0].device)  # views 64-element aligned: gaps
            flat, views = arena.flat, arena.views
            autograd.mark_variables(ws, views)
            b = D.Buckets(flat, views, average=False, bucket_bytes=450, compression=compression)
            b.bind(ws)
            for start, stop in b.ranges:                # freed blocks the host buffers reuse
                p = onp.full(stop - start, onp.inf if r else -onp.inf, "float32")
                del p
            with autograd.record():
                loss = sum(((w * w) * (r + 1)).sum() for w in ws)
            loss.backward()
            b.finish()
            got = flat.asnumpy()
            inside = onp.zeros(flat.size, bool)
            for v, w in zip(views, ws):
                start = v._offset - flat._offset
                inside[start:start + v.size] = True
                assert onp.array_equal(v.asnumpy(), 2 * w.asnumpy() * 3), (compression, v)
            assert (got[~inside] == 0).all(), (compression, got[~inside])
        print("ok", flush=True)
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("ok") == 2


def test_trainer_overlap_and_compression(tmp_path):
    rc, out, err = mpirun("""
        import os
        from clgrad import autograd, gluon
        from clgrad.distributed import buckets
        rng = onp.random.default_rng(0)
        X, Y = rng.standard_normal((16, 20)).astype("float32"), rng.integers(0, 4, 16)
        mine = slice(r * 8, r * 8 + 8)
        def run(overlap, **kw):
            os.environ["CLGRAD_DIST_OVERLAP"] = "1" if overlap else "0"
            np.random.seed(1)
            net = gluon.nn.HybridSequential()
            net.add(gluon.nn.Dense(32, activation="relu", in_units=20), gluon.nn.Dense(4))
            net.initialize()
            tr = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01},
                               kvstore="dist_sync", **kw)
            loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
            for _ in range(4):
                with autograd.record():
                    loss = loss_fn(net(np.array(X[mine])), np.array(Y[mine].astype("float32")))
                loss.backward()
                tr.step(16)
            return [p.data().asnumpy() for p in net.collect_params().values()]
        buckets.BUCKET_BYTES = 1024                     # several buckets per group
        os.environ["CLGRAD_DIST_OVERLAP"] = "1"
        assert D.overlap_wanted()                       # (Open MPI gives MPI_THREAD_MULTIPLE)
        plain, overlapped = run(False), run(True)
        for a, b in zip(plain, overlapped):
            assert onp.array_equal(a, b), (a, b)
        fp16 = run(True, compression_params={"type": "fp16"})
        for a, b in zip(plain, fp16):
            assert onp.allclose(a, b, rtol=2e-2, atol=2e-3), abs(a - b).max()
        try:
            D.allreduce(np.ones(2), compression="2bit")
            raise AssertionError("accepted")
        except D.DistributedError as e:
            assert "compression must be one of" in str(e)
        h = np.array([1.0, 1e-4, 3.0]) * (r + 1)
        D.allreduce(h, average=False, compression="fp16")
        assert onp.allclose(h.asnumpy(), [3.0, 3e-4, 9.0], rtol=1e-3), h
        print("ok", flush=True)
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("ok") == 2


def test_mismatched_allgather_and_a_bad_timeout_are_errors(tmp_path):
    rc, out, err = mpirun("""
        try:
            D.allgather(np.ones((2, 3 + r)))
            raise AssertionError("accepted")
        except D.DistributedError as e:
            assert "must agree but in their first dimension" in str(e), e
        os_env = __import__("os").environ
        os_env["CLGRAD_DIST_TIMEOUT"] = "soon"
        try:
            D.barrier()
            raise AssertionError("accepted")
        except D.DistributedError as e:
            assert "CLGRAD_DIST_TIMEOUT must be a number of seconds, got 'soon'" in str(e), e
        print("ok", flush=True)
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("ok") == 2


def test_float16_on_the_wire_for_every_float_dtype_shape_and_layout(tmp_path):
    """compression='fp16': the float16 sum of the float16-rounded values (averaged after), for
    every float dtype, 0-d and strided arrays; the result is the array passed, reduced in place."""
    rc, out, err = mpirun("""
        rng = onp.random.default_rng(3)
        for dt in ["float32", "float64", "float16"]:
            for shape in [(3, 5), (), (1000,), (4, 6)]:
                hs = [rng.standard_normal(shape).astype(dt) * 10 for _ in range(n)]
                for average in (False, True):
                    a = np.array(hs[r])
                    v = a.T if a.ndim == 2 else a       # a strided view too
                    res = D.allreduce(v, average=average, compression="fp16")
                    want = sum(h.astype("float16").astype("float64") for h in hs)
                    want = want.astype("float16").astype("float64")
                    if average:
                        want = want / n
                    got = v.asnumpy().astype("float64")
                    got = got.T if a.ndim == 2 else got
                    assert res is v and got.shape == shape and v.dtype == dt, (dt, shape)
                    assert onp.allclose(got, want, rtol=2e-3, atol=1e-3), (dt, shape, got, want)
        print("ok", flush=True)
    """, tmp_path)
    assert rc == 0, out + err
    assert out.count("ok") == 2


@pytest.mark.parametrize("svm", ["", "svm=0"])
def test_allreduce_of_large_arrays_host_shared_or_mapped(tmp_path, svm):
    """Arrays of ``hostshared.MIN_BYTES`` and more are reduced in the buffer's own memory on a
    CPU device with fine-grained SVM (no map), and in the mapped buffer without it (``svm=0``):
    both give the sum, for arrays still being computed, of several dtypes, and for a view at an
    offset into its buffer."""
    from clgrad.runtime import default_device
    dev = default_device()
    shared = not svm and dev.caps.kind == "cpu" and dev.caps.fine_svm and not dev.is_simulator
    limits = ",".join(filter(None, [os.environ.get("CLGRAD_DEVICE_LIMITS"), svm]))
    rc, out, err = mpirun("""
        from clgrad.runtime import hostshared
        m = hostshared.MIN_BYTES + 333                  # elements: over MIN_BYTES in any dtype
        seen = set()
        for dt in ["float32", "int32", "float64", "uint8"]:
            base = onp.arange(m) % 40                  # no sum overflows uint8
            a = np.array((base + r).astype(dt)) * 1     # still queued when allreduce starts
            res = D.allreduce(a, average=False)
            want = (base * n + sum(range(n))).astype(dt)
            assert res is a and a.dtype == dt and (a.asnumpy() == want).all(), dt
            big = np.array((base * (r + 1)).astype(dt))
            part = big[100:100 + m // 2]                # starts 100 elements into the buffer
            D.allreduce(part)                           # average (floor for integers)
            avg = base[100:100 + m // 2] * sum(range(1, n + 1)) / n
            avg = onp.floor(avg) if onp.dtype(dt).kind in "iu" else avg
            assert onp.allclose(part.asnumpy().astype("float64"), avg), dt
            seen.add(a.device.host_array(a._storage.buffer, 0, 1, a.dtype) is not None)
        print(f"ok shared={seen.pop()} {len(seen)}", flush=True)
    """, tmp_path, env={"CLGRAD_DEVICE_LIMITS": limits})
    assert rc == 0, out + err
    assert out.count(f"ok shared={shared} 0") == 2, out
