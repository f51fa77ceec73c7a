"""RMSProp and AdaGrad (MXNet 2.x ``RMSProp``, ``AdaGrad``)."""
from .errors import active_bound
from .optimizer import Optimizer, register

__all__ = ["RMSProp", "AdaGrad"]


@register
class RMSProp(Optimizer):
    """RMSProp (MXNet 2.x ``RMSProp``): Tieleman and Hinton's, or Graves's with ``centered``.

    Per element, with ``grad = clip(rescale_grad * grad, clip_gradient) + wd * weight``::

        centered=False:  n = (1 - rho) * grad**2 + rho * n
                         weight = weight - lr * grad / (sqrt(n) + epsilon)
        centered=True:   n = (1 - rho) * grad**2 + rho * n
                         g = (1 - rho) * grad + rho * g
                         delta = momentum * delta - lr * grad / sqrt(n - g**2 + epsilon)
                         weight = weight + delta

    then, with ``clip_weights`` > 0, ``weight = clip(weight, -clip_weights, clip_weights)``.
    The state is ``n``, or ``(n, g, delta)`` when centered (the order of MXNet's fused
    ``rmspropalex_update``, its default path).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, use_fused_step=True, **kwargs):
        if kwargs.get("gamma1") is not None:
            raise DeprecationWarning("parameter 'gamma1' is deprecated. Please use 'rho' "
                                     "instead...")
        if kwargs.get("gamma2") is not None:
            raise DeprecationWarning("parameter 'gamma2' is deprecated. Please use 'momentum' "
                                     "instead...")
        kwargs.pop("gamma1", None)
        kwargs.pop("gamma2", None)
        super().__init__(learning_rate=learning_rate, use_fused_step=use_fused_step, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def _rule(self):
        return "rmspropalex" if self.centered else "rmsprop"

    def _hyperparams(self):
        h = {"rho": self.rho}
        if self.centered:
            h["momentum"] = self.momentum
        h["epsilon"] = self.epsilon
        h["clip_weights"] = active_bound(self.clip_weights)
        return h

    def _state_dtypes(self, dtype):
        return (dtype,) * (3 if self.centered else 1)


@register
class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al., 2011), MXNet 2.x ``AdaGrad``.

    Per element::

        grad = clip(rescale_grad * grad, clip_gradient) + wd * weight
        history = history + grad**2
        weight = weight - lr * grad / (sqrt(history) + epsilon)

    The state is ``history``.
    """

    def __init__(self, learning_rate=0.01, epsilon=1e-6, use_fused_step=True, **kwargs):
        if kwargs.get("eps") is not None:
            raise DeprecationWarning("parameter 'eps' is deprecated. Please use 'epsilon' "
                                     "instead...")
        kwargs.pop("eps", None)
        super().__init__(learning_rate=learning_rate, use_fused_step=use_fused_step, **kwargs)
        self.epsilon = epsilon

    def _rule(self):
        return "adagrad"

    def _hyperparams(self):
        return {"epsilon": self.epsilon}

    def _state_dtypes(self, dtype):
        return (dtype,)
