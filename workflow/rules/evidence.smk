EVIDENCE_DIR = f"{RUNS_DIR}/{STAGE}/evidence"


rule evidence:
    """The decision basis of one stage: every region ablated per class; the deletion, insertion
    and remove-and-retrain tests against random regions, pixel attributions and the controls."""
    input:
        data=train_data,
        model=stage_model,
    output:
        **{t: f"{EVIDENCE_DIR}/{t}.parquet" for t in EVIDENCE_TABLES},
        labels=f"{EVIDENCE_DIR}/regions.h5",
    log:
        f"{LOGS}/evidence/{STAGE}.log",
    group:
        CLUSTER_GROUP
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        **stage_params("evidence", "budgets", "budget", "random_draws", "ig_steps", "roar_epochs"),
    message:
        f"decision basis of {about('method', 'n')}"
    shell:
        "python -m regionprune evidence"
        + STAGE_OPTIONS
        + (
            " --out-importance {output.region_importance:q} --out-deletion {output.deletion:q}"
            " --out-faithfulness {output.faithfulness:q} --out-labels {output.labels:q}"
            " > {log:q} 2>&1"
        )


rule evidence_checks:
    """The checks of one stage's decision basis, beside it: the sanity check (cascading
    randomisation) and Quantus's metrics on per-image maps."""
    input:
        data=train_data,
        model=stage_model,
    output:
        **{t: f"{EVIDENCE_DIR}/{t}.parquet" for t in CHECK_TABLES},
    log:
        f"{LOGS}/evidence_checks/{STAGE}.log",
    group:
        CLUSTER_GROUP
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        **stage_params(
            "evidence_checks", "ig_steps", "roar_epochs", "sanity_images", "yardstick_images"
        ),
    message:
        f"sanity check and Quantus's metrics of {about('method', 'n')}"
    shell:
        "python -m regionprune evidence_checks"
        + STAGE_OPTIONS
        + (
            " --out-sanity {output.sanity:q} --out-yardstick {output.yardstick:q}"
            " > {log:q} 2>&1"
        )


rule evidence_figures:
    """Class evidence maps, the neuron gallery and the deletion curves of one stage."""
    input:
        data=train_data,
        model=stage_model,
        labels=f"{EVIDENCE_DIR}/regions.h5",
        importance=f"{EVIDENCE_DIR}/region_importance.parquet",
        deletion=f"{EVIDENCE_DIR}/deletion.parquet",
    output:
        **figure_outputs(EVIDENCE_DIR, EVIDENCE_FIGURES, "evidence", "method", "n"),
    log:
        f"{LOGS}/evidence_figures/{STAGE}.log",
    localrule: True
    conda:
        ENV
    params:
        data_dir=data_dir,
        train=train_json,
        settings=EVIDENCE_SETTINGS.to_json("top_regions", "gallery"),
        out_dir=lambda w, output: os.path.dirname(output.evidence_maps),
        code=code_version("evidence_figures"),
    message:
        f"evidence figures of {about('method', 'n')}"
    shell:
        "python -m regionprune evidence_figures --data-dir {params.data_dir:q}"
        " --train-settings {params.train:q} --settings {params.settings:q}"
        " --model {input.model:q} --labels {input.labels:q}"
        " --importance {input.importance:q} --deletion {input.deletion:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"
