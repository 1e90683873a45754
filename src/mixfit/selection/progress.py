"""Progress bars on stderr (tqdm, when installed): over the iterations of a fit, and over the
cells of a selection sweep. Off when ``enabled`` is false or tqdm is missing."""

from __future__ import annotations

import contextlib
import sys

from .. import engine


@contextlib.contextmanager
def iteration_bar(enabled: bool, max_iter: int, n_init: int, label: str, file=None):
    """A progress bar over n_init x max_iter iterations, fed by the engine's per iteration
    callback (``engine.progress``); yields the tqdm bar, or None when there is none.

    A run that converges before ``max_iter`` skips the rest of its share, when the next run
    starts or, for the last run, when the block ends without an error: a finished fit shows
    100 %. ``file``: where the bar is drawn (default: stderr)."""
    if not enabled:
        yield None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield None
        return
    total = max_iter * n_init
    bar = tqdm(total=total, desc=label, unit="it", file=sys.stderr if file is None else file, leave=False,
               dynamic_ncols=True)
    last = [0]

    def step(n_iter, lower_bound):
        if n_iter <= last[0]:  # a new initialisation: the previous run ended early
            bar.update(max_iter - last[0])
        bar.update(1)
        bar.set_postfix_str(f"lower bound {lower_bound:.5f}", refresh=False)
        last[0] = n_iter

    try:
        with engine.progress(step):
            yield bar
        bar.update(total - bar.n)  # the fit has ended: whatever it did not need is done
        bar.refresh()  # drawn at 100 % even within tqdm's mininterval of the last draw
    finally:
        bar.close()


class CellBar:
    """A bar over the cells of a sweep: ``update(label)`` after each finished cell."""

    def __init__(self, enabled: bool, total: int, label: str):
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=label, unit="cell", file=sys.stderr, leave=False,
                             dynamic_ncols=True)

    def update(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
