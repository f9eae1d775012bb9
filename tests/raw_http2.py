"""One gRPC call as raw HTTP/2, for headers no gRPC client would send."""

from __future__ import annotations

import socket

import h2.config
import h2.connection
import h2.events


def raw_unary_call(target: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> dict[str, bytes]:
    """Send one request with these extra headers; return the response headers and trailers."""
    host, port = target.rsplit(":", 1)
    config = h2.config.H2Configuration(
        client_side=True,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    connection = h2.connection.H2Connection(config)
    connection.initiate_connection()
    request = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", path.encode()),
        (b":authority", target.encode()),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        *headers,
    ]
    answer: dict[str, bytes] = {}
    with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as sock:
        connection.send_headers(1, request)
        connection.send_data(1, b"\x00" + len(body).to_bytes(4, "big") + body, end_stream=True)
        sock.sendall(connection.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                break
            events = connection.receive_data(data)
            for event in events:
                if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                    answer.update({bytes(k).decode(): bytes(v) for k, v in event.headers})
            sock.sendall(connection.data_to_send())
            if any(isinstance(e, h2.events.StreamEnded | h2.events.StreamReset) for e in events):
                break
    return answer
