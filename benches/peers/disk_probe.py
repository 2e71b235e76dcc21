#!/usr/bin/env python3
"""How fast can this machine's disk take a durable 256 MiB write?

The ceiling for `blob_256MiB/disk_put_*` in `crates/mlops-registry/benches/registry.rs`: writes
256 MiB of incompressible bytes to a new file next to the system temp dir and syncs it, ten times
each way, and prints the medians:

- `direct`: `O_DIRECT` writes of 4 MiB from a page-aligned buffer, then `fdatasync` (what the
  registry does for large local blobs with fsync on);
- `buffered`: ordinary 4 MiB writes through the page cache, then `fdatasync` (what it did
  before, and what `dd conv=fsync` measures).

Usage: python3 benches/peers/disk_probe.py [directory]   (default: /var/tmp)
"""
import mmap
import os
import statistics
import sys
import time

SIZE = 256 << 20
PIECE = 4 << 20


def run(directory: str, direct: bool) -> float:
    path = os.path.join(directory, f"mlops-disk-probe-{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if direct else 0)
    buf = mmap.mmap(-1, PIECE)  # page-aligned, as O_DIRECT needs
    buf.write(os.urandom(PIECE))
    fd = os.open(path, flags, 0o644)
    try:
        start = time.perf_counter()
        for k in range(SIZE // PIECE):
            os.pwrite(fd, buf, k * PIECE)
        os.fdatasync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)
        os.unlink(path)
        dfd = os.open(directory, os.O_RDONLY)
        os.fsync(dfd)  # the unlink's I/O outside the next timing
        os.close(dfd)


def main() -> None:
    directory = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp"
    times = {"direct": [], "buffered": []}
    for _ in range(10):
        for mode in times:
            times[mode].append(run(directory, mode == "direct"))
    for mode, t in times.items():
        med = statistics.median(t)
        print(
            f"{mode:8s} median {med * 1e3:6.1f} ms = {SIZE / med / 1e9:.2f} GB/s"
            f"  (min {min(t) * 1e3:.1f}, max {max(t) * 1e3:.1f} ms)"
        )


if __name__ == "__main__":
    main()
