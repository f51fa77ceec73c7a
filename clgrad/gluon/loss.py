"""Gluon's losses (MXNet 2.x, NumPy mode).

Each loss is a HybridBlock mapping (pred, label, ...) to one value per sample: the elementwise
loss is scaled by ``sample_weight`` (broadcast to the loss's shape) and by the scalar ``weight``,
then averaged over every axis except ``batch_axis``. Everything is built from clgrad.np / npx
operations, so autograd differentiates the losses like any other expression.
"""
import math
import numbers

import numpy as _np

from .. import npx
from .. import numpy as np
from ..base import MXNetError, ShapeError
from ..ops.args import as_int as _as_int
from .block import HybridBlock

__all__ = ["Loss", "L2Loss", "L1Loss", "SigmoidBinaryCrossEntropyLoss", "SigmoidBCELoss",
           "SoftmaxCrossEntropyLoss", "SoftmaxCELoss", "KLDivLoss", "CTCLoss", "HuberLoss",
           "HingeLoss", "SquaredHingeLoss", "LogisticLoss", "TripletLoss", "PoissonNLLLoss",
           "CosineEmbeddingLoss", "LossArgumentError"]


class LossArgumentError(MXNetError, ValueError):
    """A loss built with an option it does not know (a bad ``label_format``, layout, weight)."""


class Loss(HybridBlock):
    """Base class of the losses: ``weight`` (a number or None) scales the loss, and
    ``batch_axis`` is the axis left after the per-sample mean."""

    _array_inputs = 2   # pred and label

    def __init__(self, weight, batch_axis, **kwargs):
        super().__init__(**kwargs)
        if weight is not None and (isinstance(weight, bool) or
                                   not isinstance(weight, numbers.Number)):
            raise LossArgumentError(f"{type(self).__name__}: weight must be a number or None, "
                                    f"got {weight!r}")
        self._weight = weight
        self._batch_axis = _as_int(batch_axis, "batch_axis", type(self).__name__, True)

    def __repr__(self):
        return f"{type(self).__name__}(batch_axis={self._batch_axis}, w={self._weight})"

    # --- helpers shared by the losses ---------------------------------------------------
    def _like(self, x, ref, what, ref_name="pred"):
        """``x`` reshaped to ``ref``'s shape; they must hold the same number of elements."""
        if x.shape == ref.shape:
            return x
        if x.size != ref.size:
            raise ShapeError(f"{type(self).__name__}: {what} of shape {x.shape} ({x.size} "
                             f"elements) does not match {ref_name} of shape {ref.shape} "
                             f"({ref.size} elements)")
        return x.reshape(ref.shape)

    def _weighted(self, loss, sample_weight, weight=None):
        """``loss * sample_weight * weight`` (MXNet's _apply_weighting). ``sample_weight`` must
        broadcast to the loss's own shape: a weight that would enlarge the loss (a (N,) weight
        against a (N, 1) loss, say) is refused rather than silently averaged."""
        if sample_weight is not None:
            shape = getattr(sample_weight, "shape", ())
            try:
                fits = _np.broadcast_shapes(loss.shape, shape) == loss.shape
            except ValueError:
                fits = False
            if not fits:
                raise ShapeError(f"{type(self).__name__}: sample_weight of shape {shape} does "
                                 f"not broadcast to the loss's shape {loss.shape}")
            loss = loss * sample_weight
        weight = self._weight if weight is None else weight
        if weight is not None:
            loss = loss * weight
        return loss

    def _per_sample(self, loss, reduce=np.mean):
        """``reduce`` over every axis except ``batch_axis``: one value per sample."""
        if not -loss.ndim <= self._batch_axis < loss.ndim:
            raise ShapeError(f"{type(self).__name__}: batch_axis {self._batch_axis} is out of "
                             f"range for a loss of shape {loss.shape}")
        keep = self._batch_axis % loss.ndim
        axes = tuple(a for a in range(loss.ndim) if a != keep)
        if axes and all(loss.shape[a] == 1 for a in axes) and loss.dtype.kind == "f" and \
                reduce in (np.mean, np.sum):
            # one value per sample already (a picked class, keepdims): the mean is the value,
            # a reshape of this loss's own temporary, not a kernel launch forward and backward
            # (the losses negate as ``0. - x``, +0.0 for a zero, as the mean's sum would give)
            return loss.reshape(loss.shape[keep])
        return reduce(loss, axis=axes) if axes else loss


def _log_sigmoid_loss(x, z):
    """-(z log(sigmoid(x)) + (1 - z) log(1 - sigmoid(x))) without overflow:
    max(x, 0) - x z + log(1 + exp(-|x|))."""
    return npx.relu(x) - x * z + npx.softplus(-np.abs(x))


