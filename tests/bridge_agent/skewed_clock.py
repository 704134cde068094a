"""Run a module with this process's wall clock off by some seconds, as on a PC whose clock is wrong.

    python -m tests.bridge_agent.skewed_clock 120 bridge_agent.cli run --printer ...

``time.time``/``time.time_ns`` and ``datetime.now``/``utcnow`` are shifted before the module is
imported; monotonic clocks (asyncio's timers) are not, as on a real machine. For tests only:
libfaketime would do it from outside, but is not installed everywhere the suite runs.
"""

from __future__ import annotations

import datetime
import runpy
import sys
import time


def main() -> None:
    offset_s = float(sys.argv[1])
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    real_time, real_time_ns = time.time, time.time_ns
    time.time = lambda: real_time() + offset_s
    time.time_ns = lambda: real_time_ns() + int(offset_s * 1e9)
    shift = datetime.timedelta(seconds=offset_s)

    class SkewedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> SkewedDatetime:
            return super().now(tz) + shift

        @classmethod
        def utcnow(cls) -> SkewedDatetime:
            return super().now(datetime.UTC).replace(tzinfo=None) + shift

    datetime.datetime = SkewedDatetime  # type: ignore[misc]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
