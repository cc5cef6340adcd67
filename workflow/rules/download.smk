# Downloads run on the submit host (localrule): compute nodes never need the network.


rule download_data:
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
        "python workflow/scripts/download.py --url {params.url:q} --sha256 {params.sha256}"
        " --out {output.archive} > {log} 2>&1"


rule download_weights:
    output:
        weights=PRETRAINED,
    log:
        "logs/download_weights.log",
    localrule: True
    conda:
        "../envs/pytorch.yaml"
    params:
        url=MODEL["weights_url"],
        sha256=as_arg(MODEL["weights_sha256"]),
    shell:
        "python workflow/scripts/download.py --url {params.url:q} --sha256 {params.sha256}"
        " --config-prefix model.weights_ --out {output.weights} > {log} 2>&1"
