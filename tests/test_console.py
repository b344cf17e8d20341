"""The console's job line (the logger plugin's only formatting of its own)."""

from snakemake_logger_plugin_regionprune import fix_lines, job_line


def test_a_job_is_one_line_in_words():
    line = job_line("10:37:32", "3/35 done", "retrain", "retrain s0 · iteration 3/8", {"k": "3"})
    assert line == "[10:37:32 3/35 done] retrain s0 · iteration 3/8"
    assert job_line("10:37:32", "started", "retrain", "retrain s0", {}) == (
        "[10:37:32 started] retrain s0"
    )
    # a dry run's listing, and a rule without a message
    assert job_line("10:37:32", None, "fetch", None, {"dataset": "mnist"}) == (
        "[10:37:32] fetch dataset=mnist"
    )


def test_the_ways_out_are_taken_from_failure_messages():
    text = ("Logfile results/logs/fetch/mnist.log:\n====\nERROR could not download\n"
            "Fix: set data.local_dir to it\n====\n"
            "results/x/model.h5 is damaged (truncated). Fix: add --forcerun results/x/model.h5")
    assert fix_lines(text) == ["Fix: set data.local_dir to it",
                               "Fix: add --forcerun results/x/model.h5"]  # fmt: skip
    assert fix_lines("Exiting because a job execution failed.") == []
