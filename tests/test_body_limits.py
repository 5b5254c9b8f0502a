"""Request body limits: an over-limit JSON API body is answered 413 in the API's own error format, whether its size
is declared or chunked, and is never kept; the connection then serves the next request."""

import json
import socket

from ecr_emulator.testing import running_server


def exchange(port: int, head: bytes, chunks) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        reader = sock.makefile("rb")
        status = int(reader.readline().split()[1])
        length = 0
        while (line := reader.readline().strip()):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, json.loads(reader.read(length))


def json_request(length_header: str) -> bytes:
    return ("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.CreateRepository\r\n"
            f"{length_header}\r\n\r\n").encode()


def test_json_api_limit_is_configurable_and_holds_for_sized_and_chunked_bodies():
    with running_server("--max-body-bytes", "1024") as server:
        port = int(server.endpoint.rsplit(":", 1)[1])
        body = json.dumps({"repositoryName": "x" * 3000}).encode()
        status, reply = exchange(port, json_request(f"Content-Length: {len(body)}"), [body])
        assert status == 413 and reply["__type"] == "RequestEntityTooLargeException"
        assert str(len(body)) in reply["message"]
        pieces = [body[i:i + 512] for i in range(0, len(body), 512)]
        chunked = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces]
        status, reply = exchange(port, json_request("Transfer-Encoding: chunked"), chunked + [b"0\r\n\r\n"])
        assert status == 413 and reply["__type"] == "RequestEntityTooLargeException"
        small = json.dumps({"repositoryName": "fits"}).encode()
        status, reply = exchange(port, json_request(f"Content-Length: {len(small)}"), [small])
        assert status == 200 and reply["repository"]["repositoryName"] == "fits"
        assert server.client().describe_repositories()["repositories"][0]["repositoryName"] == "fits"
