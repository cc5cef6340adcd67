# Using what was trained: predictions on new images (every seed of a strategy voting)
# and, on request, exports for use without this project.


rule predict_images:
    input:
        models=lambda wildcards: expand(
            MODEL_PATH, strategy=wildcards.strategy, seed=SEEDS
        ),
        data_dir=rules.prepare_data.output.data_dir,
        images=predict_input,
        # read for the seeds only, as the report does
        config=ancient(CONFIG_FILES),
        script=script("predict.py"),
        code=LIBRARY,
    output:
        STRATEGY_PREDICTIONS,
    log:
        "logs/predict/{strategy}.log",
    benchmark:
        "logs/benchmarks/predict/{strategy}.tsv"
    conda:
        "../envs/pytorch.yaml"
    threads: JOB_THREADS
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        images=as_arg(config["predict"]["input"]),
        device=TRAIN["device"],
    shell:
        "python {input.script} {params.images} --strategy {wildcards.strategy}"
        " --config {input.config} --data-dir {input.data_dir}"
        " --device {params.device} --out {output} > {log} 2>&1"


rule predict:
    """Target: predictions/<strategy>.csv for every strategy."""
    input:
        expand(STRATEGY_PREDICTIONS, strategy=STRATEGIES),


rule export_model:
    input:
        model=MODEL_PATH,
        data_dir=rules.prepare_data.output.data_dir,
        script=script("export.py"),
        code=LIBRARY,
    output:
        program=PROGRAM_PATH,
        onnx=ONNX_PATH,
        report=EXPORT_REPORT,
    log:
        "logs/export/{strategy}/seed{seed}.log",
    benchmark:
        "logs/benchmarks/export/{strategy}/seed{seed}.tsv"
    conda:
        "../envs/pytorch.yaml"
    threads: JOB_THREADS
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python {input.script} --model {input.model} --data-dir {input.data_dir}"
        " --out-program {output.program} --out-onnx {output.onnx}"
        " --out-report {output.report} > {log} 2>&1"


rule export:
    """Target: model.pt2 and model.onnx of every trained model."""
    input:
        expand(EXPORT_REPORT, strategy=STRATEGIES, seed=SEEDS),
