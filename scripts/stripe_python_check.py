#!/usr/bin/env python3
"""Checks the Stripe emulator with Stripe's official Python library.

Creates, retrieves, lists and expires a Checkout Session, and checks the
errors Stripe gives for expiring twice and for a missing session. Exits 0
when everything behaves like Stripe, 1 otherwise (2 when `stripe` is not
installed).

    pip install stripe
    stripe-emulator --bind 127.0.0.1:12111 &
    python3 scripts/stripe_python_check.py --api-base http://127.0.0.1:12111
"""

import argparse
import os
import sys
import time
import uuid

try:
    import stripe
except ImportError:
    print("stripe_python_check: the 'stripe' package is not installed (pip install stripe)", file=sys.stderr)
    sys.exit(2)


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def run_checks():
    payment_id = str(uuid.uuid4())
    created_after = int(time.time()) - 60

    session = stripe.checkout.Session.create(
        mode="payment",
        line_items=[
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1250,
                    "product_data": {"name": "T-shirt [python check]"},
                },
                "quantity": 2,
            }
        ],
        success_url="http://shop.test/paid?session={CHECKOUT_SESSION_ID}",
        cancel_url="http://shop.test/cart",
        expires_at=int(time.time()) + 3600,
        client_reference_id=payment_id,
        metadata={"payment_id": payment_id, "order_id": "order-1"},
        payment_intent_data={"metadata": {"payment_id": payment_id}},
        idempotency_key=f"python-check:{payment_id}:create",
    )
    expect(session.id.startswith("cs_"), f"unexpected id {session.id}")
    expect(session.status == "open", f"new session status {session.status}")
    expect(session.amount_total == 2500, f"amount_total {session.amount_total}")
    expect(session.metadata["payment_id"] == payment_id, "metadata lost")
    print(f"created   {session.id} ({session.status}, {session.amount_total} {session.currency})")

    again = stripe.checkout.Session.create(
        mode="payment",
        line_items=[
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1250,
                    "product_data": {"name": "T-shirt [python check]"},
                },
                "quantity": 2,
            }
        ],
        success_url="http://shop.test/paid?session={CHECKOUT_SESSION_ID}",
        cancel_url="http://shop.test/cart",
        expires_at=session.expires_at,
        client_reference_id=payment_id,
        metadata={"payment_id": payment_id, "order_id": "order-1"},
        payment_intent_data={"metadata": {"payment_id": payment_id}},
        idempotency_key=f"python-check:{payment_id}:create",
    )
    expect(again.id == session.id, "the same idempotency key created a second session")
    print(f"replayed  {again.id} (same idempotency key)")

    retrieved = stripe.checkout.Session.retrieve(session.id, expand=["payment_intent"])
    expect(retrieved.id == session.id, "retrieve returned another session")
    expect(retrieved.payment_intent is None, "payment_intent before payment")
    print(f"retrieved {retrieved.id} ({retrieved.status})")

    listed = stripe.checkout.Session.list(status="open", created={"gte": created_after}, limit=100)
    ids = [s.id for s in listed.auto_paging_iter()]
    expect(session.id in ids, f"{session.id} missing from the list of open sessions")
    print(f"listed    {len(ids)} open session(s)")

    expired = stripe.checkout.Session.expire(session.id, idempotency_key=f"python-check:{payment_id}:expire")
    expect(expired.status == "expired", f"expire returned status {expired.status}")
    expect(expired.url is None, "an expired session still has a url")
    print(f"expired   {expired.id}")

    listed = stripe.checkout.Session.list(status="expired", created={"gte": created_after}, limit=100)
    expect(session.id in [s.id for s in listed.auto_paging_iter()], "expired session not listed as expired")

    try:
        stripe.checkout.Session.expire(session.id)
        raise CheckFailed("expiring an expired session succeeded")
    except stripe.InvalidRequestError as error:
        expect(error.http_status == 400, f"expire twice: HTTP {error.http_status}")
        expect("can be expired" in str(error.user_message), f"expire twice: {error.user_message}")
        print("refused   second expire (400 invalid_request_error)")

    try:
        stripe.checkout.Session.retrieve("cs_test_does_not_exist")
        raise CheckFailed("retrieving a missing session succeeded")
    except stripe.InvalidRequestError as error:
        expect(error.http_status == 404, f"missing session: HTTP {error.http_status}")
        expect(error.code == "resource_missing", f"missing session: code {error.code}")
        print("refused   missing session (404 resource_missing)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--api-base",
        default=os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111"),
        help="emulator URL (env STRIPE_API_BASE; default %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("STRIPE_EMULATOR_KEY", "sk_test_python_check"),
        help="any sk_test_ key the emulator accepts (env STRIPE_EMULATOR_KEY)",
    )
    args = parser.parse_args()
    stripe.api_base = args.api_base.rstrip("/")
    stripe.api_key = args.api_key
    stripe.max_network_retries = 0
    try:
        run_checks()
    except CheckFailed as failure:
        print(f"stripe_python_check: FAILED: {failure}", file=sys.stderr)
        return 1
    except stripe.StripeError as error:
        print(f"stripe_python_check: FAILED: unexpected Stripe error: {error!r}", file=sys.stderr)
        return 1
    except Exception as error:  # the emulator is down, a response does not parse, ...
        print(f"stripe_python_check: FAILED: {error!r}", file=sys.stderr)
        return 1
    print("stripe_python_check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
