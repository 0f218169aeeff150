#!/usr/bin/python3
"""Hold one anonymous page and report or move its NUMA node (move_pages(2)).

Prints "PID ADDR NODE" (ADDR in hex) once the page is touched, then serves
commands read line by line from stdin, answering each with one line:
  query     -> the node the page is on now
  move N    -> move the page to node N with move_pages, then its node
  exit      -> (no answer) exit 0
A negative node is a -errno from move_pages.  Blocking on stdin is what lets
a test act on the page (migratepages, numactl) at a known moment.
"""
import ctypes
import mmap
import os
import sys

SYS_move_pages = 279  # x86_64
MPOL_MF_MOVE = 1 << 1

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def move_pages(addr, node):
    pages = (ctypes.c_void_p * 1)(addr)
    status = (ctypes.c_int * 1)(-1)
    nodes = (ctypes.c_int * 1)(node) if node is not None else None
    flags = MPOL_MF_MOVE if node is not None else 0
    r = libc.syscall(ctypes.c_long(SYS_move_pages), ctypes.c_long(0), ctypes.c_ulong(1),
                     pages, nodes, status, ctypes.c_int(flags))
    if r < 0:
        return -ctypes.get_errno()
    return status[0]


def main():
    m = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m[0:1] = b"x"
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    print(os.getpid(), f"{addr:x}", move_pages(addr, None), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "exit":
            break
        if words[0] == "query":
            print(move_pages(addr, None), flush=True)
        elif words[0] == "move" and len(words) == 2:
            print(move_pages(addr, int(words[1])), flush=True)
        else:
            print(f"bad command: {line.strip()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
