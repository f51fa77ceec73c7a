"""Progress display of a tuning run: tqdm when it is installed, else a plain line.

On a terminal the plain line is rewritten in place; otherwise (a log file, CI) one line per
candidate is printed, in the form ``[ 37/512] LS=64 EPT=4 | 0.183 ms | 41.2 GB/s | ok``.
"""
import sys


def format_params(params):
    return " ".join(f"{k}={v}" for k, v in params.items())


def format_record(rec, unit_key=None):
    parts = [format_params(rec.get("params", {}))]
    if rec.get("status") == "ok":
        parts.append(f"{rec['median_ms']:.4g} ms")
        for key, unit in (("gflops", "GFLOPS"), ("gbs", "GB/s")):
            if key in rec:
                parts.append(f"{rec[key]:.4g} {unit}")
    parts.append(rec.get("status", "?"))
    return " | ".join(parts)


class Progress:
    """Counts finished candidates and shows the best so far."""

    def __init__(self, total=None, desc="", enabled=True, stream=None, use_tqdm=None):
        self.total = total
        self.desc = desc
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.n = 0
        self._bar = None
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if enabled and use_tqdm is not False:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, file=self.stream, unit="cfg",
                                 dynamic_ncols=True)

    def update(self, rec, best=None, counted=True):
        """Show one finished candidate; ``counted`` ones (measured) advance the count."""
        if counted:
            self.n += 1
        if not self.enabled:
            return
        best_text = f"best {best['median_ms']:.4g} ms ({format_params(best['params'])})" \
            if best else "best: none yet"
        if self._bar is not None:
            self._bar.set_postfix_str(best_text, refresh=not counted)
            if counted:
                self._bar.update(1)
            return
        count = f"[{self.n:>4}/{self.total}]" if self.total else f"[{self.n:>4}]"
        line = f"{self.desc} {count} {format_record(rec)}  -- {best_text}"
        if self._tty:
            self.stream.write("\r\033[K" + line[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self._tty and self.n:
            self.stream.write("\n")
            self.stream.flush()
