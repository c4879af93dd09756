"""Which local user is on the other end of a loopback TCP connection (Linux).

On a shared PC every account can reach a port on 127.0.0.1. The kernel lists every TCP socket with
its owner's uid in ``/proc/net/tcp`` and ``/proc/net/tcp6`` (readable by all users): the client's
socket is the row whose local address is the peer's address and whose remote address is ours.
The web app lets the account that started it in without a token and asks everyone else for it.

Anything unexpected (not Linux, no row, an unreadable table) gives None, which the caller treats
as "not the owner": the token is then required, never skipped.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

PROC_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
UID_COLUMN = 7  # sl local rem st tx:rx tr:when retrnsmt uid ...


def _hex_address(host: str, port: int, *, v6_table: bool) -> str:
    """`host`:`port` as the kernel prints it: the address in host byte order per 32-bit word."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if v6_table and ip.version == 4:
        ip = ipaddress.IPv6Address(f"::ffff:{ip}")
    if not v6_table and ip.version == 6:
        raise ValueError("an IPv6 address is not in the IPv4 table")
    packed = ip.packed
    words = [packed[i:i + 4] for i in range(0, len(packed), 4)]
    addr = "".join(socket.ntohl(int.from_bytes(w, "big")).to_bytes(4, "big").hex() for w in words)
    return f"{addr.upper()}:{port:04X}"


def uid_in_table(text: str, peer: tuple[str, int], ours: tuple[str, int], *, v6_table: bool) -> int | None:
    """The uid of the socket at `peer` connected to `ours`, found in one ``/proc/net/tcp*`` text."""
    try:
        local = _hex_address(peer[0], peer[1], v6_table=v6_table)
        remote = _hex_address(ours[0], ours[1], v6_table=v6_table)
    except ValueError:
        return None
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) > UID_COLUMN and cols[1].upper() == local and cols[2].upper() == remote:
            try:
                return int(cols[UID_COLUMN])
            except ValueError:
                return None
    return None


def peer_uid(peer: tuple, ours: tuple) -> int | None:
    """The uid owning the client socket `peer` (host, port, ...) connected to `ours`, or None."""
    v6 = ":" in str(ours[0])  # an IPv6 listening socket lists its peers (v4-mapped too) in tcp6 only
    for table in PROC_TABLES[1:] if v6 else PROC_TABLES[:1]:
        try:
            text = table.read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        uid = uid_in_table(text, (peer[0], int(peer[1])), (ours[0], int(ours[1])), v6_table=table.name == "tcp6")
        if uid is not None:
            return uid
    return None
