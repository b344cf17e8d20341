rule fetch:
    """Obtain a built-in data set's IDX files (local folder or download), verified by content
    MD5."""
    output:
        [f"{RESULTS}/data/{{dataset}}/{f}" for f in IDX_FILES],
    log:
        f"{LOGS}/fetch/{{dataset}}.log",
    localrule: True
    conda:
        ENV
    params:
        # the files' identity, not their source (data.local_dir, mirrors: data_identity)
        content=lambda w: data_identity(w.dataset),
        out_dir=lambda w: f"{RESULTS}/data/{w.dataset}",
        code=code_version("fetch"),
    message:
        "get {wildcards.dataset} (checked by MD5)"
    shell:
        "python -m regionprune fetch --dataset {wildcards.dataset}"
        f' --source "${SOURCE_VARIABLE}" --out-dir {{params.out_dir:q}} > {{log:q}} 2>&1'


use rule fetch as import_data with:
    output:
        [f"{RESULTS}/data/{{dataset}}/{f}" for f in USER_FILES],
    message:
        "import {wildcards.dataset} from data.local_dir (checked)"


rule blank_pixels:
    """The input pixels that are zero in every training image (MNIST's border), computed once
    per data set and image count for every job that needs them."""
    input:
        lambda w: data_files(w.dataset),
    output:
        f"{RESULTS}/data/{{dataset}}/blank_pixels_{{limit}}.parquet",
    log:
        f"{LOGS}/blank_pixels/{{dataset}}_{{limit}}.log",
    localrule: True
    conda:
        ENV
    params:
        data_dir=lambda w: f"{RESULTS}/data/{w.dataset}",
        code=code_version("blank_pixels"),
    message:
        "find the blank pixels of {wildcards.dataset} ({wildcards.limit} training images)"
    shell:
        "python -m regionprune blank_pixels --data-dir {params.data_dir:q} --dataset {wildcards.dataset}"
        " --limit {wildcards.limit} --out {output:q} > {log:q} 2>&1"
