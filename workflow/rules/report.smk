rule collect:
    """One run's stages, epochs, regions, neurons and pixels as tidy tables, and its row."""
    input:
        unpack(run_stage_files),
        blank=blank_pixels,
        data=train_data,
    output:
        **{t: f"{RUNS_DIR}/{STAGE}/summary/{t}.parquet" for t in RUN_TABLES},
    log:
        f"{LOGS}/collect/{STAGE}.log",
    localrule: True
    conda:
        ENV
    params:
        row=lambda w: json.dumps(the_run(w).row()),
        data_dir=data_dir,
        train=train_json,
        region=region_json,
        regions=lambda w, input: " ".join(input.regions),
        code=code_version("collect"),
    message:
        f"tables of {about('run')}"
    shell:
        "python -m regionprune collect --settings-row {params.row:q}"
        " --blank-pixels {input.blank:q} --train-settings {params.train:q}"
        " --data-dir {params.data_dir:q}"
        " --region-settings {params.region:q}"
        " --checkpoints {input.checkpoints:q} --epochs {input.epochs:q} --regions {params.regions}"
        " --out-iterations {output.iterations:q} --out-epochs {output.epochs:q}"
        " --out-regions {output.regions:q} --out-neurons {output.neurons:q}"
        " --out-pixels {output.pixels:q} --out-run {output.run:q} > {log:q} 2>&1"


rule figures:
    """The paper's figures for one run, plus pruning-ratio histogram and stage curves."""
    input:
        unpack(run_figure_inputs),
        data=train_data,
    output:
        **figure_outputs(f"{RUNS_DIR}/{STAGE}/figures", FIGURES, "paper", "run"),
    log:
        f"{LOGS}/figures/{STAGE}.log",
    localrule: True
    conda:
        ENV
    params:
        dataset=lambda w: TRAIN[w.train].dataset,
        data_dir=data_dir,
        region=region_json,
        settings=FIGURE_SETTINGS.to_json("neuron"),
        out_dir=lambda w, output: os.path.dirname(output.w1_baseline),
        code=code_version("figures"),
    message:
        f"figures of {about('run')}"
    shell:
        "python -m regionprune figures --dataset {params.dataset} --data-dir {params.data_dir:q}"
        " --region-settings {params.region:q} --settings {params.settings:q}"
        " --baseline {input.baseline:q} --magnitude {input.magnitude:q}"
        " --final {input.final:q} --stages {input.iterations:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule summary:
    """All runs' tables in results/summary/; the grid table and the paper comparison."""
    input:
        **{t: run_tables("run" if t == "runs" else t) for t in SUMMARY_TABLES},
        faithfulness=evidence_tables("faithfulness"),
        sanity=evidence_tables("sanity"),
        yardstick=evidence_tables("yardstick"),
    output:
        **{t: f"{SUMMARY}/{t}.parquet" for t in SUMMARY_TABLES},
        faithfulness=f"{SUMMARY}/faithfulness.parquet",
        sanity=f"{SUMMARY}/sanity.parquet",
        yardstick=f"{SUMMARY}/yardstick.parquet",
        markdown=f"{SUMMARY}/summary.md",
        html=in_report(f"{SUMMARY}/summary.html", "summary", "summary"),
    log:
        f"{LOGS}/summary.log",
    localrule: True
    conda:
        ENV
    params:
        args=lambda w, input, output: " ".join(
            f"--{t} {' '.join(input[t])} --out-{t} {output[t]}" for t in SUMMARY_TABLES
        ),
        faithfulness=lambda w, input: " ".join(input.faithfulness),
        sanity=lambda w, input: " ".join(input.sanity),
        yardstick=lambda w, input: " ".join(input.yardstick),
        settings=EVIDENCE_SETTINGS.to_json("budget"),
        code=code_version("summary"),
    message:
        f"summary tables of {len(RUNS)} run{'s' if len(RUNS) > 1 else ''} and {SUMMARY}/summary.md"
    shell:
        "python -m regionprune summary {params.args}"
        " --faithfulness {params.faithfulness} --out-faithfulness {output.faithfulness:q}"
        " --sanity {params.sanity} --out-sanity {output.sanity:q}"
        " --yardstick {params.yardstick} --out-yardstick {output.yardstick:q}"
        " --evidence-settings {params.settings:q} --out-markdown {output.markdown:q}"
        " --out-html {output.html:q}"
        " > {log:q} 2>&1"


rule grid_figures:
    """Across the grid: accuracy against W1 density per method, histograms, pixel usage."""
    input:
        **{t: f"{SUMMARY}/{t}.parquet" for t in ("runs", "iterations", "neurons", "pixels")},
        data=[f for ds in USED_DATASETS for f in data_files(ds)],
    output:
        **figure_outputs(f"{SUMMARY}/figures", GRID_FIGURES, "grid"),
    log:
        f"{LOGS}/grid_figures.log",
    localrule: True
    conda:
        ENV
    params:
        out_dir=lambda w, output: os.path.dirname(output.accuracy_density),
        data_root=lambda w, input: os.path.dirname(os.path.dirname(input.data[0])),
        code=code_version("grid_figures"),
    message:
        f"figures across the grid in {SUMMARY}/figures"
    shell:
        "python -m regionprune grid_figures --runs {input.runs:q}"
        " --iterations {input.iterations:q} --neurons {input.neurons:q}"
        " --pixels {input.pixels:q} --data-root {params.data_root:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"
