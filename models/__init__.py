"""Detection: rolling features, the forest, scoring, leads, money trails, schemes, negative-list matching."""
