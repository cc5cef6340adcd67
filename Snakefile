# Transfer learning on hymenoptera (ants vs bees): finetune vs feature extraction.
# Run: snakemake --cores 4    Cluster: snakemake --profile slurm    Docs: README.md
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/predict.smk"


rule all:
    default_target: True
    input:
        all_targets(),


onsuccess:
    print_run_summary()
