"""``display`` and ``clear_output``, which d2l's ProgressBoard calls after each point it draws.
In a notebook they redraw the figure as a picture, never as text; with no notebook they do
nothing."""


def display(*objs, **kwargs):
    """Show objects in the notebook (there is none)."""


def clear_output(wait=False):
    """Clear the cell's output (there is none)."""
