"""The oracle's programs: each runs under MXNet 1.9.1 and under clgrad (``runner.py``), and
every value, dtype, shape and exception category it shows must agree (``test_oracle.py``;
the known differences are listed there, each with clgrad's expected value and the reason)."""

SNIPPETS = {}


def snippet(name, code):
    SNIPPETS[name] = code


# --- creation and printing ---------------------------------------------------------------------
snippet("creation", """
show("arange", np.arange(5))
show("arange int", np.arange(2, 8, 2, dtype='int32'))
show("array ints", np.array([1, 2, 3]))
show("array floats", np.array([[1.5, 2], [3, 4]]))
show("array bool", np.array([True, False]))
show("zeros", np.zeros((2, 3)))
show("ones int", np.ones((2,), dtype='int64'))
show("full", np.full((2, 2), 7))
show("eye", np.eye(3, k=1))
show("linspace", np.linspace(0, 1, 5))
show("empty shape", np.empty((3, 0)).shape)
show("zeros_like", np.zeros_like(np.ones((2, 2), dtype='int32')))
show("type", type(np.ones(2)))
show("isinstance", isinstance(np.ones(2), np.ndarray))
show("tolist", np.array([[1, 2], [3, 4]]).tolist())
show("item", np.array([2.5]).item())
show("size ndim", (np.ones((2, 3)).size, np.ones((2, 3)).ndim))
""")

# --- dtype promotion ---------------------------------------------------------------------------
_DTS = ["bool", "int8", "uint8", "int32", "int64", "float16", "float32", "float64"]
snippet("binary promotion", f"""
for a in {_DTS!r}:
    for b in {_DTS!r}:
        if {{a, b}} == {{'int8', 'uint8'}}:
            continue        # a known difference, checked on its own
        show(a + '+' + b, str((np.ones(2, dtype=a) + np.ones(2, dtype=b)).dtype))
""")
snippet("int8 plus uint8", """
show("dtype", str((np.ones(2, dtype='int8') + np.ones(2, dtype='uint8')).dtype))
""")
snippet("scalar promotion", """
for d in ['bool', 'int8', 'uint8', 'int32', 'int64', 'float16', 'float32', 'float64']:
    x = np.ones(2, dtype=d)
    show(d + ' + 1', str((x + 1).dtype))
    if d != 'bool':
        show(d + ' - 1', str((x - 1).dtype))
    show(d + ' / 2', str((x / 2).dtype))
    show('exp ' + d, str(np.exp(x).dtype))
    show('true_divide ' + d, str(np.true_divide(x, x).dtype))
""")
snippet("int times float scalar", """
show("value", np.ones(2, dtype='int32') * 2.5)
""")
snippet("reduction dtypes", """
for d in ['bool', 'int8', 'uint8', 'int32', 'int64', 'float16', 'float32', 'float64']:
    x = np.ones(3, dtype=d)
    for f in ['sum', 'prod', 'mean', 'max', 'min', 'cumsum']:
        show(f + ' ' + d, str(getattr(np, f)(x).dtype))
    show('argmax ' + d, str(np.argmax(x).dtype))
""")

