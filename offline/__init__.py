"""Train, backtest and evaluate offline: the pipeline over files, no broker needed."""
