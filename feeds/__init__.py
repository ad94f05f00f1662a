"""fundwatch feeds: simulated bank transaction reports."""
