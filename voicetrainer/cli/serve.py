"""`voicetrainer serve`: the local web app (practice, reports, history, personas, batch grading)."""

from __future__ import annotations

from voicetrainer.cli._common import add_model_args, console, settings_from_args


def register(sub, common) -> None:
    p = sub.add_parser(
        "serve", parents=[common], help="the web app for recruits and trainers (local browser page)",
        description="Start the local web app and print its address. It listens on 127.0.0.1 only; "
        "another --host needs accounts (`voicetrainer users add`) or --token. Once accounts exist everyone "
        "logs in; without accounts the account that started it gets in directly (it acts as a trainer) and "
        "other accounts on this PC need the printed link.",
    )
    p.add_argument("--port", type=int, default=8765, metavar="N", help="port (default 8765; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                   help="address to listen on (default 127.0.0.1; anything else requires accounts or --token)")
    p.add_argument("--token", metavar="SECRET",
                   help="require this token on every request ('auto' = generate one and print the link)")
    p.add_argument("--allow-folder", action="append", default=[], metavar="DIR",
                   help="a folder the app may read recordings from (batch grading, simulated calls); repeatable")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    add_model_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import sys
    from pathlib import Path

    from voicetrainer.web.server import WebApp, is_loopback, make_server, new_token

    settings = settings_from_args(args)
    token = new_token() if args.token == "auto" else args.token
    if token is not None and len(token) < 12:
        from voicetrainer.errors import InputError

        raise InputError("too short: use at least 12 characters (or --token auto)", field="--token")
    app = WebApp(settings=settings, token=token, input_roots=[Path(d) for d in args.allow_folder])
    server = make_server(app, args.host, args.port)  # refuses a non-loopback host without a token (exit 2)
    accounts = app.accounts.has_accounts()
    url = server.url if accounts else server.url + f"?token={app.token}"  # without accounts: others need it
    con = console()
    con.print(f"voicetrainer is running at {url}", markup=False, highlight=False)
    if accounts:
        con.print("accounts exist: everyone logs in (voicetrainer users list)", markup=False)
    elif not is_loopback(args.host):
        con.print(f"listening on {args.host}: only people with the link above (it carries the token) can use it",
                  markup=False)
    con.print("press Ctrl-C to stop", markup=False)
    sys.stdout.flush()  # the URL must reach a pipe or a log file now, not when the server stops
    if args.open:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        con.print("stopping: ending any running call (its recording is kept)", markup=False)
    finally:
        app.shutdown()
        server.server_close()
    return 0
