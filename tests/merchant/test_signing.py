"""Signatures, allowlists and callback URL checks (pure; properties with hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tronrent.merchant import signing
from tronrent.merchant.errors import InvalidCallbackUrl
from tronrent.merchant.urls import Target, check_callback_url, resolve_target

methods = st.sampled_from(["GET", "POST", "DELETE"])
paths = st.text(alphabet="abcdefghijklmnopqrstuvwxyz/?=&0123456789", min_size=1, max_size=40)
nonces = st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True)
#: computed independently: printf ... | openssl dgst -sha256 -hmac mks_example
EXAMPLE_SIGNATURE = "dc5ceebca3c0ce7b0c7460c34fdcf75c848cec38a71cb7837a4e2354db259929"
stamps = st.integers(min_value=0, max_value=10**11).map(str)


class TestRequestSignature:
    @given(methods, paths, nonces, stamps, st.binary(max_size=200))
    def test_round_trip(self, method: str, path: str, nonce: str, ts: str, body: bytes) -> None:
        secret = signing.new_secret()
        sig = signing.sign_request(
            secret, timestamp=ts, method=method, path=path, nonce=nonce, body=body
        )
        message = signing.request_message(ts, method, path, nonce, body)
        assert signing.verify(secret, message, sig)
        assert signing.verify(secret, message, sig.upper())  # hex in either case
        assert not signing.verify(signing.new_secret(), message, sig)

    @given(
        methods, paths, nonces, stamps, st.binary(max_size=200), st.binary(min_size=1, max_size=8)
    )
    def test_any_change_breaks_it(
        self, method: str, path: str, nonce: str, ts: str, body: bytes, extra: bytes
    ) -> None:
        secret = signing.new_secret()
        sig = signing.sign(secret, signing.request_message(ts, method, path, nonce, body))
        for changed in (
            signing.request_message(ts, method, path, nonce, body + extra),
            signing.request_message(ts + "1", method, path, nonce, body),
            signing.request_message(ts, method, path + "x", nonce, body),
            signing.request_message(ts, method, path, nonce + "x", body),
            signing.request_message(ts, "PUT", path, nonce, body),
        ):
            assert not signing.verify(secret, changed, sig)

    @pytest.mark.parametrize(
        "signature",
        ["\xe9" * 64, "é" + "0" * 63, "０" * 64, "g" * 64, "0" * 63, "0" * 65, "", "  "],
    )
    def test_not_64_hex_digits_is_false_not_an_error(self, signature: str) -> None:
        """``hmac.compare_digest`` raises ``TypeError`` for a non-ASCII string (a header such
        as ``X-Signature: é...``, read as latin-1): refused before it, a 401 and not a 500."""
        message = signing.request_message("1700000000", "GET", "/api/v1/balance", "n" * 8, b"")
        assert not signing.verify("mks_example", message, signature)

    @pytest.mark.parametrize("stamp", ["1700000000", "0", "9" * 12])
    def test_timestamp_accepted(self, stamp: str) -> None:
        assert signing.TIMESTAMP_RE.fullmatch(stamp)

    @pytest.mark.parametrize(
        "stamp", ["\xb2", "1700000000\xb9", "١٧٠٠", "１７", "9" * 13, "-1", ""]
    )
    def test_timestamp_refused(self, stamp: str) -> None:
        """ASCII digits only: ``"²".isdigit()`` is True and ``int("²")`` raises."""
        assert not signing.TIMESTAMP_RE.fullmatch(stamp)

    def test_known_vector(self) -> None:
        """The docs' example (docs/merchant-api.md): anyone can check their implementation."""
        msg = signing.request_message("1700000000", "post", "/api/v1/orders", "n0nce-0001", b"{}")
        assert msg == b"1700000000\nPOST\n/api/v1/orders\nn0nce-0001\n{}"
        assert signing.sign("mks_example", msg) == EXAMPLE_SIGNATURE


class TestAllowlist:
    def test_empty_allows_everyone(self) -> None:
        assert signing.ip_allowed("203.0.113.9", [])

    def test_networks(self) -> None:
        nets = signing.parse_allowlist(["10.0.0.0/8", " 2001:db8::1 ", "192.0.2.7"])
        assert nets == ["10.0.0.0/8", "2001:db8::1/128", "192.0.2.7/32"]
        assert signing.ip_allowed("10.1.2.3", nets)
        assert signing.ip_allowed("2001:db8::1", nets)
        assert not signing.ip_allowed("192.0.2.8", nets)
        assert not signing.ip_allowed("not-an-ip", nets)

    def test_malformed_entry(self) -> None:
        with pytest.raises(ValueError):
            signing.parse_allowlist(["10.0.0.300"])


class TestCallbackUrl:
    @pytest.mark.parametrize(
        "url",
        ["ftp://x.example/cb", "https://", "https://u:p@x.example/", "x" * 600, "http://a b/"],
    )
    def test_refused(self, url: str) -> None:
        with pytest.raises(InvalidCallbackUrl):
            check_callback_url(url)

    @pytest.mark.parametrize(
        "url",
        [
            "http://a..b/cb",  # empty label
            "http://.shop.example/cb",
            f"http://{'a' * 64}.example/cb",  # a label > 63
            f"http://{'a.' * 125}example/cb",  # > 253
            "http://-shop.example/cb",
            "http://shop-.example/cb",
            "http://shop$.example/cb",
            "http://shop..example:8080/cb",
            "http://shop\u200b\u0080.example/cb",  # IDNA cannot encode it
        ],
    )
    def test_host_not_a_dns_name_refused(self, url: str) -> None:
        """Every such host passed before and made the resolver raise ``UnicodeError`` at each
        delivery."""
        with pytest.raises(InvalidCallbackUrl, match="valid DNS name"):
            check_callback_url(url)

    def test_accepted(self) -> None:
        assert check_callback_url(" https://merchant.example/cb?x=1 ") == (
            "https://merchant.example/cb?x=1"
        )
        assert check_callback_url("  ") is None
        for url in (
            f"https://{'a' * 63}.example/cb",
            f"https://{'a.' * 123}example./cb",  # 253 and the root's dot
            "https://bücher.example/cb",  # IDNA
            "http://_cb.shop-1.example:8443/cb",
            "http://localhost:8080/cb",
            "http://127.0.0.1/cb",
            "http://[2001:db8::1]:8080/cb",
        ):
            assert check_callback_url(url) == url

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/cb",
            "http://10.0.0.5/cb",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/cb",
            "http://[::ffff:192.168.1.1]/cb",
            "http://localhost/cb",
            "http://0.0.0.0/cb",
        ],
    )
    async def test_private_targets_refused(self, url: str) -> None:
        why = await resolve_target(url, allow_private=False)
        assert isinstance(why, str) and ("non-public" in why or "resolve" in why)
        assert isinstance(await resolve_target(url, allow_private=True), Target)

    async def test_public_literal_allowed(self) -> None:
        target = await resolve_target("https://8.8.8.8/cb", allow_private=False)
        assert isinstance(target, Target) and target.addresses == ("8.8.8.8",)
