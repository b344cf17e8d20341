"""The end of a ``snakemake`` call, without Snakemake's last second of waiting.

Snakemake 9's scheduler limits how fast it starts jobs (``--max-jobs-per-timespan``, by default
100 a second): in every round that waits for running jobs it starts a ``threading.Timer`` of one
timespan (1 s) to look again. Those timers are not daemon threads, so after the last job the
interpreter waits for the last one to fire before it exits: 0.93 s at the end of every call that
ran a job (``threading._shutdown``, measured), nothing gained, as the scheduler has finished.
``onsuccess`` and ``onerror`` call ``cancel_reevaluation_timers`` once it has.
"""

from __future__ import annotations

import threading

#: The name of the scheduler method whose timers these are (Snakemake's own spelling).
SCHEDULER_METHOD = "JobScheduler._schedule_reevalutation"


def cancel_reevaluation_timers() -> int:
    """Cancel the scheduler's pending re-evaluation timers (its other threads, and every timer
    of anyone else, are left alone); how many there were."""
    timers = [
        thread
        for thread in threading.enumerate()
        if isinstance(thread, threading.Timer)
        and getattr(thread.function, "__qualname__", "").startswith(SCHEDULER_METHOD + ".")
    ]
    for timer in timers:
        timer.cancel()
    return len(timers)
