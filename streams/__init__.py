"""The Faust app: topics and tables declared once, small agents that call the pure core."""
