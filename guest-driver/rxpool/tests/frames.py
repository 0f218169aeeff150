#!/usr/bin/env python3
"""TEST ONLY: the host side of tests/suites/64-e2e-rxpool.  Sends Ethernet
frames into QEMU's dgram netdev sockets (one datagram = one frame).

  frames.py burst DIR COUNT   COUNT UDP/IPv4 datagrams of 1400 bytes to port
                              5000 of each guest NIC i (DIR/q<i>.sock)
  frames.py bad DIR           a 10-byte frame to every NIC, and a 9000-byte
                              frame without GSO (over the 1500 MTU) to NIC 1
Sends block while QEMU's socket is full (QEMU reads only when the guest
has RX buffers), so nothing is lost on the host side; 300 s at most.
"""
import socket
import struct
import sys

NICS = (1, 2, 3)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac(i, host):
    return bytes([0x52, 0x54, 0, 0xAA if host else 0x77, 0, i])


def udp_frame(i, payload_len, seq):
    payload = struct.pack("!I", seq) + b"x" * (payload_len - 4)
    udp = struct.pack("!HHHH", 4000, 5000, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                     bytes([10, 77, i, 1]), bytes([10, 77, i, 2]))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return mac(i, False) + mac(i, True) + b"\x08\x00" + ip + udp


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.settimeout(300)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    if cmd == "burst":
        count = int(sys.argv[3])
        for seq in range(count):
            for i in NICS:
                s.sendto(udp_frame(i, 1400 - 28, seq), "%s/q%d.sock" % (d, i))
        print("# sent %d frames to each of %d NICs" % (count, len(NICS)))
    elif cmd == "bad":
        for i in NICS:
            s.sendto(mac(i, False) + b"\xde\xad\xbe\xef", "%s/q%d.sock" % (d, i))
        s.sendto(udp_frame(1, 9000 - 28, 1), "%s/q1.sock" % d)
        print("# sent a 10-byte frame to each NIC and a 9000-byte one to NIC 1")
    else:
        sys.exit("usage: frames.py burst DIR COUNT | bad DIR")


if __name__ == "__main__":
    main()
