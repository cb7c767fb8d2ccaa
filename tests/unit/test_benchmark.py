"""Pieces of ``mts-service bench`` that must not depend on luck."""

from __future__ import annotations

from mts_service.benchmark.runner import code_in_reply


def test_the_code_is_read_from_the_reply_text_not_from_the_signature():
    reply = (
        "<soap:Envelope><soap:Header><ds:SignatureValue>k2+ABCDEFGH/x9=</ds:SignatureValue></soap:Header>"
        "<soap:Body><ns:SubmitSmsResponse><ns:replyText>Votre code: 7KQ2MZ9P. Valable 7 jours.</ns:replyText>"
        "</ns:SubmitSmsResponse></soap:Body></soap:Envelope>"
    )
    assert code_in_reply(reply) == "7KQ2MZ9P"
    assert code_in_reply(reply.replace("7KQ2MZ9P", "")) is None
