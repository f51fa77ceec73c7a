"""Capture, fusion and replay of calls (``HybridBlock.hybridize``, ``npx.hybridize``).

``trace`` keeps what one eager run did, ``fuse`` optimises it (dead code, elementwise fusion),
``program`` prepares the launches and plans the memory, ``cached`` ties them to a function's
signatures and to autograd. See docs/performance.md, "hybridize".
"""
from .cached import CapturedCall, Hybridized, HybridizeWarning, capturing, enabled

__all__ = ["CapturedCall", "Hybridized", "HybridizeWarning", "capturing", "enabled"]
