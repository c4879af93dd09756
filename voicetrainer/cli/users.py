"""`voicetrainer users`: local accounts of the web app (trainers and recruits, cohorts).

The password is read from a prompt (twice) or, with ``--password-stdin``, from the first line of
standard input; it is never an argument (it would show in the process list and shell history).
"""

from __future__ import annotations

from voicetrainer.cli._common import console, settings_from_args


def register(sub, common) -> None:
    p = sub.add_parser("users", parents=[common], help="web app accounts: add, list, passwd, cohort, remove",
                       description="Manage the web app's local accounts (stored in <data>/accounts.sqlite3). While "
                       "there are none, `serve` runs for the person at this machine; once one exists, everyone logs in.")
    s = p.add_subparsers(dest="users_cmd", required=True, metavar="ACTION")
    a = s.add_parser("add", help="add an account")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=["trainer", "recruit"])
    a.add_argument("--cohort", default=None, help="the recruit's cohort")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    ls = s.add_parser("list", help="list accounts")
    ls.add_argument("--role", choices=["trainer", "recruit"])
    ls.add_argument("--cohort")
    ls.add_argument("--json", action="store_true")
    pw = s.add_parser("passwd", help="set a new password")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    c = s.add_parser("cohort", help="put a user in a cohort ('' = none)")
    c.add_argument("name")
    c.add_argument("cohort")
    r = s.add_parser("remove", help="delete an account")
    r.add_argument("name")
    p.set_defaults(func=run)


def _password(args) -> str:
    import getpass
    import sys

    from voicetrainer.errors import InputError

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ", field="password")
    return first


def run(args) -> int:
    import json

    from voicetrainer.config import user_data_dir
    from voicetrainer.web.accounts import default_store

    store = default_store(user_data_dir(settings_from_args(args)))
    con = console()
    cmd = args.users_cmd
    if cmd == "add":
        user = store.add(args.name, _password(args), args.role, args.cohort)
        con.print(f"added {user.name} ({user.role}{', ' + user.cohort if user.cohort else ''})", markup=False)
    elif cmd == "list":
        users = store.list(role=args.role, cohort=args.cohort)
        if args.json:
            print(json.dumps([{"name": u.name, "role": u.role, "cohort": u.cohort} for u in users]))
        else:
            for u in users:
                con.print(f"{u.name}\t{u.role}\t{u.cohort or ''}", markup=False, highlight=False)
    elif cmd == "passwd":
        store.set_password(args.name, _password(args))
        con.print(f"new password set for {args.name}", markup=False)
    elif cmd == "cohort":
        store.set_cohort(args.name, args.cohort or None)
        con.print(f"{args.name}: cohort {args.cohort or '(none)'}", markup=False)
    elif cmd == "remove":
        store.remove(args.name)
        con.print(f"removed {args.name}", markup=False)
    return 0
