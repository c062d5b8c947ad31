"""The objective rule engine: rule files, validation, evaluation with explanations, backtests. Pure code, no I/O."""
