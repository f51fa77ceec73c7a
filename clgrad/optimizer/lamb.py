"""LAMB (MXNet 2.x ``LAMB``)."""
from .. import dtypes as _dt
from .errors import active_bound
from .optimizer import Optimizer, OptimizerError, register

__all__ = ["LAMB"]


@register
class LAMB(Optimizer):
    """LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning"), MXNet 2.x.

    At a parameter's update count t, per element::

        grad = clip(rescale_grad * grad, clip_gradient)
        mean = beta1 * mean + (1 - beta1) * grad
        var = beta2 * var + (1 - beta2) * grad**2
        bias_correction:  u = (mean / (1 - beta1**t)) / (sqrt(var / (1 - beta2**t)) + epsilon)
        otherwise:        u = mean / (sqrt(var) + epsilon)
        u = u + wd * weight

    and per parameter, with ``r1 = ||weight||`` (bounded below by ``lower_bound`` and above by
    ``upper_bound`` when they are > 0) and ``r2 = ||u||``::

        ratio = 1 if r1 == 0 or r2 == 0 else r1 / r2
        weight = weight - lr * ratio * u

    The state is ``(mean, var)``, float32 for float16 and float32 weights (float64 for float64
    weights, where MXNet would still make float32 states).
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, aggregate_num=4,
                 use_fused_step=True, **kwargs):
        if aggregate_num > 45:
            raise OptimizerError("When use_fused_step is True, LAMB only supports "
                                 f"aggregate_num <= 45, and receives {aggregate_num}")
        super().__init__(learning_rate=learning_rate, aggregate_num=aggregate_num,
                         use_fused_step=use_fused_step, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction

    def _rule(self):
        return "lamb"

    def _hyperparams(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon,
                "lower_bound": active_bound(self.lower_bound),
                "upper_bound": active_bound(self.upper_bound)}

    def _state_dtypes(self, dtype):
        d = _dt.float64 if dtype == _dt.float64 else _dt.float32
        return (d, d)

    def _bias_terms(self, t):
        if not self.bias_correction:
            return 1.0, 1.0, 1.0
        return 1.0, 1. - self.beta1 ** t, 1. - self.beta2 ** t
