REGION_DIR = f"{RUNS_DIR}/{{train}}/{{mag}}/{{region}}/iter{{k}}"


rule magnitude_prune:
    """Step 1: remove the given fraction of all W1 weights with the smallest |w|."""
    input:
        data=train_data,
        baseline=f"{RUNS_DIR}/{{train}}/baseline/model.h5",
    output:
        model=f"{RUNS_DIR}/{{train}}/{{mag}}/model.h5",
    log:
        f"{RESULTS}/logs/magnitude_prune/{{train}}/{{mag}}.log",
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=config["gpus"],
    params:
        data_dir=lambda w: f"{RESULTS}/data/{TRAIN[w.train].dataset}",
        train=train_json,
        settings=lambda w: MAGNITUDE[w.mag].to_json(),
        device=config["device"],
        code=code_version("magnitude"),
    shell:
        "python -m regionprune magnitude --data-dir {params.data_dir:q}"
        " --train-settings {params.train:q} --settings {params.settings:q}"
        " --device {params.device} --threads {threads}"
        " --baseline {input.baseline:q} --out-model {output.model:q} > {log:q} 2>&1"


rule label_regions:
    """Step 2: connected regions of surviving W1 weights per hidden neuron, with statistics."""
    input:
        model=previous_model,
    output:
        labels=f"{REGION_DIR}/regions.h5",
        table=f"{REGION_DIR}/regions.parquet",
    log:
        f"{RESULTS}/logs/label_regions/{{train}}/{{mag}}/{{region}}/iter{{k}}.log",
    localrule: True
    conda:
        ENV
    params:
        dataset=lambda w: TRAIN[w.train].dataset,
        connectivity=lambda w: REGION[w.region].connectivity,
        code=code_version("label"),
    shell:
        "python -m regionprune label --model {input.model:q} --dataset {params.dataset}"
        " --connectivity {params.connectivity} --iteration {wildcards.k}"
        " --out-labels {output.labels:q} --out-table {output.table:q} > {log:q} 2>&1"


rule prune_regions:
    """Steps 3-4: score regions by mean |w| and remove the weakest fraction of all of them."""
    input:
        labels=f"{REGION_DIR}/regions.h5",
        table=f"{REGION_DIR}/regions.parquet",
    output:
        labels=f"{REGION_DIR}/kept.h5",
        table=f"{REGION_DIR}/regions_pruned.parquet",
    log:
        f"{RESULTS}/logs/prune_regions/{{train}}/{{mag}}/{{region}}/iter{{k}}.log",
    localrule: True
    conda:
        ENV
    params:
        rate=lambda w: REGION[w.region].rate,
        code=code_version("prune"),
    shell:
        "python -m regionprune prune --labels {input.labels:q} --table {input.table:q}"
        " --rate {params.rate} --score mean_abs --iteration {wildcards.k}"
        " --out-labels {output.labels:q} --out-table {output.table:q} > {log:q} 2>&1"


rule retrain:
    """Step 5: retrain with the removed weights held at zero."""
    input:
        data=train_data,
        model=previous_model,
        kept=f"{REGION_DIR}/kept.h5",
    output:
        model=f"{REGION_DIR}/model.h5",
        epochs=f"{REGION_DIR}/epochs.parquet",
    log:
        f"{RESULTS}/logs/retrain/{{train}}/{{mag}}/{{region}}/iter{{k}}.log",
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=config["gpus"],
    params:
        data_dir=lambda w: f"{RESULTS}/data/{TRAIN[w.train].dataset}",
        train=train_json,
        settings=lambda w: REGION[w.region].to_json(),
        device=config["device"],
        code=code_version("retrain"),
    shell:
        "python -m regionprune retrain --data-dir {params.data_dir:q}"
        " --train-settings {params.train:q} --settings {params.settings:q}"
        " --device {params.device} --threads {threads} --iteration {wildcards.k}"
        " --model {input.model:q} --pruned {input.kept:q}"
        " --out-model {output.model:q} --out-epochs {output.epochs:q} > {log:q} 2>&1"
