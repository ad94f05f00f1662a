"""Detection: rolling per-account features, the isolation forest, scoring and leads."""
