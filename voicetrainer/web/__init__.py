"""The local web app: recruits start calls and read reports, trainers edit personas and grade batches.

Modules:
    server  `WebApp` (all server state), the request handler, `make_server` (loopback only unless
            a token is set), `serve`
    jobs    `CallJob` (one practice call in a thread, live snapshots for server-sent events) and
            `BatchJob` (grading a folder of recordings with progress)
    pages   the HTML pages (plain HTML; the little JavaScript lives in ``static/``)

Standard library only (``http.server.ThreadingHTTPServer`` + server-sent events): the app serves
one person on their own machine, a few requests per second, and every asset is a local file.
"""
