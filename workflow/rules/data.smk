rule prepare_data:
    input:
        archive=rules.download_data.output.archive,
        manifest=manifest_input,
        code=["workflow/scripts/prepare_data.py", *LIBRARY],
    output:
        data_dir=directory(DATA_DIR),
        report=report(
            "metrics/data_quality.json",
            caption="../report/captions/data_quality.rst",
            category="Data",
        ),
    log:
        "logs/prepare_data.log",
    benchmark:
        "logs/benchmarks/prepare_data.tsv"
    conda:
        "../envs/pytorch.yaml"
    params:
        manifest=as_arg(DATA["manifest"]),
    shell:
        "python workflow/scripts/prepare_data.py --archive {input.archive}"
        " --manifest {params.manifest} --out-dir {output.data_dir}"
        " --report {output.report} > {log} 2>&1"
