"""What the hybridize tests share: a call's eager result beside its replayed one."""
from clgrad import npx
from clgrad.ops.launch import launch_count


def replay(fn, *args):
    """(eager result, replayed result, launches of one replay, describe text): ``fn`` run
    eagerly, then hybridized, captured and replayed once."""
    want = fn(*args).asnumpy()
    h = npx.hybridize(fn)
    h(*args)
    before = launch_count()
    got = h(*args)
    n = launch_count() - before
    return want, got.asnumpy(), n, h.describe()