# --- elementwise and reductions ----------------------------------------------------------------
snippet("elementwise", """
x = np.array([[-1.5, 0.0, 2.0], [3.0, -4.0, 0.5]])
for f in ['abs', 'negative', 'exp', 'log1p', 'sqrt', 'square', 'sign', 'floor', 'ceil', 'tanh',
          'sin', 'cos', 'arctan', 'sinh', 'expm1', 'rint', 'trunc', 'reciprocal', 'cbrt']:
    show(f, getattr(np, f)(np.abs(x) + 0.25 if f in ('sqrt', 'reciprocal') else x))
y = np.array([2.0, -1.0, 0.5])
for f in ['add', 'subtract', 'multiply', 'true_divide', 'power', 'maximum', 'minimum', 'mod',
          'arctan2', 'hypot', 'greater', 'less_equal', 'equal', 'not_equal', 'copysign']:
    show(f, getattr(np, f)(np.abs(x) if f == 'power' else x, y))
show("where", np.where(x > 0, x, -1))
show("clip", np.clip(x, -1, 1))
i = np.array([7, -7, 3], dtype='int32')
show("int ops", (i % 3, np.mod(i, -2), np.remainder(i, 4)))
t, u = np.array([True, False], dtype=bool), np.array([True, True], dtype=bool)
show("bool ops", (t & u, t | u, np.logical_not(t)))
show("list of bools", np.array([True, False]))
""")
snippet("reductions", """
x = np.arange(24).reshape(2, 3, 4)
show("sum", x.sum())
show("sum axis", x.sum(axis=1))
show("sum axes keepdims", np.sum(x, axis=(0, 2), keepdims=True))
show("mean", x.mean(axis=0))
show("max", x.max(axis=-1))
show("min", np.min(x, axis=(1, 2)))
show("prod", np.prod(np.array([1, 2, 3, 4])))
show("std var", (np.std(x), np.var(x, axis=1)))
show("argmax argmin", (np.argmax(x, axis=2), np.argmin(x)))
show("cumsum", np.cumsum(x, axis=1))
show("all any", (np.all(x > -1), np.any(x > 22, axis=0)))
show("int sum", np.array([1, 2, 3], dtype='int32').sum())
show("uint8 sum", np.array([200, 100], dtype='uint8').sum())
""")

# --- Python scalars beyond an operand type's range ------------------------------------------------
snippet("scalars beyond the range", """
a = np.array([1, 2], dtype='int32')
show("int32 + 2**31", a + 2 ** 31)
show("int64 + 2**63", np.array([1], dtype='int64') + 2 ** 63)
show("uint8 + 300", np.array([1], dtype='uint8') + 300)
show("uint8 + -1", np.array([1], dtype='uint8') + -1)
show("int8 + 200", np.array([1], dtype='int8') + 200)
show("int8 + -200", np.array([1], dtype='int8') + -200)
show("int8 + 2**40", np.array([1], dtype='int8') + 2 ** 40)
show("int8 == 256", np.array([0], dtype='int8') == 256)
show("uint8 == -1", np.array([255], dtype='uint8') == -1)
show("uint8 > -1", np.array([0], dtype='uint8') > -1)
show("full int32 2**31", np.full(2, 2 ** 31, dtype='int32'))
show("full int8 200", np.full(2, 200, dtype='int8'))
show("full uint8 300", np.full(2, 300, dtype='uint8'))
show("full uint8 -1", np.full(2, -1, dtype='uint8'))
show("array int32 2**40", np.array([2 ** 40, 1], dtype='int32'))
show("array uint8 300", np.array([300], dtype='uint8'))
b = np.array([1, 2], dtype='uint8')
b[0] = 300
show("setitem uint8 300", b)
show("float16 + 1e6", np.array([1], dtype='float16') + 1e6)
show("float32 + 1e40", np.array([1], dtype='float32') + 1e40)
show("full float16 1e6", np.full(2, 1e6, dtype='float16'))
raises("float32 + 2**1100", lambda: np.array([1], dtype='float32') + 2 ** 1100)
# known differences: MXNet 1.9.1 converts through a double, which x86 turns into the type's
# minimum beyond int32 and int64
show("int32 + (2**32 + 5)", a + (2 ** 32 + 5))
show("int32 * 2**40", a * 2 ** 40)
show("int32 == 2**40", np.array([0], dtype='int32') == 2 ** 40)
show("full int32 1e20", np.full(2, 1e20, dtype='int32'))
show("int32 0 ** -1", np.array([0, 2], dtype='int32') ** -1)
""")
snippet("sampler parameters", """
# (MXNet reports a failed op when its result is read)
raises("normal scale < 0", lambda: np.random.normal(0, -1, size=3).asnumpy())
raises("uniform low > high", lambda: np.random.uniform(1, 0, size=3).asnumpy())
raises("multinomial sum > 1", lambda: np.random.multinomial(5, [0.7, 0.6, 0.1]).asnumpy())
raises("bernoulli array prob > 1",
       lambda: npx.random.bernoulli(prob=np.array([0.5, 2.0])).asnumpy())
# known differences
raises("normal scale nan", lambda: np.random.normal(0, float('nan'), size=3).asnumpy())
raises("multinomial negative pvals",
       lambda: np.random.multinomial(5, [0.5, -0.1, 0.6]).asnumpy())
""")

