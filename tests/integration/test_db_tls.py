"""TLS that verifies the server: conninfo_from_secret's ``verify-full`` against PostgreSQL over
TCP and TLS (a test CA made here, the embedded server behind a TLS front, since its build has no
TLS), the shipped RDS bundle, and the refusals."""

from __future__ import annotations

import select
import socket
import ssl
import struct
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from tradeflow.adapters import db


def certificate_authority(tmp: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for DNS:localhost, server key), PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tradeflow test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
              .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class TlsFront(threading.Thread):
    """A TLS endpoint for PostgreSQL on 127.0.0.1 (certificate for ``localhost``): it answers
    libpq's SSLRequest with "S", does the TLS handshake as the server, then relays the session to
    the embedded server's Unix socket (whose build has no TLS). Verification is all libpq's."""

    def __init__(self, cert: Path, key: Path, upstream: str) -> None:
        super().__init__(daemon=True)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client: socket.socket) -> None:
        with client:
            request = client.recv(8)
            if len(request) != 8 or struct.unpack("!ii", request) != (8, SSL_REQUEST_CODE):
                return
            client.sendall(b"S")
            try:
                tls = self.context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client refused our certificate
            with tls, socket.socket(socket.AF_UNIX) as upstream:
                upstream.connect(self.upstream)
                while True:  # bounded by the session: ends when either side closes
                    ready = [tls] if tls.pending() else select.select([tls, upstream], [], [], 30)[0]
                    if not ready:
                        return
                    for source in ready:
                        data = source.recv(65536)
                        if not data:
                            return
                        (upstream if source is tls else tls).sendall(data)

    def close(self) -> None:
        self.listener.close()


SSL_REQUEST_CODE = 80877103  # PostgreSQL protocol, "SSLRequest" (section 55.2.10)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, pg_server_url):
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(pg_server_url)
    ca, cert, key = certificate_authority(tmp_path_factory.mktemp("tls"))
    front = TlsFront(cert, key, f"{params['host']}/.s.PGSQL.{params.get('port') or 5432}")
    front.start()
    yield {"port": front.port, "ca": ca, "user": params.get("user", "postgres")}
    front.close()


def secret(port: int, host: str = "localhost", user: str = "postgres") -> dict:
    return {"username": user, "password": "unused: trust", "host": host, "port": port, "dbname": "postgres"}


def test_verify_full_connects_over_tls_when_the_certificate_chains_and_names_the_host(tls_server):
    url = db.conninfo_from_secret(secret(tls_server["port"], user=tls_server["user"]), ca_bundle=tls_server["ca"])
    with db.connect(url) as conn:
        assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1
        assert conn.pgconn.ssl_in_use and conn.info.encoding  # libpq's session is TLS, verified


def test_a_server_the_rds_bundle_does_not_vouch_for_is_refused(tls_server):
    url = db.conninfo_from_secret(secret(tls_server["port"]))  # the shipped RDS bundle
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        db.connect(url)


def test_a_certificate_for_another_name_is_refused(tls_server):
    url = db.conninfo_from_secret(secret(tls_server["port"], host="127.0.0.1"), ca_bundle=tls_server["ca"])
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        db.connect(url)


def test_the_shipped_bundle_holds_the_rds_root_authorities():
    from cryptography import x509

    certificates = x509.load_pem_x509_certificates(db.RDS_CA_BUNDLE.read_bytes())
    names = {c.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value for c in certificates}
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        assert {f"Amazon RDS {region} Root CA {kind} G1" for kind in ("RSA2048", "RSA4096", "ECC384")} <= names
    assert all(c.issuer == c.subject for c in certificates)  # roots only
    assert all(c.not_valid_after_utc > datetime.now(UTC) for c in certificates)


def test_a_missing_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="rebuild the layer"):
        db.conninfo_from_secret(secret(5432), ca_bundle=tmp_path / "nope.pem")
