"""The console's job line (the logger plugin's only formatting of its own)."""

from snakemake_logger_plugin_regionprune import job_line


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
