rule evaluate:
    input:
        model=rules.train.output.model,
        data_dir=rules.prepare_data.output.data_dir,
        code=["workflow/scripts/evaluate.py", *LIBRARY],
    output:
        metrics=report(
            "metrics/{strategy}/eval.json",
            caption="../report/captions/eval_metrics.rst",
            category="Evaluation",
            subcategory="{strategy}",
        ),
        predictions="metrics/{strategy}/predictions.csv",
    log:
        "logs/evaluate/{strategy}.log",
    benchmark:
        "logs/benchmarks/evaluate/{strategy}.tsv"
    conda:
        "../envs/pytorch.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        device=TRAIN["device"],
        num_workers=TRAIN["num_workers"],
    shell:
        "python workflow/scripts/evaluate.py --model {input.model}"
        " --data-dir {input.data_dir} --device {params.device}"
        " --num-workers {params.num_workers} --out-metrics {output.metrics}"
        " --out-predictions {output.predictions} > {log} 2>&1"
