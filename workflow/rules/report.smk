RUN_DIR = f"{RUNS_DIR}/{{train}}/{{mag}}/{{region}}/iter{{n}}"


rule collect_run:
    """One run's stages, epochs and regions as tidy tables, and its row of runs.parquet."""
    input:
        unpack(run_stage_files),
    output:
        stages=f"{RUN_DIR}/summary/stages.parquet",
        epochs=f"{RUN_DIR}/summary/epochs.parquet",
        regions=f"{RUN_DIR}/summary/regions.parquet",
        run=f"{RUN_DIR}/summary/run.parquet",
    log:
        f"{RESULTS}/logs/collect_run/{{train}}/{{mag}}/{{region}}/iter{{n}}.log",
    localrule: True
    conda:
        ENV
    params:
        row=lambda w: json.dumps(the_run(w).row()),
        code=code_version("collect"),
    shell:
        "python -m regionprune collect --settings-row {params.row:q}"
        " --checkpoints {input.checkpoints:q} --epochs {input.epochs:q} --regions {input.regions:q}"
        " --out-stages {output.stages:q} --out-epochs {output.epochs:q}"
        " --out-regions {output.regions:q} --out-run {output.run:q} > {log:q} 2>&1"


rule figures:
    """The paper's figures for one run, plus pruning-ratio histogram and stage curves."""
    input:
        unpack(run_figure_inputs),
    output:
        **{
            f: report(
                f"{RUN_DIR}/figures/{f}.png",
                caption=f"../report/{f}.rst",
                category="Figures",
                subcategory="{train}/{mag}/{region}/iter{n}",
            )
            for f in FIGURES + FIGURES_PDF
        },
        **{f"{f}_pdf": f"{RUN_DIR}/figures/{f}.pdf" for f in FIGURES_PDF},
    log:
        f"{RESULTS}/logs/figures/{{train}}/{{mag}}/{{region}}/iter{{n}}.log",
    localrule: True
    conda:
        ENV
    params:
        dataset=lambda w: TRAIN[w.train].dataset,
        labels=lambda w, input: (
            f"--labels {input.labels}" if "labels" in input.keys() else ""
        ),
        neuron=config["figures"]["neuron"],
        out_dir=lambda w, output: os.path.dirname(output.w1_baseline),
        code=code_version("figures"),
    shell:
        "python -m regionprune figures --dataset {params.dataset}"
        " --baseline {input.baseline:q} --magnitude {input.magnitude:q} --final {input.final:q}"
        " {params.labels} --stages {input.stages:q} --neuron {params.neuron}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule summary:
    """All runs' tables in results/summary/, and the Markdown table beside the paper's numbers."""
    input:
        runs=[f"{RUNS_DIR}/{r}/summary/run.parquet" for r in RUNS],
        stages=[f"{RUNS_DIR}/{r}/summary/stages.parquet" for r in RUNS],
        epochs=[f"{RUNS_DIR}/{r}/summary/epochs.parquet" for r in RUNS],
    output:
        runs=f"{RESULTS}/summary/runs.parquet",
        stages=f"{RESULTS}/summary/stages.parquet",
        epochs=f"{RESULTS}/summary/epochs.parquet",
        markdown=report(
            f"{RESULTS}/summary/summary.md",
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        f"{RESULTS}/logs/summary.log",
    localrule: True
    conda:
        ENV
    params:
        code=code_version("summary"),
    shell:
        "python -m regionprune summary --runs {input.runs:q} --stages {input.stages:q}"
        " --epochs {input.epochs:q} --out-runs {output.runs:q} --out-stages {output.stages:q}"
        " --out-epochs {output.epochs:q} --out-markdown {output.markdown:q} > {log:q} 2>&1"
