"""Shape manipulation that copies: concatenate, stack, split, tile, repeat, flip, roll, pad, ..."""
__all__ = []
