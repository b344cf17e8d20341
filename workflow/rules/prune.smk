rule magnitude_prune:
    """Step 1: remove the given fraction of all W1 weights, those with the smallest |w|
    (magnitude_prune), or at random (random_prune: where the random method starts)."""
    input:
        data=train_data,
        blank=blank_pixels,
        baseline=f"{RUNS_DIR}/{{train}}/baseline/model.h5",
    output:
        model=f"{RUNS_DIR}/{{train}}/{{mag}}/model.h5",
    log:
        f"{LOGS}/magnitude_prune/{{train}}/{{mag}}.log",
    group:
        CLUSTER_GROUP
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=config["gpus"],
    params:
        **training_params(
            "magnitude", settings=lambda w: MAGNITUDE[w.mag].to_json(), criterion="magnitude"
        ),
    message:
        f"prune W1 by magnitude {about('mag')}"
    shell:
        "python -m regionprune magnitude --criterion {params.criterion}"
        " --data-dir {params.data_dir:q}"
        " --train-settings {params.train:q} --settings {params.settings:q}"
        " --device {params.device} --threads {params.threads} --blank-pixels {input.blank:q}"
        " --baseline {input.baseline:q} --out-model {output.model:q} > {log:q} 2>&1"


use rule magnitude_prune as random_prune with:
    output:
        model=f"{RUNS_DIR}/{{train}}/{{mag}}/random/model.h5",
    log:
        f"{LOGS}/random_prune/{{train}}/{{mag}}.log",
    params:
        **training_params(
            "magnitude", settings=lambda w: MAGNITUDE[w.mag].to_json(), criterion="random"
        ),
    message:
        f"prune W1 at random {about('mag')}"


rule label:
    """Step 2: connected regions of surviving W1 weights per hidden neuron, with statistics
    (after the carving steps that come before labelling, when configured)."""
    input:
        model=previous_model,
        data=train_data,
    output:
        labels=f"{RUNS_DIR}/{REGION_ITER}/regions.h5",
        table=f"{RUNS_DIR}/{REGION_ITER}/regions.parquet",
    log:
        f"{LOGS}/label/{REGION_ITER}.log",
    group:
        CLUSTER_GROUP
    localrule: LIGHT_LOCAL
    conda:
        ENV
    params:
        dataset=lambda w: TRAIN[w.train].dataset,
        data_dir=data_dir,
        settings=lambda w: REGION[w.region].to_json(),
        code=code_version("label"),
    message:
        f"label regions {about('pruning', 'k')}"
    shell:
        "python -m regionprune label --model {input.model:q} --dataset {params.dataset}"
        " --data-dir {params.data_dir:q}"
        " --settings {params.settings:q} --iteration {wildcards.k}"
        " --out-labels {output.labels:q} --out-table {output.table:q} > {log:q} 2>&1"


rule prune:
    """Steps 3-4: score regions and remove the weakest fraction (globally or per neuron);
    small regions and those beyond a neuron's cap too, when configured."""
    input:
        labels=f"{RUNS_DIR}/{REGION_ITER}/regions.h5",
        table=f"{RUNS_DIR}/{REGION_ITER}/regions.parquet",
    output:
        mask=f"{RUNS_DIR}/{REGION_ITER}/mask.h5",
        table=f"{RUNS_DIR}/{REGION_ITER}/regions_pruned.parquet",
    log:
        f"{LOGS}/prune/{REGION_ITER}.log",
    group:
        CLUSTER_GROUP
    localrule: LIGHT_LOCAL
    conda:
        ENV
    params:
        settings=lambda w: REGION[w.region].to_json(),
        code=code_version("prune"),
    message:
        f"prune regions {about('pruning', 'k')}"
    shell:
        "python -m regionprune prune --labels {input.labels:q} --table {input.table:q}"
        " --settings {params.settings:q}"
        " --iteration {wildcards.k} --out-mask {output.mask:q} --out-table {output.table:q}"
        " > {log:q} 2>&1"


rule match:
    """Baselines: prune W1 by |w| or at random to the region run's count at this iteration."""
    input:
        model=previous_model,
        target=f"{RUNS_DIR}/{REGION_ITER}/mask.h5",
    output:
        mask=f"{RUNS_DIR}/{matched_iter()}/mask.h5",
    log:
        f"{LOGS}/match/{matched_iter()}.log",
    group:
        CLUSTER_GROUP
    localrule: LIGHT_LOCAL
    conda:
        ENV
    params:
        train=train_json,
        code=code_version("match"),
    message:
        f"match the {{wildcards.matched}} baseline to the count of {about('pruning', 'k')}"
    shell:
        "python -m regionprune match --model {input.model:q} --target {input.target:q}"
        " --criterion {wildcards.matched} --train-settings {params.train:q}"
        " --iteration {wildcards.k}"
        " --out-mask {output.mask:q} > {log:q} 2>&1"


rule retrain:
    """Step 5: retrain with the removed weights held at zero."""
    input:
        data=train_data,
        model=previous_model,
        mask=f"{RUNS_DIR}/{REGION_ITER}/mask.h5",
    output:
        model=f"{RUNS_DIR}/{REGION_ITER}/model.h5",
        epochs=f"{RUNS_DIR}/{REGION_ITER}/epochs.parquet",
    log:
        f"{LOGS}/retrain/{REGION_ITER}.log",
    group:
        CLUSTER_GROUP
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=config["gpus"],
    params:
        **training_params("retrain", settings=lambda w: REGION[w.region].to_json()),
    message:
        f"retrain {about('pruning', 'k')}"
    shell:
        "python -m regionprune retrain --data-dir {params.data_dir:q}"
        " --train-settings {params.train:q} --settings {params.settings:q}"
        " --device {params.device} --threads {params.threads} --iteration {wildcards.k}"
        " --stage region --model {input.model:q} --pruned {input.mask:q}"
        " --out-model {output.model:q} --out-epochs {output.epochs:q} > {log:q} 2>&1"


rule retrain_matched:
    """Step 5 for both matched baselines of a region run at once, in lockstep: the same
    retraining as the region method, one process and one batched product per layer."""
    input:
        data=train_data,
        models=matched_previous_models,
        masks=[f"{RUNS_DIR}/{matched_iter(m)}/mask.h5" for m in MATCHED],
    output:
        models=[f"{RUNS_DIR}/{matched_iter(m)}/model.h5" for m in MATCHED],
        epochs=[f"{RUNS_DIR}/{matched_iter(m)}/epochs.parquet" for m in MATCHED],
    log:
        f"{LOGS}/retrain_matched/{stage_path(PRUNING, '{k}')}.log",
    group:
        CLUSTER_GROUP
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=config["gpus"],
    params:
        **training_params(
            "retrain", settings=lambda w: REGION[w.region].to_json(), stages=" ".join(MATCHED)
        ),
    message:
        f"retrain the magnitude and random baselines {about('pruning', 'k')}"
    shell:
        "python -m regionprune retrain --data-dir {params.data_dir:q}"
        " --train-settings {params.train:q} --settings {params.settings:q}"
        " --device {params.device} --threads {params.threads} --iteration {wildcards.k}"
        " --stage {params.stages} --model {input.models:q} --pruned {input.masks:q}"
        " --out-model {output.models:q} --out-epochs {output.epochs:q} > {log:q} 2>&1"
