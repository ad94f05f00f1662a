"""Detection: rolling features, the forest, scoring, leads, money trails, schemes, and
negative-list matching; no Kafka in it."""