# --- views and copies --------------------------------------------------------------------------
snippet("views and copies", """
forms = {
    "reshape": lambda x: x.reshape(3, 4), "np.reshape": lambda x: np.reshape(x, (3, 4)),
    "reshape same": lambda x: x.reshape(12), "ravel": lambda x: np.ravel(x),
    "flatten": lambda x: x.flatten(), "T": lambda x: x.reshape(3, 4).T,
    "swapaxes": lambda x: np.swapaxes(x.reshape(3, 4), 0, 1),
    "expand_dims": lambda x: np.expand_dims(x, 0),
    "squeeze": lambda x: np.squeeze(x.reshape(1, 12)),
    "slice": lambda x: x[2:6], "step": lambda x: x[::2], "ellipsis": lambda x: x[...],
    "colon": lambda x: x[:], "newaxis": lambda x: x[None], "copy": lambda x: x.copy(),
    "array": lambda x: np.array(x), "row": lambda x: x.reshape(3, 4)[1],
}
for name, f in forms.items():
    x = np.arange(12).astype('float32')
    r = f(x)
    r[(0,) * r.ndim] = 100
    show(name + ": result write reaches source", bool((x == 100).any()))
    x = np.arange(12).astype('float32')
    r = f(x)
    x[:] = 50
    show(name + ": source write reaches result", bool((r == 50).all()))
x = np.arange(12).reshape(3, 4)
r = x[1:2, 1:3]
r[0, 0] = 100
show("2-d contiguous slice", x)
x = np.arange(12).reshape(3, 4)
c = x[:, 1]
c[0] = 100
show("column", x)
X = np.arange(12).reshape(3, 4)
x = X.reshape(-1)
X[1, 2] = 17
show("d2l reshape", (x, X))
""")

# --- indexing ----------------------------------------------------------------------------------
snippet("indexing", """
x = np.arange(24).reshape(2, 3, 4)
show("int", x[1])
show("ints", x[1, 2])
show("slice", x[:, 1:3])
show("neg step", x[::-1, ::-2])
show("ellipsis", x[..., 1])
show("None", x[None, :, None].shape)
show("int array", x[np.array([1, 0, 1])])
show("list", x[[0, 1], [2, 0]])
show("mixed", x[:, [2, 0], 1:3])
show("bool mask", x[x > 20])
show("float index", np.arange(5)[np.array([1.0, 2.7, -1.2])])
show("arange index", np.arange(10)[np.arange(3)])
y = np.zeros((3, 4))
y[1] = 5
y[:, 2] = np.array([1, 2, 3])
y[np.array([0, 2]), np.array([3, 0])] = 9
show("setitem", y)
raises("out of range", lambda: x[5])
raises("too many", lambda: x[0, 0, 0, 0])
""")

# --- shapes and manipulation -------------------------------------------------------------------
snippet("manipulation", """
a = np.arange(6).reshape(2, 3)
b = np.ones((2, 3))
show("concatenate", np.concatenate([a, b], axis=1))
show("stack", np.stack([a, b]))
show("split", np.split(np.arange(6), 3))
show("transpose", np.transpose(np.arange(24).reshape(2, 3, 4), (1, 2, 0)).shape)
show("tile repeat", (np.tile(a, (2, 1)), np.repeat(np.array([1, 2]), 2)))
show("flip", np.flip(a, axis=1))
show("broadcast_to", np.broadcast_to(np.array([1, 2, 3]), (2, 3)))
show("meshgrid xy", np.meshgrid(np.array([1, 2, 3]), np.array([4, 5])))
show("meshgrid ij", np.meshgrid(np.array([1, 2, 3]), np.array([4, 5]), indexing='ij'))
show("sort argsort", (np.sort(np.array([3, 1, 2])), np.argsort(np.array([3, 1, 2]))))
show("unique", np.unique(np.array([3, 1, 3, 2])))
show("pad", np.pad(a, ((1, 0), (0, 2))))
raises("reshape bad", lambda: a.reshape(4, 2))
raises("concatenate bad", lambda: np.concatenate([a, np.ones((3, 3))], axis=1))
""")
snippet("npx reshape codes", """
a = np.ones((2, 1, 3, 4))
for codes in [(-2, -1), (-4,), (2, -4), (-5, -2, -2), (-2, -3, -6, 1, -1, 4), (-2, -2, -1),
              (-2, -3, -5), (-1,), (-6, 1, 2, -4)]:
    show(str(codes), npx.reshape(a, codes).shape)
show("reverse", npx.reshape(np.ones((10, 5, 4)), (-1, 20), reverse=True).shape)
raises("-3 on 2", lambda: npx.reshape(a, (-3, -1)))
""")

