"""How Regie's processes set Python's cyclic garbage collector, in one place.

Reading events makes and drops many small objects (pydantic models, dicts, lists).
Reference counting frees them as soon as they are dropped, and they form no cycles, but
every allocation counts toward the cyclic collector's next pass, which then walks every
young object, and every tenth pass the older ones too, and every hundredth everything the
process holds. At the default threshold (700 allocations) that pass ran every few dozen
events and took between a sixth and a quarter of a rebuild's time (bench/eventstore.py).

So the long-running processes and the rebuild run it less often, and first move what
start-up made (modules, schemas, the workflow sandbox's imports) out of its sight: that
lives as long as the process and would otherwise be walked again by every full pass.
Cycles still are collected, a little later; the memory they hold meanwhile is small.
"""

from __future__ import annotations

import gc

# Allocations (minus deallocations) between passes over the youngest generation; then
# passes over the youngest between passes over the middle one, and over the middle one
# between full passes. The defaults are 700, 10 and 10.
THRESHOLDS = (50_000, 20, 100)


def tune_for_throughput() -> None:
    """Call once a process has started up (imports done, settings read)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
