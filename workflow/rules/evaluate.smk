# One evaluation job per (strategy, seed): the checkpoint chosen on val/ is evaluated on
# test/ when the dataset has one, else on val/ (eval.json says which).


rule evaluate:
    input:
        model=MODEL_PATH,
        data_dir=rules.prepare_data.output.data_dir,
        script=script("evaluate.py"),
        code=library_code("evaluate.py"),
    output:
        metrics=report(
            f"{RUN_METRICS}/{EVAL_METRICS}",
            caption="../report/captions/eval_metrics.rst",
            category="Evaluation",
            subcategory="{strategy} seed {seed}",
        ),
        predictions=f"{RUN_METRICS}/{PREDICTIONS}",
    log:
        "logs/evaluate/{strategy}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/evaluate/{strategy}/seed{seed}.tsv"
    conda:
        "../envs/pytorch.yaml"
    threads: JOB_THREADS
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        device=TRAIN["device"],
    shell:
        "python {input.script:q} --model {input.model}"
        " --data-dir {input.data_dir} --device {params.device}"
        " --out-metrics {output.metrics}"
        " --out-predictions {output.predictions} > {log} 2>&1"
