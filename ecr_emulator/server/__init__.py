"""Serving over HTTP: the emulator's own HTTP/1.1 server (``http_server``, ``request_bodies``), its TLS
(``tls``) and the AWS host names a request can address (``hosts``)."""
