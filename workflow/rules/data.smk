rule fetch_data:
    """Obtain the data set's IDX files (local folder or download), verified by content MD5."""
    output:
        [f"{RESULTS}/data/{{dataset}}/{f}" for f in IDX_FILES],
    log:
        f"{RESULTS}/logs/fetch_data/{{dataset}}.log",
    retries: 2
    localrule: True
    conda:
        ENV
    params:
        source=source_json,
        out_dir=lambda w: f"{RESULTS}/data/{w.dataset}",
        code=code_version("fetch"),
    shell:
        "python -m regionprune fetch --dataset {wildcards.dataset}"
        " --source {params.source:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
