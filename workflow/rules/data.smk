rule prepare_data:
    input:
        archive=rules.download_data.output.archive,
        manifest=manifest_input,
        script=script("prepare_data.py"),
        code=library_code("prepare_data.py"),
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
    # a SLURM job's request; on hymenoptera the step peaks at about 0.8 GB and takes seconds
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        manifest=as_arg(DATA["manifest"]),
    shell:
        "python {input.script:q} --archive {input.archive}"
        " --manifest {params.manifest:q} --out-dir {output.data_dir}"
        " --report {output.report} > {log} 2>&1"
