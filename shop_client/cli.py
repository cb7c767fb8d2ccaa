"""``mts-shop`` and ``mts-admin``: the shop's and the administrator's command lines.

::

    mts-shop register REF [--username NAME] [--mobile +212...] [--language fr|ar|en]
    mts-shop redeem REF CODE
    mts-shop authorization REF
    mts-shop order ORDER_ID REF --total-minor 25000 --currency MAD [--pickup POINT]
    mts-shop delivery ORDER_ID DELIVERED|REFUSED|NOT_DELIVERED|CANCELLED

    mts-admin revoke (--customer REF | --grant ID) --reason TEXT [--order ORDER_ID]
    mts-admin customer REF
    mts-admin ledger [--customer REF] [--kind KIND] [--since T] [--until T] [--after-id N] [--limit N] [--all]
    mts-admin report [--from DAY] [--to DAY] [--html out.html]   (default: today, UTC)
    mts-admin reconcile OPERATOR.csv [--confirm-billing]  (exit 4 when figures differ)
    mts-admin policy get [--yaml]
    mts-admin policy set FILE.yaml|FILE.json [--expected-version N]

Readable tables by default, ``--json`` for scripts. Connection options and exit codes as
in ``mts-gateway`` (``gateway_client.cli``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timezone
from typing import Any

import yaml

from gateway_client.cli import (
    EXIT_OK,
    add_client_arguments,
    client_config,
    print_fields,
    print_json,
    print_table,
    run,
)

from .errors import InvalidPolicyFile
from .models import (
    Authorization,
    Customer,
    DeliveryMode,
    DeliveryOutcome,
    EntryKind,
    Grant,
    Money,
    Order,
)


def _money(value: Money | None) -> str | None:
    return None if value is None else str(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _show(value: Any, args: argparse.Namespace, pairs: list[tuple[str, Any]]) -> None:
    if args.json:
        print_json(value.to_dict())
    else:
        print_fields(pairs)


def _customer_pairs(c: Customer) -> list[tuple[str, Any]]:
    return [("customer", c.customer_ref), ("status", c.status.value), ("username", c.username), ("mobile", c.mobile),
            ("language", c.language), ("forfeits", c.forfeit_count), ("created", _time(c.created_at))]


def _authorization_pairs(a: Authorization) -> list[tuple[str, Any]]:
    return [
        ("customer", a.customer_ref), ("may order", "yes" if a.may_order else "no"), ("advances left", a.advances_left),
        ("advance value", _money(a.advance_value)), ("deposit active", "yes" if a.deposit_active else "no"),
        ("deposit orders left", ("unlimited" if a.deposit_active else None) if a.deposit_orders_left is None
         else a.deposit_orders_left),
        ("deposit expires", _time(a.deposit_expires_at)), ("blocked", "yes" if a.blocked else "no"), ("reason", a.reason),
    ]


def _order_pairs(o: Order) -> list[tuple[str, Any]]:
    return [("order", o.order_id), ("status", o.status.value), ("total", _money(o.total)),
            ("advance applied", _money(o.advance_applied)), ("cash on delivery", _money(o.cod_due)),
            ("delivery", o.delivery_mode.value + (f" ({o.pickup_point_id})" if o.pickup_point_id else "")),
            ("duplicate", "yes" if o.duplicate else "no")]


def _grant_rows(grants: tuple[Grant, ...]) -> list[list[Any]]:
    return [[g.grant_id, g.kind.value, g.status.value, _money(g.value),
             f"{g.orders_used}/{'∞' if g.orders_allowed is None else g.orders_allowed}", g.order_id,
             _time(g.expires_at), g.revoke_reason] for g in grants]


_GRANT_HEADERS = ["grant", "kind", "status", "value", "orders", "order", "expires", "revoked for"]


# -- mts-shop ----------------------------------------------------------------------------------

def _shop(args: argparse.Namespace) -> Any:
    from .client import ShopClient

    return ShopClient.from_config(client_config(args))


def cmd_register(args: argparse.Namespace) -> int:
    customer = _shop(args).register_customer(args.customer_ref, username=args.username, mobile=args.mobile,
                                             language=args.language)
    _show(customer, args, _customer_pairs(customer))
    return EXIT_OK


def cmd_redeem(args: argparse.Namespace) -> int:
    result = _shop(args).redeem_code(args.customer_ref, args.code)
    _show(result, args, [("grant", result.grant_id), ("kind", result.kind.value), ("value", _money(result.value)),
                         ("already redeemed", "yes" if result.already_redeemed else "no")]
          + _authorization_pairs(result.authorization)[1:])
    return EXIT_OK


def cmd_authorization(args: argparse.Namespace) -> int:
    auth = _shop(args).get_authorization(args.customer_ref)
    _show(auth, args, _authorization_pairs(auth))
    return EXIT_OK


def cmd_order(args: argparse.Namespace) -> int:
    mode = DeliveryMode.PICKUP if args.pickup else DeliveryMode.HOME
    order = _shop(args).place_order(args.order_id, args.customer_ref, Money(args.total_minor, args.currency.upper()),
                                    delivery_mode=mode, pickup_point_id=args.pickup)
    _show(order, args, _order_pairs(order))
    return EXIT_OK


def cmd_delivery(args: argparse.Namespace) -> int:
    order = _shop(args).report_delivery(args.order_id, DeliveryOutcome(args.outcome))
    _show(order, args, _order_pairs(order))
    return EXIT_OK


def shop_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mts-shop", description="The shop's side of MTS.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("register", help="register (or update) a customer")
    p.add_argument("customer_ref")
    p.add_argument("--username")
    p.add_argument("--mobile", help="the number the customer will pay from (flow 3)")
    p.add_argument("--language", choices=["fr", "ar", "en"])
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("redeem", help="bind the code from the SMS reply to a customer")
    p.add_argument("customer_ref")
    p.add_argument("code")
    p.set_defaults(func=cmd_redeem)

    p = sub.add_parser("authorization", help="may this customer order now?")
    p.add_argument("customer_ref")
    p.set_defaults(func=cmd_authorization)

    p = sub.add_parser("order", help="place a cash-on-delivery order")
    p.add_argument("order_id")
    p.add_argument("customer_ref")
    p.add_argument("--total-minor", type=int, required=True, help="the order total in minor units (25000 = 250.00)")
    p.add_argument("--currency", required=True, help="ISO 4217, e.g. MAD")
    p.add_argument("--pickup", metavar="POINT_ID", help="deliver to this pickup point (default: home delivery)")
    p.set_defaults(func=cmd_order)

    p = sub.add_parser("delivery", help="report how the delivery ended")
    p.add_argument("order_id")
    p.add_argument("outcome", choices=[o.value for o in DeliveryOutcome])
    p.set_defaults(func=cmd_delivery)

    for command in sub.choices.values():
        add_client_arguments(command)
    return parser


def shop_main(argv: list[str] | None = None) -> int:
    args = shop_parser().parse_args(argv)
    return run(args.func, args)


# -- mts-admin ---------------------------------------------------------------------------------

def _admin(args: argparse.Namespace) -> Any:
    from .admin import AdminClient

    return AdminClient.from_config(client_config(args))


def cmd_revoke(args: argparse.Namespace) -> int:
    result = _admin(args).revoke_authorization(reason=args.reason, customer_ref=args.customer, grant_id=args.grant,
                                               order_id=args.order)
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    print_fields([("revoked grants", len(result.revoked_grants)), ("forfeited", _money(result.forfeited)),
                  ("customer blocked", "yes" if result.customer_blocked else "no")])
    if result.revoked_grants:
        print()
        print_table(_grant_rows(result.revoked_grants), _GRANT_HEADERS)
    return EXIT_OK


def cmd_customer(args: argparse.Namespace) -> int:
    details = _admin(args).get_customer(args.customer_ref)
    if args.json:
        print_json(details.to_dict())
        return EXIT_OK
    print_fields(_customer_pairs(details.customer) + _authorization_pairs(details.authorization)[1:])
    print("\ngrants")
    print_table(_grant_rows(details.grants), _GRANT_HEADERS)
    print("\norders")
    print_table([[o.order_id, o.status.value, _money(o.total), _money(o.advance_applied), _money(o.cod_due),
                  o.delivery_mode.value] for o in details.orders],
                ["order", "status", "total", "advance", "cod due", "delivery"])
    return EXIT_OK


def _moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def cmd_ledger(args: argparse.Namespace) -> int:
    admin = _admin(args)
    filters: dict[str, Any] = {"customer_ref": args.customer, "kind": args.kind,
                               "since": _moment(args.since) if args.since else None,
                               "until": _moment(args.until) if args.until else None}
    if args.all:
        entries = list(admin.iter_ledger(page_size=args.limit or 100, after_id=args.after_id, **filters))
        next_after = None
    else:
        page = admin.get_ledger(after_id=args.after_id, limit=args.limit, **filters)
        entries, next_after = list(page.entries), page.next_after_id
    if args.json:
        print_json({"entries": [e.to_dict() for e in entries], "next_after_id": next_after})
        return EXIT_OK
    print_table([[e.entry_id, _time(e.at), e.kind.value, _money(e.amount), _money(e.net), e.premium_number,
                  e.message_id, e.grant_id, e.order_id, e.note] for e in entries],
                ["id", "at", "kind", "amount", "net", "number", "message", "grant", "order", "note"])
    if next_after is not None:
        print(f"\nmore: --after-id {next_after}")
    return EXIT_OK


EXIT_DIFFERENCES = 4
"""``mts-admin reconcile``: the operator's figures and MTS's differ (0 when all match)."""


def cmd_report(args: argparse.Namespace) -> int:
    today = datetime.now(timezone.utc).date()
    first = date.fromisoformat(args.first) if args.first else today
    last = date.fromisoformat(args.last) if args.last else max(first, today)
    report = _admin(args).get_report(first, last)
    if args.html:
        from .html_report import render_html

        with open(args.html, "w", encoding="utf-8") as out:
            out.write(render_html(report))
        print(f"wrote {args.html}")
        return EXIT_OK
    if args.json:
        print_json(report.to_dict())
        return EXIT_OK
    print(f"report {report.first_day} .. {report.last_day}")
    print_table([[r.day, r.premium_number, r.operator or "-", r.currency, r.messages, r.gross_minor, r.net_minor,
                  r.advances_applied_minor, r.advances_returned_minor, r.forfeits_minor, r.expiries_minor,
                  r.reversals_minor] for r in report.rows],
                ["day", "number", "operator", "cur", "msgs", "gross", "net", "adv.applied", "adv.returned", "forfeits",
                 "expiries", "reversals"])
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .reconcile import LineStatus, compare, date_range, read_operator_report

    lines = read_operator_report(args.file)  # InvalidOperatorReport is a ValueError: exit 2
    admin = _admin(args)
    first, last = date_range(lines)
    differences = compare(lines, admin.get_report(first, last))
    confirmations = []
    if args.confirm_billing:
        # Only what the operator's figures back up: a day x number (x operator) that differs
        # is left unconfirmed until someone looks at it.
        for d in differences:
            if d.status is LineStatus.MATCH and d.operator_messages:
                confirmations.append(admin.confirm_billing(d.day, d.premium_number, d.operator))
    mismatched = [d for d in differences if d.status is not LineStatus.MATCH]
    if args.json:
        print_json({"first_day": first.isoformat(), "last_day": last.isoformat(),
                    "lines": [d.to_dict() for d in differences],
                    "differences": len(mismatched),
                    "confirmed": [c.to_dict() for c in confirmations]})
    else:
        print(f"operator report {args.file}: {first} .. {last}, {len(lines)} lines, "
              f"{len(mismatched)} with differences")
        if mismatched:
            print_table([[d.day, d.premium_number, d.operator or "*", d.status.value, d.operator_messages, d.mts_messages,
                          d.messages_delta, d.operator_gross_minor, d.mts_gross_minor, d.gross_delta_minor, d.currency]
                         for d in mismatched],
                        ["day", "number", "operator", "status", "op.msgs", "mts.msgs", "delta", "op.gross", "mts.gross",
                         "delta", "cur"])
        for c in confirmations:
            print(f"confirmed {c.confirmed} messages of {c.day} {c.premium_number} {c.operator or '*'}"
                  + (f" ({c.held_left} held: confirmed by the gateway)" if c.held_left else ""))
    return EXIT_DIFFERENCES if mismatched else EXIT_OK


def _print_policy(policy: Any, args: argparse.Namespace) -> None:
    data = policy.to_dict()
    if args.json:
        print_json(data)
    else:
        sys.stdout.write(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def cmd_policy_get(args: argparse.Namespace) -> int:
    policy = _admin(args).get_policy()
    if policy is None:
        print("no policy set yet" if not args.json else "null")
        return EXIT_OK
    _print_policy(policy, args)
    return EXIT_OK


def cmd_policy_set(args: argparse.Namespace) -> int:
    from .admin import load_policy_file

    try:
        policy = load_policy_file(args.file)
    except InvalidPolicyFile as exc:
        raise ValueError(str(exc)) from None
    stored = _admin(args).set_policy(policy, expected_version=args.expected_version)
    if args.json:
        print_json(stored.to_dict())
    else:
        print(f"policy version {stored.version} stored")
    return EXIT_OK


def admin_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mts-admin", description="The administrator's side of MTS.")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: list[argparse.ArgumentParser] = []

    p = sub.add_parser("revoke", help="revoke (forfeit) a customer's grants or one grant")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer")
    who.add_argument("--grant")
    p.add_argument("--reason", required=True)
    p.add_argument("--order", help="the order that caused it (e.g. a refused delivery)")
    p.set_defaults(func=cmd_revoke)
    commands.append(p)

    p = sub.add_parser("customer", help="a customer with grants, orders and authorization")
    p.add_argument("customer_ref")
    p.set_defaults(func=cmd_customer)
    commands.append(p)

    p = sub.add_parser("ledger", help="ledger entries, oldest first")
    p.add_argument("--customer")
    p.add_argument("--kind", choices=[k.value for k in EntryKind])
    p.add_argument("--since", help="ISO 8601 time (UTC if no zone)")
    p.add_argument("--until", help="ISO 8601 time (UTC if no zone)")
    p.add_argument("--after-id", type=int)
    p.add_argument("--limit", type=int)
    p.add_argument("--all", action="store_true", help="follow every page")
    p.set_defaults(func=cmd_ledger)
    commands.append(p)

    p = sub.add_parser("report", help="per day x premium number x operator")
    p.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (default today, UTC)")
    p.add_argument("--to", dest="last", help="last day, YYYY-MM-DD (default today, UTC)")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report with charts to FILE")
    p.set_defaults(func=cmd_report)
    commands.append(p)

    p = sub.add_parser("reconcile", help="diff an operator's CSV report with MTS (docs/reconciliation.md)")
    p.add_argument("file", help="CSV: date,premium_number,operator,message_count,gross_amount_minor,currency")
    p.add_argument("--confirm-billing", action="store_true",
                   help="confirm the charges of every day x number (x operator) whose figures match")
    p.set_defaults(func=cmd_reconcile)
    commands.append(p)

    policy = sub.add_parser("policy", help="read or set the merchant's policy")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    p = policy_sub.add_parser("get", help="print the current policy (YAML, or --json)")
    p.set_defaults(func=cmd_policy_get)
    commands.append(p)
    p = policy_sub.add_parser("set", help="store a new policy version from a YAML or JSON file")
    p.add_argument("file")
    p.add_argument("--expected-version", type=int, help="refuse if the current version differs")
    p.set_defaults(func=cmd_policy_set)
    commands.append(p)

    for command in commands:
        add_client_arguments(command)
    return parser


def admin_main(argv: list[str] | None = None) -> int:
    args = admin_parser().parse_args(argv)
    return run(args.func, args)


if __name__ == "__main__":  # python -m shop_client.cli shop|admin ...
    if len(sys.argv) > 1 and sys.argv[1] in ("shop", "admin"):
        entry = shop_main if sys.argv[1] == "shop" else admin_main
        sys.exit(entry(sys.argv[2:]))
    sys.exit("usage: python -m shop_client.cli shop|admin COMMAND ...")
