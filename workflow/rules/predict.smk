# Using what was trained: predictions on new images (one job; every seed of a strategy
# votes) and, on request, exports for use without this project.


rule predict:
    """Also a target: `snakemake predict`."""
    input:
        models=expand(MODEL_PATH, strategy=STRATEGIES, seed=SEEDS),
        data_dir=rules.prepare_data.output.data_dir,
        images=predict_input,
        script=script("predict.py"),
        code=library_code("predict.py"),
    output:
        expand(STRATEGY_PREDICTIONS, strategy=STRATEGIES),
    log:
        "logs/predict.log",
    benchmark:
        "logs/benchmarks/predict.tsv"
    conda:
        "../envs/pytorch.yaml"
    threads: job_threads
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        # --strategies ... --seeds ... --input PATH, as dvc.yaml's ${item} (None: the
        # evaluation split of the data)
        runs=command_line(
            {
                "strategies": STRATEGIES,
                "seeds": SEEDS,
                "input": config["predict"]["input"],
            }
        ),
        device=TRAIN["device"],
        out_dir=predictions_dir,
    shell:
        "python {input.script:q} {params.runs}"
        " --data-dir {input.data_dir} --device {params.device}"
        " --out-dir {params.out_dir} > {log} 2>&1"


rule export_model:
    input:
        model=MODEL_PATH,
        data_dir=rules.prepare_data.output.data_dir,
        script=script("export.py"),
        code=library_code("export.py"),
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
    threads: job_threads
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "python {input.script:q} --model {input.model} --data-dir {input.data_dir}"
        " --out-program {output.program} --out-onnx {output.onnx}"
        " --out-report {output.report} > {log} 2>&1"


rule export:
    """Target: model.pt2 and model.onnx of every trained model."""
    input:
        expand(EXPORT_REPORT, strategy=STRATEGIES, seed=SEEDS),