class L2Loss(Loss):
    """0.5 * (pred - label)^2, averaged per sample (``weight`` defaults to 1)."""

    def __init__(self, weight=1., batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred, "label")
        loss = np.square(label - pred)
        half = 0.5 if self._weight is None else self._weight / 2
        return self._per_sample(self._weighted(loss, sample_weight, half))


class L1Loss(Loss):
    """|pred - label|, averaged per sample."""

    def __init__(self, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred, "label")
        loss = np.abs(label - pred)
        return self._per_sample(self._weighted(loss, sample_weight))


class SigmoidBinaryCrossEntropyLoss(Loss):
    """Binary cross-entropy of ``label`` in [0, 1] against sigmoid(pred) (or against ``pred``
    itself when ``from_sigmoid``). ``pos_weight``, broadcast against pred, scales the positive
    term."""

    def __init__(self, from_sigmoid=False, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_sigmoid = from_sigmoid

    def forward(self, pred, label, sample_weight=None, pos_weight=None):
        label = self._like(label, pred, "label")
        if not self._from_sigmoid:
            if pos_weight is None:
                loss = _log_sigmoid_loss(pred, label)
            else:
                # x - x z + (1 + (pw - 1) z) (log(1 + exp(-|x|)) + max(-x, 0)), stable for any x
                log_weight = 1 + (pos_weight - 1) * label
                loss = pred - pred * label + log_weight * (
                    npx.softplus(-np.abs(pred)) + npx.relu(-pred))
        else:
            eps = 1e-12
            positive = np.log(pred + eps) * label
            if pos_weight is not None:
                positive = positive * pos_weight
            loss = 0. - (positive + np.log(1. - pred + eps) * (1. - label))
        return self._per_sample(self._weighted(loss, sample_weight))


SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss


class SoftmaxCrossEntropyLoss(Loss):
    """Cross-entropy of softmax(pred) along ``axis``. With ``sparse_label`` the label holds class
    indices (pred's shape without ``axis``); otherwise it is a distribution shaped like pred.
    ``from_logits`` means pred already holds log-probabilities."""

    def __init__(self, axis=-1, sparse_label=True, from_logits=False, weight=None,
                 batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._axis = axis
        self._sparse_label = sparse_label
        self._from_logits = from_logits

    def forward(self, pred, label, sample_weight=None):
        if not self._from_logits:
            pred = npx.log_softmax(pred, axis=self._axis)
        if self._sparse_label:
            if pred.ndim == 0:
                raise ShapeError(f"{type(self).__name__}: pred must have at least one "
                                 "dimension (the classes)")
            axis = self._axis % pred.ndim
            without = pred.shape[:axis] + pred.shape[axis + 1:]
            kept = pred.shape[:axis] + (1,) + pred.shape[axis + 1:]
            if label.shape not in (without, kept):
                raise ShapeError(f"{type(self).__name__}: sparse label of shape {label.shape} "
                                 f"does not match pred of shape {pred.shape} without axis "
                                 f"{self._axis}, {without}")
            loss = 0. - npx.pick(pred, label, axis=self._axis, keepdims=True)
        else:
            label = self._like(label, pred, "label")
            loss = 0. - (pred * label).sum(axis=self._axis, keepdims=True)
        return self._per_sample(self._weighted(loss, sample_weight))


SoftmaxCELoss = SoftmaxCrossEntropyLoss


class KLDivLoss(Loss):
    """label * (log(label) - pred): pred holds log-probabilities (``from_logits``, the default)
    or scores that get a log_softmax along ``axis``."""

    def __init__(self, from_logits=True, axis=-1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_logits = from_logits
        self._axis = axis

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred, "label")
        if not self._from_logits:
            pred = npx.log_softmax(pred, axis=self._axis)
        loss = label * (np.log(label + 1e-12) - pred)
        return self._per_sample(self._weighted(loss, sample_weight))


class CTCLoss(Loss):
    """Connectionist Temporal Classification: -log of the probability, summed over every
    alignment, that the per-step softmax of ``pred`` spells ``label``. One value per sample.

    ``layout`` 'NTC' or 'TNC' places pred's (batch, time, classes) axes; ``label_layout`` 'NT'
    or 'TN' the label's. The last class (``classes - 1``) is the blank; labels are class indices
    padded with -1, or cut at ``label_lengths``. ``pred_lengths`` gives each sample's number of
    valid time steps. A label no alignment can produce (too long for its steps) gets a loss of
    about 1e30 rather than infinity.
    """

    _UNREACHABLE = -1e30    # log(0) kept finite, so that exp() and gradients stay clean

    def __init__(self, layout="NTC", label_layout="NT", weight=None, **kwargs):
        if not isinstance(layout, str) or layout not in ("NTC", "TNC"):
            raise LossArgumentError(f"CTCLoss: layout must be 'NTC' or 'TNC', got {layout!r}")
        if not isinstance(label_layout, str) or label_layout not in ("NT", "TN"):
            raise LossArgumentError(f"CTCLoss: label_layout must be 'NT' or 'TN', got "
                                    f"{label_layout!r}")
        super().__init__(weight, label_layout.find("N"), **kwargs)
        self._layout = layout
        self._label_layout = label_layout

    def forward(self, pred, label, pred_lengths=None, label_lengths=None, sample_weight=None):
        if pred.ndim != 3 or label.ndim != 2:
            raise ShapeError(f"CTCLoss: pred must be 3-d and label 2-d, got shapes "
                             f"{pred.shape} and {label.shape}")
        if self._layout == "NTC":
            pred = np.swapaxes(pred, 0, 1)
        steps, batch, classes = pred.shape
        labels = label.asnumpy().astype(_np.int64)
        if self._batch_axis == 1:
            labels = labels.T
        if labels.shape[0] != batch:
            raise ShapeError(f"CTCLoss: label holds {labels.shape[0]} sequences for a batch of "
                             f"{batch}")
        lab_len = self._lengths(label_lengths, batch, 0, labels.shape[1], "label_lengths")
        if label_lengths is None:      # a sequence ends at its first -1
            padded = labels == -1
            lab_len = _np.where(padded.any(1), padded.argmax(1), labels.shape[1])
        run_len = self._lengths(pred_lengths, batch, 1, steps, "pred_lengths")
        valid = _np.arange(labels.shape[1]) < lab_len[:, None]
        used = labels[valid]
        if used.size and (used.min() < 0 or used.max() >= classes - 1):
            raise ShapeError(f"CTCLoss: labels must lie in [0, {classes - 2}] (class "
                             f"{classes - 1} is the blank), got {used.min()}..{used.max()}")
        return self._weighted(self._nll(pred, labels, lab_len, run_len), sample_weight)

    @staticmethod
    def _lengths(lengths, batch, least, most, what):
        if lengths is None:
            return _np.full(batch, most, dtype=_np.int64)
        n = _np.asarray(lengths.asnumpy() if hasattr(lengths, "asnumpy") else lengths)
        n = n.astype(_np.int64).reshape(-1)
        if n.shape != (batch,) or n.min() < least or n.max() > most:
            raise ShapeError(f"CTCLoss: {what} must hold {batch} values in [{least}, {most}], "
                             f"got {n.tolist()}")
        return n

    def _nll(self, pred, labels, lab_len, run_len):
        """The forward (alpha) recursion in log space over the label with blanks between and
        around its symbols."""
        steps, batch, classes = pred.shape
        blank, neg, dev = classes - 1, self._UNREACHABLE, pred.device
        width = 2 * labels.shape[1] + 1
        ext = _np.full((batch, width), blank, dtype=_np.int64)
        ext[:, 1::2] = _np.where(labels >= 0, labels, blank)
        # s may come from s - 2 when it is a symbol that differs from the one two back
        skip = _np.zeros((batch, width), dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])

        logp = npx.log_softmax(pred, axis=-1)
        emit = np.take_along_axis(logp, np.array(ext[None], device=dev), axis=2)   # (T, N, S)
        dtype = emit.dtype
        start = np.array(_np.arange(width) < 2, device=dev)
        alpha = np.where(start, emit[0], neg)
        pad = np.full((batch, 2), neg, dtype=dtype, device=dev)
        skip = np.array(skip, device=dev)
        for t in range(1, steps):
            one_back = np.concatenate([pad[:, :1], alpha[:, :-1]], axis=1)
            two_back = np.where(skip, np.concatenate([pad, alpha[:, :-2]], axis=1), neg)
            top = npx.stop_gradient(np.maximum(np.maximum(alpha, one_back), two_back))
            step = top + np.log(np.exp(alpha - top) + np.exp(one_back - top) +
                                np.exp(two_back - top)) + emit[t]
            running = np.array((t < run_len)[:, None], device=dev)
            alpha = np.where(running, step, alpha)
        # a complete path ends on the last symbol or on the blank after it
        last = np.array(2 * lab_len, device=dev)
        before = np.array(_np.maximum(2 * lab_len - 1, 0), device=dev)
        end = npx.pick(alpha, last, axis=1)
        end_symbol = np.where(np.array(lab_len > 0, device=dev),
                              npx.pick(alpha, before, axis=1), neg)
        top = npx.stop_gradient(np.maximum(end, end_symbol))
        return -(top + np.log(np.exp(end - top) + np.exp(end_symbol - top)))


class HuberLoss(Loss):
    """Smoothed L1: 0.5 / rho * d^2 where |d| <= rho, |d| - rho / 2 beyond (d = pred - label)."""

    def __init__(self, rho=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._rho = rho

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred, "label")
        dist = np.abs(label - pred)
        loss = np.where(dist > self._rho, dist - 0.5 * self._rho,
                        (0.5 / self._rho) * np.square(dist))
        return self._per_sample(self._weighted(loss, sample_weight))


class HingeLoss(Loss):
    """max(0, margin - pred * label), for labels -1 or 1."""

    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred, "label")
        loss = npx.relu(self._margin - pred * label)
        return self._per_sample(self._weighted(loss, sample_weight))


