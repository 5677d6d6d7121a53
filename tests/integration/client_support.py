"""Extra real Triton servers, TLS material and a tiny DNS server for the client library's tests."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import tritonclient.grpc as grpcclient

from clinserve.options import admin_headers
from clinserve_runtime.triton import ServerOptions, TritonServer, free_ports
from tests.conftest import LOG_DIR, TEST_REPOSITORY

READY_TIMEOUT_S = 120


def start_server(
    name: str,
    admin_key: str,
    *,
    host: str = "127.0.0.1",
    grpc_port: int | None = None,
    ssl_dir: Path | None = None,
    mutual_tls: bool = False,
) -> TritonServer:
    """Start one more server on the session's test repository and wait until it is ready."""
    http_port, metrics_port, spare = free_ports(3)
    options = ServerOptions(
        model_repository=TEST_REPOSITORY.resolve(),
        host=host,
        http_port=http_port,
        grpc_port=grpc_port or spare,
        metrics_port=metrics_port,
        admin_key=admin_key,
        exit_timeout_secs=5,
        ssl_dir=ssl_dir,
        mutual_tls=mutual_tls,
    )
    log_path = LOG_DIR / f"client-{name}.log"
    if log_path.exists():
        log_path.unlink()
    server = TritonServer(options, log_path=log_path)
    server.start()
    try:
        server.wait_until_ready(timeout_s=READY_TIMEOUT_S)
    except BaseException:
        server.stop()
        raise
    return server


def kill_server(server: TritonServer) -> None:
    """SIGKILL the server and its Python stub processes (no graceful shutdown)."""
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    server.stop()


def inference_count(grpc_url: str, admin_key: str, model: str) -> int:
    """Successful inferences of ``model`` on one server (statistics need the admin key)."""
    with grpcclient.InferenceServerClient(grpc_url) as client:
        stats = client.get_inference_statistics(model, headers=admin_headers(admin_key), as_json=True)
    return int(stats["model_stats"][0].get("inference_count", 0))


class FakeDNS:
    """A UDP DNS server on loopback that answers every A query with the given addresses.

    It stands in for the cluster DNS of a Kubernetes headless Service, so the client's
    ``dns://<this server>/<name>:<port>`` target resolves to several replicas.
    """

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = [socket.inet_aton(a) for a in addresses]
        self.queries: list[tuple[str, int]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                query, peer = self._socket.recvfrom(512)
            except OSError:
                return
            query_id = struct.unpack(">H", query[:2])[0]
            position, labels = 12, []
            while query[position]:
                length = query[position]
                labels.append(query[position + 1 : position + 1 + length].decode("ascii"))
                position += 1 + length
            qtype = struct.unpack(">H", query[position + 1 : position + 3])[0]
            question = query[12 : position + 5]
            self.queries.append((".".join(labels), qtype))
            a_record = 1
            answers = (
                [b"\xc0\x0c" + struct.pack(">HHIH", a_record, 1, 5, 4) + a for a in self.addresses]
                if qtype == a_record
                else []
            )
            header = struct.pack(">HHHHHH", query_id, 0x8180, 1, len(answers), 0, 0)
            self._socket.sendto(header + question + b"".join(answers), peer)

    def close(self) -> None:
        self._socket.close()


@dataclass(frozen=True)
class TLSFiles:
    """A CA, a server certificate for 127.0.0.1/localhost, and a client certificate."""

    directory: Path  # holds ca.crt, server.crt, server.key (the names ServerOptions.ssl_dir expects)
    ca: Path
    client_cert: Path
    client_key: Path


def make_tls_files(directory: Path) -> TLSFiles:
    """Generate fresh keys and certificates (valid for one day) with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def builder(subject: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def write(path: Path, key=None, cert=None) -> Path:
        if key is not None:
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        else:
            path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        builder("clinserve test CA", name("clinserve test CA"), ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        builder("localhost", ca_cert.subject, server_key.public_key())
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        builder("clinserve test client", ca_cert.subject, client_key.public_key())
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write(directory / "server.key", key=server_key)
    write(directory / "server.crt", cert=server_cert)
    return TLSFiles(
        directory=directory,
        ca=write(directory / "ca.crt", cert=ca_cert),
        client_cert=write(directory / "client.crt", cert=client_cert),
        client_key=write(directory / "client.key", key=client_key),
    )
