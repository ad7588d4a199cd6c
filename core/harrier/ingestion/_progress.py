"""Progress that a person and a log can both read: a bar on a terminal, else a log line at
least every ``interval`` seconds, from the same counts.

A run counts its work in *units* (bytes of source for an ingestion, spans for a copy). The
total may arrive late (a first pass counts it in a thread); units of work that turned out to
cost nothing (unchanged documents) leave the total, so the estimate follows the work left::

    with Progress("ingest", unit="B", describe=status) as progress:
        progress.set_total(total_bytes)
        progress.advance(done)      # work done
        progress.discount(free)     # work that needed nothing (left the total)
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm

logger = logging.getLogger("harrier.progress")

LOG_INTERVAL = 10.0
"""Seconds between two progress lines in a log (a bar refreshes every second)."""
_BAR_REFRESH = 1.0


def use_bar(show_progress: bool | None) -> bool:
    """A bar when asked, or (None) when stderr is a terminal."""
    if show_progress is not None:
        return show_progress
    return sys.stderr.isatty()


def duration(seconds: float) -> str:
    """``1 h 02 min``, ``4 min 05 s``, ``12 s``."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def size(count: float) -> str:
    """Bytes in the unit a person reads (``2.9 MB``)."""
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


class Progress:
    """Counts of one run shown as a bar (``bar=True``), as INFO lines on the
    ``harrier.progress`` logger every ``interval`` seconds, or not at all (``quiet``).

    ``describe()`` gives the counts to show (documents, spans, tokens...); this class adds the
    elapsed time and, once a total is known and some work is done, the time left. Counts may
    be updated from any thread.
    """

    def __init__(
        self,
        name: str,
        *,
        unit: str,
        describe: Callable[[], str],
        bar: bool = False,
        quiet: bool = False,
        interval: float = LOG_INTERVAL,
    ) -> None:
        self.name = name
        self.describe = describe
        self.interval = interval
        self.quiet = quiet
        self.total: float | None = None
        self.done = 0.0
        self.started = time.monotonic()
        self.rate_start: tuple[float, float] | None = None
        """``(time, done)`` at the first work done: the rate is measured from there."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._bar: Any = None
        if not quiet and bar:
            self._bar = tqdm(
                desc=name.capitalize(), unit=unit, unit_scale=unit == "B", dynamic_ncols=True
            )
        self._thread = threading.Thread(target=self._tick, name="harrier-progress", daemon=True)
        if not quiet:
            self._thread.start()

    @property
    def logs(self) -> bool:
        """Whether progress goes to the log (no bar, not quiet)."""
        return not self.quiet and self._bar is None

    def set_total(self, total: float) -> None:
        with self._lock:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
                self._bar.refresh()

    def advance(self, units: float) -> None:
        with self._lock:
            self.done += units
            if self.rate_start is None:
                self.rate_start = (time.monotonic(), self.done)
            if self._bar is not None:
                self._bar.update(units)

    def discount(self, units: float) -> None:
        """``units`` of the total needed no work: they leave it (the estimate stays honest)."""
        with self._lock:
            if self.total is not None:
                self.total = max(self.done, self.total - units)
                if self._bar is not None:
                    self._bar.total = self.total
                    self._bar.refresh()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def measured(self) -> float:
        """Seconds over which the rate is measured: since the first work was done, once more
        work followed it (0 before)."""
        with self._lock:
            start, done = self.rate_start, self.done
        return 0.0 if start is None or done <= start[1] else time.monotonic() - start[0]

    def eta(self) -> float | None:
        """Seconds left at the rate measured since the first work was done: what came before
        it (a model's warm-up, the first conversions and splits) is paid once and does not
        count. Until more work follows the first, the rate of the whole run so far; None
        until a total is known and work is done."""
        with self._lock:
            total, done, start = self.total, self.done, self.rate_start
        if total is None or done <= 0:
            return None
        if start is not None and done > start[1]:
            spent, work = time.monotonic() - start[0], done - start[1]
        else:
            spent, work = self.elapsed(), done
        return max(0.0, total - done) * spent / work

    def line(self) -> str:
        """``name: counts, elapsed 1 min 02 s, ETA 4 min 10 s``."""
        eta = self.eta()
        parts = [self.describe(), f"elapsed {duration(self.elapsed())}"]
        if eta is not None:
            parts.append(f"ETA {duration(eta)}")
        return f"{self.name}: {', '.join(parts)}"

    def note(self, message: str, *args: Any, level: int = logging.INFO) -> None:
        """A one-off line (the plan, a hint) where the progress goes, unless quiet."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(message % args if args else message, file=sys.stderr)
        else:
            logger.log(level, message, *args)

    def _tick(self) -> None:
        period = _BAR_REFRESH if self._bar is not None else self.interval
        while not self._stop.wait(period):
            if self._bar is not None:
                self._bar.set_postfix_str(self.describe(), refresh=False)
                self._bar.refresh()
            else:
                logger.info("%s", self.line())

    def close(self, outcome: str = "done") -> None:
        """Stop the ticks; a bar shows its last counts, a log gets a last line (``outcome``)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.logs:
            logger.info(
                "%s: %s, %s, elapsed %s",
                self.name,
                outcome,
                self.describe(),
                duration(self.elapsed()),
            )
        if self._bar is not None:
            self._bar.set_postfix_str(self.describe(), refresh=False)
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
