rule collect:
    """One run's stages, epochs, regions, neurons and pixels as tidy tables, and its row."""
    input:
        unpack(run_stage_files),
        blank=blank_pixels,
    output:
        **{t: f"{RUNS_DIR}/{STAGE}/summary/{t}.parquet" for t in RUN_TABLES},
    log:
        f"{LOGS}/collect/{STAGE}.log",
    localrule: True
    conda:
        ENV
    params:
        row=lambda w: json.dumps(the_run(w).row()),
        train=train_json,
        region=region_json,
        regions=lambda w, input: " ".join(input.regions),
        code=code_version("collect"),
    shell:
        "python -m regionprune collect --settings-row {params.row:q}"
        " --blank-pixels {input.blank:q} --train-settings {params.train:q}"
        " --region-settings {params.region:q}"
        " --checkpoints {input.checkpoints:q} --epochs {input.epochs:q} --regions {params.regions}"
        " --out-iterations {output.iterations:q} --out-epochs {output.epochs:q}"
        " --out-regions {output.regions:q} --out-neurons {output.neurons:q}"
        " --out-pixels {output.pixels:q} --out-run {output.run:q} > {log:q} 2>&1"


rule figures:
    """The paper's figures for one run, plus pruning-ratio histogram and stage curves."""
    input:
        unpack(run_figure_inputs),
    output:
        **{
            f: report(
                f"{RUNS_DIR}/{STAGE}/figures/{f}.png",
                caption=f"../report/{f}.rst",
                category="3. Runs",
                subcategory=STAGE,
            )
            for f in FIGURES + FIGURES_PDF
        },
        **{f"{f}_pdf": f"{RUNS_DIR}/{STAGE}/figures/{f}.pdf" for f in FIGURES_PDF},
    log:
        f"{LOGS}/figures/{STAGE}.log",
    localrule: True
    conda:
        ENV
    params:
        dataset=lambda w: TRAIN[w.train].dataset,
        region=region_json,
        settings=FIGURE_SETTINGS.to_json("neuron"),
        out_dir=lambda w, output: os.path.dirname(output.w1_baseline),
        code=code_version("figures"),
    shell:
        "python -m regionprune figures --dataset {params.dataset}"
        " --region-settings {params.region:q} --settings {params.settings:q}"
        " --baseline {input.baseline:q} --magnitude {input.magnitude:q}"
        " --final {input.final:q} --stages {input.iterations:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule summary:
    """All runs' tables in results/summary/; the grid table and the paper comparison."""
    input:
        **{t: run_tables("run" if t == "runs" else t) for t in SUMMARY_TABLES},
        faithfulness=evidence_tables("faithfulness"),
    output:
        **{t: f"{SUMMARY}/{t}.parquet" for t in SUMMARY_TABLES},
        faithfulness=f"{SUMMARY}/faithfulness.parquet",
        markdown=report(
            f"{SUMMARY}/summary.md",
            caption="../report/summary.rst",
            category="1. Summary",
        ),
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
        settings=EVIDENCE_SETTINGS.to_json("budget"),
        code=code_version("summary"),
    shell:
        "python -m regionprune summary {params.args}"
        " --faithfulness {params.faithfulness} --out-faithfulness {output.faithfulness:q}"
        " --evidence-settings {params.settings:q} --out-markdown {output.markdown:q}"
        " > {log:q} 2>&1"


rule grid_figures:
    """Across the grid: accuracy against W1 density per method, histograms, pixel usage."""
    input:
        **{
            t: f"{SUMMARY}/{t}.parquet"
            for t in ("runs", "iterations", "neurons", "pixels")
        },
    output:
        **{
            f: report(
                f"{SUMMARY}/figures/{f}.png",
                caption=f"../report/{f}.rst",
                category="2. Grid",
            )
            for f in GRID_FIGURES
        },
        **{f"{f}_pdf": f"{SUMMARY}/figures/{f}.pdf" for f in GRID_FIGURES},
    log:
        f"{LOGS}/grid_figures.log",
    localrule: True
    conda:
        ENV
    params:
        out_dir=lambda w, output: os.path.dirname(output.accuracy_density),
        code=code_version("grid_figures"),
    shell:
        "python -m regionprune grid_figures --runs {input.runs:q}"
        " --iterations {input.iterations:q} --neurons {input.neurons:q}"
        " --pixels {input.pixels:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
