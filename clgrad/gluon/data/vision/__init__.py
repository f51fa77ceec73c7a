"""``clgrad.gluon.data.vision``: image datasets and transforms (MXNet's ``gluon.data.vision``)."""
from .datasets import MNIST, FashionMNIST  # noqa: F401
from . import transforms  # noqa: F401
