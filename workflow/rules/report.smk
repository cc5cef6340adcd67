rule report:
    input:
        train=expand("metrics/{strategy}/train.json", strategy=STRATEGIES),
        evaluation=expand("metrics/{strategy}/eval.json", strategy=STRATEGIES),
        predictions=expand("metrics/{strategy}/predictions.csv", strategy=STRATEGIES),
        data_quality=rules.prepare_data.output.report,
        data_dir=rules.prepare_data.output.data_dir,
        code=["workflow/scripts/report.py", *LIBRARY, *REPORT_TEMPLATES],
    output:
        html=report(
            "reports/comparison.html",
            caption="../report/captions/comparison.rst",
            category="Comparison",
        ),
        markdown="reports/comparison.md",
        summary=report(
            "metrics/summary.csv",
            caption="../report/captions/summary.rst",
            category="Comparison",
        ),
        figures=report(
            directory("reports/figures"),
            patterns=["{name}.png"],
            caption="../report/captions/figures.rst",
            category="Comparison",
        ),
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
