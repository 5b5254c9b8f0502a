"""HTTPS on the HTTP port: a local certificate authority, and a leaf certificate for each host name a client asks for.

The server tells a TLS handshake from plain HTTP by a connection's first byte (``serving``), so one address serves
both and a ``repositoryUri`` with a port works for clients of either. Its certificates are either the user's own
(``--tls-cert``/``--tls-key``) or made here: a certificate authority created once and kept in the CA directory
(``STATE_DIR/ca`` with a state directory, else the user's cache directory), whose certificate users trust once, and
leaf certificates made on demand for the name a client sends by SNI when that name is one this server answers as
AWS would (``hosts.is_served``); other clients get a leaf for ``localhost``, the loopback addresses and the bound
host. Leaves live in memory and in a private temporary directory (``ssl`` loads certificates from files only).

The CA directory holds ``ca.crt`` and ``private/ca.key`` and nothing else, so it can be handed as it is to tools
that read every ``*.crt`` of a directory as a CA and every ``*.key`` as a client key (skopeo and podman's
``--cert-dir``). X.509 work uses the ``cryptography`` package, imported only when TLS is used.
"""

import atexit
import datetime
import ipaddress
import os
import pathlib
import shutil
import ssl
import tempfile
import threading

from ..config import Config
from . import hosts

CA_CERT = "ca.crt"
CA_KEY = pathlib.Path("private") / "ca.key"
CA_YEARS = 10
LEAF_DAYS = 397  # the longest leaf lifetime that browsers and Apple platforms accept


class TlsError(Exception):
    """Certificates that cannot be read or made; the text says which file and why."""


def ca_dir(config: Config) -> pathlib.Path:
    """Where the local certificate authority lives."""
    if config.ca_dir:
        return pathlib.Path(config.ca_dir)
    if config.state_dir:
        return pathlib.Path(config.state_dir) / "ca"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "ecr-emulator" / "ca"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class CertificateAuthority:
    """A CA certificate and key in ``directory``: read when they exist, else made and written (the key readable by
    its owner only). Two servers starting at once agree on one: each writes under a temporary name and links it
    into place, and the one that loses the race reads the winner's."""

    def __init__(self, directory: pathlib.Path):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

        self.directory = directory
        self.cert_path = directory / CA_CERT
        key_path = directory / CA_KEY
        try:
            if not self.cert_path.exists():
                self._create(directory, key_path)
            self.certificate = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, dsa.DSAPrivateKey,
                                    ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
                raise ValueError(f"its {type(key).__name__} cannot sign certificates")
            self.key = key
        except OSError as exc:
            raise TlsError(f"cannot use the certificate authority in {directory}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise TlsError(f"the certificate authority in {directory} is not readable PEM ({exc}); remove "
                           f"{self.cert_path} and {key_path} to make a new one") from None

    @staticmethod
    def _create(directory: pathlib.Path, key_path: pathlib.Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecr-emulator"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "ecr-emulator local CA")])
        now = _now()
        public = key.public_key()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .sign(key, hashes.SHA256()))
        key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        _publish(key_path, key_pem, 0o600)
        _publish(directory / CA_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def issue(self, names: list[str]) -> tuple[bytes, bytes]:
        """A leaf certificate for ``names`` (host names or IP addresses) and its key, both PEM."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        alternatives: list[x509.GeneralName] = []
        for name in names:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternatives.append(x509.DNSName(name))
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
                .issuer_name(self.certificate.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(min(now + datetime.timedelta(days=LEAF_DAYS),
                                     self.certificate.not_valid_after_utc))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        return (cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def _publish(path: pathlib.Path, data: bytes, mode: int) -> None:
    """Write ``path`` whole or not at all; when another process wrote it first, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".new-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


class LeafCertificates:
    """The server's ``SSLContext``: a default leaf, and through SNI one per host name this server answers."""

    def __init__(self, authority: CertificateAuthority, config: Config):
        self.authority = authority
        self.domains = config.domains
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="ecr-emulator-tls-"))
        atexit.register(shutil.rmtree, self.directory, ignore_errors=True)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        defaults = ["localhost", "127.0.0.1", "::1"]
        if config.host not in ("0.0.0.0", "::", "") and config.host not in defaults:
            defaults.append(config.host)
        self.context = self._context_for(defaults)
        self.context.sni_callback = self._choose

    def _context_for(self, names: list[str]) -> ssl.SSLContext:
        cert, key = self.authority.issue(names)
        fd, path = tempfile.mkstemp(dir=self.directory, suffix=".pem")
        with os.fdopen(fd, "wb") as out:
            out.write(key + cert + self.authority.cert_path.read_bytes())
        context = _server_context()
        context.load_cert_chain(path)
        return context

    def _choose(self, connection: ssl.SSLSocket | ssl.SSLObject, server_name: str | None, _context) -> None:
        if not server_name:
            return
        name = server_name.lower().rstrip(".")
        if not hosts.is_served(name, self.domains):
            return
        with self._lock:
            context = self._contexts.get(name)
            if context is None:
                context = self._contexts[name] = self._context_for([name])
        connection.context = context


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def server_context(config: Config) -> ssl.SSLContext:
    """The ``SSLContext`` the server wraps TLS connections with: the user's certificate, or the local CA's leaves."""
    if config.tls_cert:
        context = _server_context()
        try:
            context.load_cert_chain(config.tls_cert, config.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot use --tls-cert {config.tls_cert} with --tls-key {config.tls_key}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
        return context
    return LeafCertificates(CertificateAuthority(ca_dir(config)), config).context


def trust_instructions(cert_path: pathlib.Path, config: Config) -> str:
    """What ``ecr-emulator ca`` prints: where the CA certificate is and how each kind of client trusts it."""
    registry = config.registry_host(config.account_id, config.default_region) or f"{config.host}:{config.port}"
    return f"""\
CA certificate: {cert_path}
CA directory:   {cert_path.parent}  (ca.crt only; the key is in {cert_path.parent / CA_KEY.parent})

Trust it:
  boto3, aws CLI:       export AWS_CA_BUNDLE={cert_path}
  Go tools, curl, git:  export SSL_CERT_FILE={cert_path}   (replaces the system bundle for that process)
  skopeo, podman:       --cert-dir {cert_path.parent}   or copy to /etc/containers/certs.d/{registry}/ca.crt
  docker:               copy to /etc/docker/certs.d/{registry}/ca.crt (one directory per host:port)
  containerd:           /etc/containerd/certs.d/{registry}/hosts.toml with ca = "{cert_path}"
  the whole system:     cp {cert_path} /usr/local/share/ca-certificates/ecr-emulator.crt && update-ca-certificates
"""
