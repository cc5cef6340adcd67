rule report:
    input:
        train=run_files(TRAIN_METRICS),
        evaluation=run_files(EVAL_METRICS),
        predictions=run_files(PREDICTIONS),
        final_predictions=run_files(FINAL_PREDICTIONS),
        data_quality=rules.prepare_data.output.report,
        data_dir=rules.prepare_data.output.data_dir,
        script=script("report.py"),
        code=library_code("report.py"),
        templates=REPORT_TEMPLATES,
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
        comparison=report(
            "metrics/comparison.json",
            caption="../report/captions/statistics.rst",
            category="Comparison",
        ),
        figures=report(
            directory("reports/figures"),
            patterns=["{name}.png"],
            caption="../report/captions/figures.rst",
            category="Comparison",
        ),
        model_cards=expand(MODEL_CARD, strategy=STRATEGIES),
        headline=HEADLINE_METRICS,
        plots=expand(f"{PLOTS_DIR}/{{name}}", name=PLOT_DATA),
    log:
        "logs/report.log",
    conda:
        "../envs/pytorch.yaml"
    # a SLURM job's request; the default run's report peaks at about 1.0 GB, in seconds
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        # which runs to compare: --strategies ... --seeds ..., as dvc.yaml's ${item}
        runs=command_line({"strategies": STRATEGIES, "seeds": SEEDS}),
        runs_dir=runs_dir,
        model_cards=model_cards_dir,
        margin=config["comparison"]["margin"],
        plots=plots_dir,
    shell:
        "python {input.script:q} {params.runs}"
        " --runs-dir {params.runs_dir} --data-quality {input.data_quality}"
        " --data-dir {input.data_dir} --out-html {output.html}"
        " --out-markdown {output.markdown} --out-figures {output.figures}"
        " --out-summary {output.summary} --out-comparison {output.comparison}"
        " --out-model-cards {params.model_cards} --margin {params.margin}"
        " --out-metrics {output.headline} --out-plots {params.plots} > {log} 2>&1"
