# Downloads run on the submit host (localrule): compute nodes never need the network.


rule download_data:
    input:
        script=script("download.py"),
        code=library_code("download.py"),
    output:
        archive=ARCHIVE,
    log:
        "logs/download_data.log",
    localrule: True
    conda:
        "../envs/pytorch.yaml"
    params:
        url=DATA["url"],
        sha256=as_arg(DATA["sha256"]),
    shell:
        "python {input.script:q} --url {params.url:q} --sha256 {params.sha256}"
        " --out {output.archive} > {log} 2>&1"


# The file training starts from, whatever model.weights is (see download.py --weights).
rule download_weights:
    input:
        local=local_weights_input,
        script=script("download.py"),
        code=library_code("download.py"),
    output:
        weights=PRETRAINED,
    log:
        "logs/download_weights.log",
    localrule: True
    conda:
        "../envs/pytorch.yaml"
    params:
        url=MODEL["weights_url"],
        weights=MODEL["weights"],
        arch=MODEL["arch"],
        sha256=as_arg(MODEL["weights_sha256"]),
    shell:
        "python {input.script:q} --url {params.url:q} --sha256 {params.sha256}"
        " --config-prefix model.weights_ --weights {params.weights:q} --arch {params.arch}"
        " --out {output.weights} > {log} 2>&1"
