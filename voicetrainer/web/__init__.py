"""The web app: recruits practise and read reports, trainers edit personas, grade batches and run cohorts.

Starlette served by uvicorn, Jinja2 templates (autoescaped) in ``templates/``, scripts in ``static/``.

Modules:
    app             `create_app(ctx)`: middleware, templates, the route tables
    server          `make_server`: the socket and uvicorn (limits on connections, bodies, time)
    protocol        uvicorn's h11 protocol with a deadline on every request head
    auth            `Guard` middleware (Host, login, Origin, CSRF), `current_user`, `require_role`
    accounts        local accounts (trainer, recruit), Argon2 password hashes, SQLite
    login_routes    /login, /logout (wrong passwords throttled)
    account_routes  /accounts (trainers manage accounts), /account/password
    views           the pages and the files of sessions and reports
    api             state-changing endpoints (call, chat, batch) and status polls
    events          server-sent events (live call, mic check, baseline)
    persona_editor  the persona editor (form and raw YAML tabs)
    persona_form    the form's fields, form -> YAML, issues -> fields
    services        `WebApp`: all server state (the `ctx` of create_app)
    jobs            `CallJob` (a practice call in a thread) and `BatchJob` (grading a folder)
    uploads         multipart uploads streamed to disk; shipped recordings
    chat            typed chat with a caller
    peer            which local account is on the other end of a loopback connection
    floor_routes    training floor (cohorts, assignments, dashboard, exports)
    practice_ws     practice in the browser over a WebSocket
"""
