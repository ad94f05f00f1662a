"""Ingest: validated reports, de-duplicated and applied to per-account ledgers (no Kafka)."""
