#!/usr/bin/python3
"""Extract the uncompressed ELF vmlinux from a bzImage: extract-vmlinux.py IN OUT

Booting the ELF through QEMU's PVH entry skips the in-guest decompression of
an xz kernel, which costs several seconds under TCG.  Exit 1 if no xz or gzip
payload decompresses to an ELF image with a PVH note.
"""
import gzip
import lzma
import os
import re
import sys
import zlib

PVH_NOTE = re.compile(rb"\x04\x00\x00\x00.\x00\x00\x00\x12\x00\x00\x00Xen\x00", re.S)


def candidates(data):
    for magic, kind in ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b\x08", "gz")):
        i = data.find(magic)
        while i >= 0:
            yield kind, i
            i = data.find(magic, i + 1)


def decompress(kind, blob):
    if kind == "xz":
        return lzma.LZMADecompressor().decompress(blob)
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)


def main(src, dst):
    data = open(src, "rb").read()
    for kind, off in candidates(data):
        try:
            out = decompress(kind, data[off:])
        except (lzma.LZMAError, zlib.error, EOFError, gzip.BadGzipFile):
            continue
        # an ELF note "Xen" of type 18 (XEN_ELFNOTE_PHYS32_ENTRY): PVH-bootable
        if out[:4] == b"\x7fELF" and PVH_NOTE.search(out):
            tmp = f"{dst}.tmp.{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(out)
            os.rename(tmp, dst)
            return 0
    print(f"extract-vmlinux: no ELF kernel found in {src}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: extract-vmlinux.py BZIMAGE OUT")
    sys.exit(main(sys.argv[1], sys.argv[2]))
