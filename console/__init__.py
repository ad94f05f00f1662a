"""The analysts' web console, served by the worker's own web server.

The endpoints, by resource: ``pages`` (static files, the page, sign-in and -out, the user),
``leads``, ``scheme_api``, ``watchlist`` and ``health``; ``shared`` holds what they share
(sign-in and CSRF checks, answers, the one mapping of errors to HTTP statuses). What the
pages show is worked out by modules without Faust, which the unit tests import alone:
``lead_pages``, ``scheme_pages``, ``activity``, ``labels``, ``messages``, and ``auth`` and
``config`` (users file, password hashes, signed sessions).
"""
