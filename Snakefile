# Region pruning for interpretability (Takehana & Ozaki): see README.md.
from snakemake.utils import min_version, validate

from regionprune.config import coerce_cli_strings

min_version("9.0")


configfile: "config.yaml"


config.update(coerce_cli_strings(config))


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/evidence.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
