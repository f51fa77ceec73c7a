"""A tour of clgrad's autograd, one short section per feature.

Run:  PYTHONPATH=. python examples/autograd_tour.py

Every section computes something small on the default OpenCL device and prints it next to
the value worked out by hand, so the output doubles as a check.
"""
from clgrad import MXNetError, autograd, np


def section(title):
    print(f"\n== {title} ==")


# 1. Record a computation, then differentiate it ------------------------------------------------
section("record + attach_grad + backward")
w = np.array([0.5, -1.0, 2.0])
w.attach_grad()                      # allocate w.grad (zeros) and mark w as a variable
with autograd.record():              # ops on w inside this block build a graph
    loss = (w * w * 3).sum()         # loss = 3 * sum(w^2)
loss.backward()                      # d loss / d w = 6 w
print("loss      =", loss.item())
print("w.grad    =", w.grad, "  (6 w =", (6 * w), ")")

# A head with several elements behaves as if it were summed first.
with autograd.record():
    v = w * w * 3
v.backward()
print("non-scalar head, same gradient:", w.grad)

# A weighted head: pass the gradient of some outer function of v.
with autograd.record():
    v = w * w * 3
v.backward(np.array([1.0, 2.0, 0.5]))
print("weighted head:", w.grad, "  (6 w * [1, 2, 0.5])")

# 2. A graph is freed by backward unless asked to keep it ----------------------------------------
section("retain_graph")
with autograd.record():
    loss = (w * w).sum()
loss.backward(retain_graph=True)
first = w.grad.copy()
loss.backward()                      # the graph was kept, so this works (and frees it)
print("twice the same gradient:", first, w.grad)
try:
    loss.backward()
except MXNetError as e:
    print("third backward refused:", str(e).split(".")[0] + ".")

# 3. grad_req: write (default), add, null ------------------------------------------------------
section("grad_req")
acc = np.array([1.0, 2.0])
acc.attach_grad(grad_req="add")      # accumulate over several backward calls
for step in range(3):
    with autograd.record():
        y = (acc * (step + 1)).sum()
    y.backward()
print("add over steps 1+2+3:", acc.grad, "  (6 each)")
frozen = np.array([5.0, 5.0])
frozen.attach_grad(grad_req="null")  # a constant: no graph is built through it alone
with autograd.record():
    y = (acc * frozen).sum()
y.backward()
print("null variable keeps zeros:", frozen.grad, "; acc.grad now", acc.grad)

# 4. Training vs prediction behaviour -----------------------------------------------------------
section("train_mode / predict_mode")


def noisy_scale(x):
    """Scales by 4 while training, passes through when predicting (like dropout's rescale)."""
    return x * 4 if autograd.is_training() else x


x = np.array([1.0, 2.0])
x.attach_grad()
print("outside record: recording", autograd.is_recording(), "training", autograd.is_training())
with autograd.record():              # train_mode=True by default
    y = noisy_scale(x)
y.backward()
print("record():                gradient", x.grad)
with autograd.record(train_mode=False):
    y = noisy_scale(x)
y.backward()
print("record(train_mode=False): gradient", x.grad)
with autograd.record():
    with autograd.predict_mode():    # switch behaviour, keep recording
        y = noisy_scale(x)
y.backward()
print("predict_mode inside record: gradient", x.grad)
with autograd.train_mode():
    print("train_mode() alone: training", autograd.is_training(),
          "recording", autograd.is_recording())

# 5. Recording can be opened inside a helper, and graphs span record blocks ---------------------
section("record inside a function; graphs across blocks")


def doubled(a):
    with autograd.record():
        return a * 2                 # leaving through return still closes the scope


h = doubled(x)
with autograd.record():              # a second block keeps building on h's graph
    z = (h * h).sum()
z.backward()
print("d/dx sum((2x)^2) = 8x:", x.grad)

# 6. Python control flow: only the branch that ran is in the graph ------------------------------
section("control flow")


