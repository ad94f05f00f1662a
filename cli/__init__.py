"""Every `fundwatch` command, its options and its text rendering (`cli.main` is the entry point)."""