# --- linear algebra ----------------------------------------------------------------------------
snippet("linalg", """
a = np.arange(6).reshape(2, 3).astype('float32')
b = np.arange(12).reshape(3, 4).astype('float32')
show("dot", np.dot(a, b))
show("matmul", np.matmul(a, b))
show("vector dot", np.dot(np.array([1., 2.]), np.array([3., 4.])))
show("batch_dot", npx.batch_dot(np.ones((2, 3, 4)), np.ones((2, 5, 4)), transpose_b=True))
show("norm", np.linalg.norm(a))
show("tensordot", np.tensordot(a, b, axes=1))
show("outer", np.outer(np.array([1., 2.]), np.array([3., 4., 5.])))
raises("matmul bad", lambda: np.matmul(a, a))
""")

# --- npx neural-network ops --------------------------------------------------------------------
snippet("npx nn", """
x = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])
show("relu", npx.relu(x))
show("sigmoid", npx.sigmoid(x))
show("softmax", npx.softmax(x))
show("log_softmax", npx.log_softmax(x, axis=0))
show("activation", (npx.activation(x, act_type='tanh'), npx.activation(x, act_type='softrelu')))
show("leaky", npx.leaky_relu(x, slope=0.1))
show("one_hot", npx.one_hot(np.array([0, 2, 1]), 3))
show("pick", npx.pick(x, np.array([2, 0]), axis=1))
show("sequence_mask", npx.sequence_mask(np.arange(6.).reshape(3, 2), np.array([1., 3.]),
                                        use_sequence_length=True, value=-1))
show("sequence_mask axis 1", npx.sequence_mask(np.arange(6.).reshape(2, 3), np.array([1., 2.]),
                                               use_sequence_length=True, value=-1, axis=1))
show("topk", npx.topk(np.array([1., 5., 3., 4.]), k=2))
raises("bad act_type", lambda: npx.activation(x, act_type='nope'))
""")

# --- random: shapes, dtypes, seeding (MXNet's draws are its own) --------------------------------
snippet("random", """
show("uniform", (np.random.uniform(size=(2, 3)).shape, str(np.random.uniform(size=2).dtype)))
show("normal", np.random.normal(0, 1, size=(4,)).shape)
show("randint dtype", str(np.random.randint(0, 5, size=3).dtype))
show("multinomial 1", (np.random.multinomial(1, np.ones(6) / 6).shape,
                       str(np.random.multinomial(1, np.ones(6) / 6).dtype),
                       int(np.random.multinomial(1, np.ones(6) / 6).sum())))
m = np.random.multinomial(10, np.ones(6) / 6, size=500)
show("multinomial size", (m.shape, int(m.sum())))
show("multinomial shape", np.random.multinomial(5, [0.5, 0.5], size=(2, 2)).shape)
mx.random.seed(5)
a = np.random.uniform(size=4)
mx.random.seed(5)
show("mx.random.seed repeats", bool((np.random.uniform(size=4) == a).all()))
npx.random.seed(5)
show("npx.random.seed repeats", bool((np.random.uniform(size=4) == a).all()))
x = np.ones((100,))
mx.random.seed(1)
with autograd.record():
    d1 = npx.dropout(x, p=0.5)
mx.random.seed(1)
with autograd.record():
    d2 = npx.dropout(x, p=0.5)
show("dropout repeats", bool((d1 == d2).all()))
show("dropout predict", npx.dropout(np.ones(4), p=0.5))
""")

