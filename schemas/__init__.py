"""Record definitions: the JSON Schema files banks validate against, and the Python models."""
