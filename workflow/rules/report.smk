rule report:
    input:
        train=expand("metrics/{strategy}/train.json", strategy=STRATEGIES),
        evaluation=expand("metrics/{strategy}/eval.json", strategy=STRATEGIES),
        predictions=expand("metrics/{strategy}/predictions.csv", strategy=STRATEGIES),
        data_quality=rules.prepare_data.output.report,
        data_dir=rules.prepare_data.output.data_dir,
        code=["workflow/scripts/report.py", *LIBRARY, *REPORT_TEMPLATES],
    output:
        html="reports/comparison.html",
        markdown="reports/comparison.md",
        summary="metrics/summary.csv",
        figures=directory("reports/figures"),
    log:
        "logs/report.log",
    conda:
        "../envs/pytorch.yaml"
    params:
        strategies=STRATEGIES,
    shell:
        "python workflow/scripts/report.py --metrics-dir metrics"
        " --strategies {params.strategies} --data-dir {input.data_dir}"
        " --out-html {output.html} --out-markdown {output.markdown}"
        " --out-summary {output.summary} > {log} 2>&1"