# --- autograd ----------------------------------------------------------------------------------
snippet("autograd tutorial", """
x = np.array([[1, 2], [3, 4]])
x.attach_grad()
with autograd.record():
    y = 2 * x * x
y.backward()
show("grad", x.grad)
def f(a):
    b = a * 2
    while np.abs(b).sum() < 1000:
        b = b * 2
    return b if b.sum() >= 0 else 100 * b
a = np.array([0.5, -0.25])
a.attach_grad()
with autograd.record():
    c = f(a)
c.backward()
show("control flow", a.grad)
with autograd.record():
    z = (x * x).sum()
show("is_recording", autograd.is_recording())
z.backward()
show("sum grad", x.grad)
x.attach_grad(grad_req='add')
for _ in range(2):
    with autograd.record():
        w = x * 3
    w.backward()
show("grad_req add", x.grad)
v = np.array([1., 2.])
v.attach_grad()
with autograd.record():
    u = v * v
    g = np.array([10., 20.])
u.backward(g)
show("head grad", v.grad)
with autograd.record():
    u = v * v
(gv,) = autograd.grad(u, [v], head_grads=np.ones(2), create_graph=True)
show("autograd.grad", gv)
with autograd.record():
    p = v.detach() * v
p.backward()
show("detach", v.grad)
show("training flags", (autograd.is_training(), autograd.is_recording()))
with autograd.predict_mode():
    show("predict mode", autograd.is_training())
""")
snippet("autograd errors", """
class F(autograd.Function):
    def forward(self, x):
        return x * 2
    def backward(self, dy):
        return dy * 2
f = F()
x = np.ones(3)
x.attach_grad()
def twice():
    with autograd.record():
        f(x)
        f(x)
raises("function called twice", twice)
raises("bad grad_req", lambda: np.ones(2).attach_grad(grad_req='sometimes'))
w = np.ones(2)
w.attach_grad()
v = np.ones(2)
v.attach_grad()
with autograd.record():
    y = v * 2
raises("grad of an unreachable variable", lambda: autograd.grad(y, [v, w]))
with autograd.record():
    y = v * 2
y.backward()
show("backward leaves an unreachable grad at zero", w.grad)
def setitem_in_record():
    with autograd.record():
        y = v * 2
        y[1] = 0
raises("setitem on a recorded result", setitem_in_record)
show("recording after the error", autograd.is_recording())
def iadd_in_record():
    with autograd.record():
        y = v * 2
        y += 1
raises("+= on a recorded result", iadd_in_record)
def leaf_in_record():
    with autograd.record():
        x[0] = 5
raises("setitem on a leaf", leaf_in_record)
p = np.ones(3)
with autograd.record():
    p[0] = 5
    q = p * 2
show("setitem on a plain array", p)
raises("backward outside record", lambda: (np.ones(2) * 2).backward())
""")
snippet("freed graph is a constant", """
a = np.array([1., 2.])
a.attach_grad()
with autograd.record():
    y = a * a
y.backward()
b = np.array([3., 4.])
b.attach_grad()
with autograd.record():
    z = y * b
z.backward()
show("b.grad", b.grad)
show("a.grad", a.grad)
""")

# --- devices ---------------------------------------------------------------------------------
snippet("context names", """
show("cpu", str(mx.cpu()))
show("current", str(mx.context.current_context()))
show("Context", str(mx.context.Context('cpu', 0)))
show("isinstance", isinstance(mx.cpu(), mx.Context))
""")

# --- hostile arguments: each error must also be caught as MXNet's category -----------------------
snippet("hostile arguments", """
raises("ragged list", lambda: np.array([[1, 2], [3]]))
raises("string", lambda: np.array("abc"))
raises("list of strings", lambda: np.array(["a", "b"]))
raises("dict", lambda: np.array({"a": 1}))
raises("arange step 0", lambda: np.arange(0, 5, 0))
raises("linspace negative num", lambda: np.linspace(0, 1, -3))
raises("norm order bogus", lambda: np.linalg.norm(np.array([1., 2.]), ord='bogus'))
raises("two ellipses", lambda: np.ones((2, 2))[..., ...])
raises("meshgrid indexing", lambda: np.meshgrid(np.ones(2), np.ones(2), indexing='bad'))
raises("moveaxis counts", lambda: np.moveaxis(np.ones((2, 2)), [0, 1], [0]))
""")
