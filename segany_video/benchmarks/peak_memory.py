"""The peak resident memory of this process alone, for benchmarks that run each side in a child.

``getrusage(RUSAGE_SELF).ru_maxrss`` is not that on Linux: at ``exec`` the kernel keeps the larger
of the old and the new address space's peaks, and Python's ``subprocess`` starts children with
``vfork``, whose old address space is the parent's. A child therefore reports its parent's peak
whenever that was higher, e.g. after the parent generated a long clip for it. ``VmHWM`` in
``/proc/self/status``, the high-water mark of the process's own address space, starts afresh at
``exec``.
"""

from __future__ import annotations

import resource
import sys

_STATUS = "/proc/self/status"


def peak_rss_mib() -> float:
    """Peak resident set size of this process's own address space, in MiB.

    Reads ``VmHWM`` on Linux; elsewhere falls back to ``ru_maxrss`` (kilobytes, bytes on macOS),
    which may include the parent's peak (see the module docstring).
    """
    try:
        with open(_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # "VmHWM:   123456 kB"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
