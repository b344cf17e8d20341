"""The end of a ``snakemake`` call: the scheduler's pending re-evaluation timer, made by
Snakemake's own method, is cancelled (so the interpreter need not wait for it); anyone else's
timer is left to fire."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from snakemake.scheduling.job_scheduler import JobScheduler

from regionprune.workflow import snakemake_exit


def test_the_schedulers_timer_is_cancelled_and_no_other():
    scheduler = SimpleNamespace(_open_jobs=threading.Semaphore(0))
    JobScheduler._schedule_reevalutation(scheduler, 60)  # as the scheduler waits for jobs
    fired = threading.Event()
    other = threading.Timer(0.2, fired.set)  # someone else's
    other.start()
    ours = [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t is not other]
    try:
        assert len(ours) == 1
        assert snakemake_exit.cancel_reevaluation_timers() == 1
        ours[0].join(timeout=10)
        assert not ours[0].is_alive()  # ended at once, not after its 60 s
        assert not scheduler._open_jobs.acquire(blocking=False)  # it never released the scheduler
        assert fired.wait(timeout=10)  # the other timer still fired
        assert snakemake_exit.cancel_reevaluation_timers() == 0
    finally:  # a failure leaves no 60 s thread for pytest's exit to wait on
        for timer in ours:
            timer.cancel()
