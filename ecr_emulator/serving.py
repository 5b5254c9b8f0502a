"""The WSGI server: waitress, with two registry-specific adjustments.

Registry clients told a registry is insecure (skopeo ``--tls-verify=false``, podman, containerd) first try HTTPS
and fall back to HTTP only when the handshake fails. A plain HTTP server that waits for a request line would hold a
TLS ClientHello until the client's handshake timeout (10 s per connection), so a connection whose first byte is a
TLS handshake record is closed at once. And blob uploads may be far larger than waitress's default 1 GiB body cap.
"""

from waitress.channel import HTTPChannel
from waitress.server import create_server

from .config import Config

# ECR's largest layer is 52,000 MiB.
MAX_BLOB_BYTES = 64 * 1024 ** 3
_TLS_HANDSHAKE = 0x16
# Blob bodies arrive at hundreds of MiB; 8 KiB reads (the default) spend the time in the event loop.
RECV_BYTES = 1024 * 1024


class PlainHTTPChannel(HTTPChannel):
    """A channel that hangs up on a TLS handshake instead of parsing it as HTTP."""

    _first = True

    def received(self, data):
        if self._first and data:
            self._first = False
            if data[0] == _TLS_HANDSHAKE:
                self.will_close = True
                self.handle_close()
                return False
        return super().received(data)


def make_server(app, config: Config):
    server = create_server(app, host=config.host, port=config.port, threads=config.threads,
                           connection_limit=1000, channel_timeout=300, ident="ecr-emulator",
                           max_request_body_size=MAX_BLOB_BYTES, recv_bytes=RECV_BYTES)
    server.channel_class = PlainHTTPChannel
    return server
