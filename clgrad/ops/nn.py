"""Neural-network ops of the npx namespace (activations, softmax, normalisation, ...)."""
__all__ = []
