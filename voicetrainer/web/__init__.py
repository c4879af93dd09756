"""The local web app: recruits start calls and read reports, trainers edit personas and grade batches.

Modules:
    server    `WebServer` and `make_server` (loopback only unless a token is set)
    routes    the request handler: dispatch of every page and API route
    security  token, Host and same-origin checks (`AccessMixin`)
    services  `WebApp` (all server state) and the page data helpers
    sse       server-sent event streams (call, mic check, baseline)
    jobs    `CallJob` (one practice call in a thread, live snapshots for server-sent events) and
            `BatchJob` (grading a folder of recordings with progress)
    pages   the HTML pages (plain HTML; the little JavaScript lives in ``static/``)

Standard library only (``http.server.HTTPServer`` with a bounded request pool + server-sent events): the app serves
one person on their own machine, a few requests per second, and every asset is a local file.
"""