class SquaredHingeLoss(Loss):
    """max(0, margin - pred * label)^2, for labels -1 or 1."""

    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred, "label")
        loss = np.square(npx.relu(self._margin - pred * label))
        return self._per_sample(self._weighted(loss, sample_weight))


class LogisticLoss(Loss):
    """log(1 + exp(-pred * label)) for labels -1/1 (``label_format='signed'``) or 0/1
    (``'binary'``)."""

    def __init__(self, weight=None, batch_axis=0, label_format="signed", **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        if label_format not in ("signed", "binary"):
            raise LossArgumentError(f"LogisticLoss: label_format must be 'signed' or 'binary', "
                                    f"got {label_format!r}")
        self._label_format = label_format

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred, "label")
        if self._label_format == "signed":
            label = (label + 1.0) / 2.0     # -1/1 -> 0/1
        loss = _log_sigmoid_loss(pred, label)
        return self._per_sample(self._weighted(loss, sample_weight))


class TripletLoss(Loss):
    """max(0, ||positive - pred||^2 - ||negative - pred||^2 + margin) per sample."""

    _array_inputs = 3

    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, pred, positive, negative, sample_weight=None):
        positive = self._like(positive, pred, "positive")
        negative = self._like(negative, pred, "negative")
        gap = self._per_sample(np.square(positive - pred) - np.square(negative - pred),
                               reduce=np.sum)
        return self._weighted(npx.relu(gap + self._margin), sample_weight)


