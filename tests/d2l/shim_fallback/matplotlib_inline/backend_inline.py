"""``backend_inline.set_matplotlib_formats``: there is no notebook to display in."""


def set_matplotlib_formats(*formats, **kwargs):
    for f in formats:
        if f not in ("png", "retina", "jpeg", "jpg", "svg", "pdf"):
            raise ValueError(f"unknown format {f!r}")
