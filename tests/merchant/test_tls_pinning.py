"""Pinned callbacks over real TLS: the connection goes to the checked address while the TLS
server name (SNI) and the certificate check stay the URL's host name.

A throwaway CA (``cryptography``) signs a certificate for ``shop.example``; an asyncio TLS
server on 127.0.0.1 records the SNI it is offered and the ``Host`` header. The name is never
resolved by the system (it does not exist): only the test's resolver knows it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tronrent.merchant.urls import Target, post_pinned, resolve_target


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_pki(folder: Path, server_name: str) -> tuple[Path, Path]:
    """(CA certificate file, server certificate+key file for ``server_name``)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(server_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, server_file = folder / "ca.pem", folder / "server.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write(server_file, cert, key)
    return ca_file, server_file


@asynccontextmanager
async def tls_server(cert_file: Path) -> AsyncIterator[tuple[int, list[str], list[str]]]:
    """An HTTPS server on 127.0.0.1 answering 204; yields (port, SNI names, Host headers)."""
    names: list[str] = []
    hosts: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file)

    def sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name or "")

    context.sni_callback = sni  # type: ignore[assignment]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("host:"):
                    hosts.append(line.split(":", 1)[1].strip())
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ssl.SSLError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1], names, hosts
    finally:
        server.close()
        await server.wait_closed()


async def _only_localhost(_host: str) -> list[str]:
    return ["127.0.0.1"]


async def _target(url: str) -> Target:
    target = await resolve_target(url, allow_private=True, resolve=_only_localhost)
    assert isinstance(target, Target)
    return target


async def test_tls_name_kept_while_the_address_is_pinned(tmp_path: Path) -> None:
    ca_file, server_file = make_pki(tmp_path, "shop.example")
    verify = ssl.create_default_context(cafile=str(ca_file))
    async with (
        tls_server(server_file) as (port, names, hosts),
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=verify)) as client,
    ):
        target = await _target(f"https://shop.example:{port}/cb")
        status = await post_pinned(client, target, content=b"{}", headers={}, timeout_s=10)
    assert status == 204
    assert names == ["shop.example"]  # SNI: the name, not 127.0.0.1
    assert hosts == [f"shop.example:{port}"]


async def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    """The certificate is checked against the URL's name: a server at the pinned address
    presenting another name's certificate gets nothing."""
    ca_file, server_file = make_pki(tmp_path, "other.example")
    verify = ssl.create_default_context(cafile=str(ca_file))
    async with (
        tls_server(server_file) as (port, _names, hosts),
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=verify)) as client,
    ):
        target = await _target(f"https://shop.example:{port}/cb")
        with pytest.raises(aiohttp.ClientConnectorCertificateError, match=r"(?i)hostname"):
            await post_pinned(client, target, content=b"{}", headers={}, timeout_s=10)
    assert hosts == []  # nothing was sent