def grow_then_pick(a):
    b = a * 2
    while np.abs(b).sum() < 100:     # reads device values to decide how often to loop
        b = b * 2
    return b[0] if b.sum() >= 0 else b[1]


a = np.array([0.3, -0.2])
a.attach_grad()
with autograd.record():
    c = grow_then_pick(a)
c.backward()
print("picked", c.item(), "; gradient", a.grad, "(c / a[0] =", (c / a[0]).item(), ")")

# 7. attach_grad on an intermediate cuts it from its history ------------------------------------
section("attach_grad detaches")
with autograd.record():
    mid = 3 * x
    mid.attach_grad()                # from here on, mid is a variable of its own
    out = (4 * mid + 2 * x).sum()
out.backward()
print("x.grad", x.grad, "(only the direct 2x term)", "; mid.grad", mid.grad)
with autograd.record():
    mid = 3 * x
    out = (4 * mid + 2 * x).sum()
out.backward()
print("without the cut: x.grad", x.grad, "(4*3 + 2)", "; mid.grad", mid.grad)
with autograd.record():
    out = (x * np.sin(x).detach()).sum()     # detach(): use the value, not the history
out.backward()
print("through detach only the direct factor flows:", x.grad, "= sin(x)", np.sin(x))

# 8. A custom Function supplies its own backward ---------------------------------------------------
section("custom Function")


class SoftClip(autograd.Function):
    """y = x / (1 + |x|), whose derivative is 1 / (1 + |x|)^2; it saves what backward reads."""

    def forward(self, x):
        d = 1 + np.abs(x)
        self.save_for_backward(d)
        return x / d

    def backward(self, dy):
        (d,) = self.saved_tensors
        return dy / (d * d)


s = np.array([-3.0, 0.0, 1.0])
s.attach_grad()
with autograd.record():
    y = SoftClip()(s)                # each instance is called once
y.backward()
print("soft-clipped", y, "; gradient", s.grad, "(1/16, 1, 1/4)")


class TwoWay(autograd.Function):
    """Two inputs, two outputs: (p + q, p * q)."""

    def forward(self, p, q):
        self.save_for_backward(p, q)
        return p + q, p * q

    def backward(self, d_sum, d_prod):
        p, q = self.saved_tensors
        return d_sum + d_prod * q, d_sum + d_prod * p


p, q = np.array([2.0]), np.array([5.0])
p.attach_grad()
q.attach_grad()
with autograd.record():
    total, prod = TwoWay()(p, q)
    y = total + 10 * prod
y.backward()
print("d/dp =", p.grad, "(1 + 10 q) ; d/dq =", q.grad, "(1 + 10 p)")

# 9. autograd.grad: return gradients, and differentiate them again -----------------------------
section("autograd.grad and second derivatives")
t = np.array([0.0, 0.5, 1.0])
t.attach_grad()
with autograd.record():
    y = np.sin(t) * t                # y' = cos t * t + sin t ;  y'' = 2 cos t - t sin t
    (dy,) = autograd.grad(y, [t], create_graph=True)   # dy is itself recorded
dy.backward()                        # so this differentiates the first derivative
print("y'  =", dy)
print("y'' =", t.grad, "  expected", 2 * np.cos(t) - t * np.sin(t))
with autograd.record():
    y = (t ** 3).sum()
(g,) = autograd.grad(y, [t])         # plain values; t.grad is left as it was
print("grad of sum(t^3) without create_graph:", g, "; t.grad unchanged:", t.grad)

# 10. In-place writes to saved arrays are caught, not silently wrong -----------------------------
section("in-place safety")
with autograd.record():
    e = x * 1
    f = (e * e).sum()                # multiply saved e for its gradient
e[0] = 100.0                         # ...which is now overwritten
try:
    f.backward()
except MXNetError as err:
    print("backward refused:", str(err).split(" (")[0])
