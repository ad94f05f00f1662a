"""The analysts' web console, served by the worker's own web server (``console.views``).

``auth`` (users file, password hashes, signed sessions) and ``activity`` (an account's daily
money in and out) have no Faust in them, so the unit tests import them alone.
"""
