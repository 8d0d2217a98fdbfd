"""A signer's keyed HMAC template, unwrapped to the OpenSSL object inside ``hmac.HMAC`` where there is one."""

from __future__ import annotations

import hashlib
import hmac

from lotusx.signers.hmac import hmac_sha256_hex, keyed, unwrapped

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
PAYLOAD = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&timestamp=1499827319559"


def expected(payload: bytes) -> str:
    return hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()


def test_unwrapped_template_signs_as_hmac_new() -> None:
    """The unwrapped template gives the signature hmac.new gives, signature after signature."""
    template = unwrapped(keyed(SECRET))
    assert not isinstance(template, hmac.HMAC)  # OpenSSL's object, not the Python wrapper
    assert [hmac_sha256_hex(template, p) for p in (PAYLOAD, b"x", PAYLOAD)] == [
        expected(PAYLOAD), expected(b"x"), expected(PAYLOAD)]


def test_hmac_without_openssl_object_is_used_as_it_is() -> None:
    """An hmac.HMAC that holds no OpenSSL HMAC (a digest OpenSSL does not provide) is its own template."""
    mac = hmac.new(SECRET.encode(), digestmod=lambda *data: hashlib.sha256(*data))  # pure-Python HMAC path
    template = unwrapped(mac)
    assert template is mac
    assert hmac_sha256_hex(template, PAYLOAD) == expected(PAYLOAD)
