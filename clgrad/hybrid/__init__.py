"""Capture, fusion and replay of calls (``HybridBlock.hybridize``, ``npx.hybridize``).

``trace`` keeps what one eager run did, ``fuse`` optimises it (constants, dead code,
elementwise fusion), ``folds`` folds what is left into other kernels (epilogues and copies into
products, prologues into reductions, row sums into products), ``program`` prepares the launches
and plans the memory, ``captured`` is one signature's graph with its autograd node, ``cached``
ties graphs to a function's signatures. See docs/performance.md, "hybridize".
"""
from .captured import CapturedCall
from .cached import Hybridized, HybridizeWarning, capturing, enabled

__all__ = ["CapturedCall", "Hybridized", "HybridizeWarning", "capturing", "enabled"]
