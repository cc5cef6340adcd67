# One training job per strategy; the two can run in parallel. Per-epoch resumable
# state goes to checkpoints/<strategy>/ (not an output, so it survives a failed job).


rule train:
    input:
        data_dir=rules.prepare_data.output.data_dir,
        weights=weights_input,
        code=["workflow/scripts/train.py", *LIBRARY],
    output:
        model="models/{strategy}/model.pt",
        metrics=report(
            "metrics/{strategy}/train.json",
            caption="../report/captions/train_metrics.rst",
            category="Training",
            subcategory="{strategy}",
        ),
    log:
        "logs/train/{strategy}.log",
    benchmark:
        "logs/benchmarks/train/{strategy}.tsv"
    conda:
        "../envs/pytorch.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        arch=MODEL["arch"],
        weights=MODEL["weights"],
        pretrained=PRETRAINED,
        weights_sha256=as_arg(MODEL["weights_sha256"]),
        epochs=TRAIN["epochs"],
        batch_size=TRAIN["batch_size"],
        lr=TRAIN["lr"],
        momentum=TRAIN["momentum"],
        step_size=TRAIN["step_size"],
        gamma=TRAIN["gamma"],
        seed=TRAIN["seed"],
        device=TRAIN["device"],
        num_workers=TRAIN["num_workers"],
        precision=TRAIN["precision"],
        cache_images=str(TRAIN["cache_images"]).lower(),
        crop_size=DATA["crop_size"],
        resize_size=DATA["resize_size"],
    shell:
        "python workflow/scripts/train.py --data-dir {input.data_dir}"
        " --strategy {wildcards.strategy} --arch {params.arch}"
        " --weights {params.weights} --pretrained {params.pretrained}"
        " --weights-sha256 {params.weights_sha256}"
        " --epochs {params.epochs} --batch-size {params.batch_size} --lr {params.lr}"
        " --momentum {params.momentum} --step-size {params.step_size}"
        " --gamma {params.gamma} --seed {params.seed} --device {params.device}"
        " --num-workers {params.num_workers} --precision {params.precision}"
        " --cache-images {params.cache_images} --crop-size {params.crop_size}"
        " --resize-size {params.resize_size} --out-model {output.model}"
        " --out-metrics {output.metrics} > {log} 2>&1"
