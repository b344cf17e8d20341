rule baseline:
    """Train the paper's 784-100-50-10 network before any pruning."""
    input:
        train_data,
    output:
        model=f"{RUNS_DIR}/{{train}}/baseline/model.h5",
        epochs=f"{RUNS_DIR}/{{train}}/baseline/epochs.parquet",
    log:
        f"{LOGS}/baseline/{{train}}.log",
    group:
        CLUSTER_GROUP
    conda:
        ENV
    threads: config["train_threads"]
    resources:
        mem_mb=2000,
        runtime=60,
        gpu=config["gpus"],
    params:
        **training_params("baseline"),
    message:
        f"train the baseline {about('train')}"
    shell:
        "python -m regionprune baseline --data-dir {params.data_dir:q}"
        " --train-settings {params.train:q} --device {params.device} --threads {params.threads}"
        " --out-model {output.model:q} --out-epochs {output.epochs:q} > {log:q} 2>&1"
