"""The Faust worker: the app, its topics and tables, agents, Kafka clients and metrics."""
