# One evaluation job per (strategy, seed): the checkpoint chosen on val/ (model.pt) and
# the last epoch's (final.pt) are evaluated on test/ when the dataset has one, else on
# val/ (eval.json says which).


rule evaluate:
    input:
        model=MODEL_PATH,
        final_model=FINAL_MODEL_PATH,
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
        final_predictions=f"{RUN_METRICS}/{FINAL_PREDICTIONS}",
    log:
        "logs/evaluate/{strategy}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/evaluate/{strategy}/seed{seed}.tsv"
    conda:
        "../envs/pytorch.yaml"
    threads: job_threads
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        device=TRAIN["device"],
    shell:
        "python {input.script:q} --model {input.model}"
        " --final-model {input.final_model}"
        " --data-dir {input.data_dir} --device {params.device}"
        " --out-metrics {output.metrics}"
        " --out-predictions {output.predictions}"
        " --out-final-predictions {output.final_predictions} > {log} 2>&1"