class PoissonNLLLoss(Loss):
    """Poisson negative log-likelihood: exp(pred) - target * pred when ``from_logits`` (pred is
    log(rate)), else pred - target * log(pred + epsilon). ``compute_full`` adds Stirling's
    approximation of log(target!) for targets above 1."""

    def __init__(self, weight=None, from_logits=True, batch_axis=0, compute_full=False,
                 **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_logits = from_logits
        self._compute_full = compute_full

    def forward(self, pred, target, sample_weight=None, epsilon=1e-08):
        target = self._like(target, pred, "target")
        if self._from_logits:
            loss = np.exp(pred) - target * pred
        else:
            loss = pred - target * np.log(pred + epsilon)
        if self._compute_full:
            # the term is masked to targets > 1; evaluating it at a safe value elsewhere keeps
            # log(0) (and its infinite gradient) out of the graph, where MXNet gives NaN
            above = target > 1
            safe = np.where(above, target, np.ones_like(target))
            stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe)
            loss = loss + stirling * above
        return self._per_sample(self._weighted(loss, sample_weight))


class CosineEmbeddingLoss(Loss):
    """1 - cos(input1, input2) for label 1, clip(cos - margin, 0, 1 - margin) for label -1;
    the cosine is taken along the last axis."""

    _array_inputs = 3

    def __init__(self, weight=None, batch_axis=0, margin=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, input1, input2, label, sample_weight=None):
        input1 = self._like(input1, input2, "input1", "input2")
        cos = self._cosine(input1, input2)
        label = self._like(label, cos, "label", "one cosine per row")
        loss = np.where(label == 1, 1 - cos,
                        np.clip(cos - self._margin, 0, 1 - self._margin))
        return self._per_sample(self._weighted(loss, sample_weight))

    @staticmethod
    def _cosine(x, y):
        """Row cosines, shape (rows, 1); the norms' product is kept above 1e-12."""
        dot = (x * y).sum(axis=-1).reshape(-1, 1)
        norms = np.sqrt((x * x).sum(axis=-1) * (y * y).sum(axis=-1)).reshape(-1, 1)
        return dot / np.maximum(norms, 1e-12)

