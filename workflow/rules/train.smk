# One training rule per strategy (train_finetune, train_feature_extract, ...), generated
# from the strategy registry, each with its own resources so a SLURM profile can set them
# by rule name. Every (strategy, seed) is one job; per-epoch resumable state goes to
# checkpoints/<strategy>/seed<k>/ (not an output, so it survives a failed job).

for strategy in STRATEGY_REGISTRY.values():

    rule:
        name:
            f"train_{strategy.name}"
        input:
            data_dir=rules.prepare_data.output.data_dir,
            weights=rules.download_weights.output.weights,
            script=script("train.py"),
            code=library_code("train.py"),
        output:
            model=run_path(MODEL_PATH, strategy.name),
            final_model=run_path(FINAL_MODEL_PATH, strategy.name),
            metrics=report(
                run_path(f"{RUN_METRICS}/{TRAIN_METRICS}", strategy.name),
                caption="../report/captions/train_metrics.rst",
                category="Training",
                subcategory=f"{strategy.name} seed {{seed}}",
            ),
            live=directory(run_path(LIVE, strategy.name)),
        log:
            run_path("logs/train/{strategy}/seed{seed}.log", strategy.name),
        benchmark:
            run_path("logs/benchmarks/train/{strategy}/seed{seed}.tsv", strategy.name)
        # longest jobs first: the short ones then fill the gaps at the end of the run
        priority: strategy.runtime
        conda:
            "../envs/pytorch.yaml"
        threads: lambda wildcards, strategy=strategy.name: job_threads(wildcards, strategy)
        resources:
            mem_mb=strategy.mem_mb,
            runtime=strategy.runtime,
        params:
            strategy=strategy.name,
            arch=MODEL["arch"],
            weights=MODEL["weights"],
            weights_sha256=as_arg(MODEL["weights_sha256"]),
            # every train.* setting, as dvc.yaml's ${train} renders them
            settings=command_line(TRAIN),
            crop_size=as_arg(DATA["crop_size"]),
            resize_size=as_arg(DATA["resize_size"]),
        shell:
            "python {input.script:q} --data-dir {input.data_dir}"
            " --strategy {params.strategy} --seed {wildcards.seed} --arch {params.arch}"
            " --weights {params.weights:q} --pretrained {input.weights}"
            " --weights-sha256 {params.weights_sha256} {params.settings}"
            " --crop-size {params.crop_size} --resize-size {params.resize_size}"
            " --out-model {output.model} --out-final-model {output.final_model}"
            " --out-metrics {output.metrics} --out-live {output.live} > {log} 2>&1"
