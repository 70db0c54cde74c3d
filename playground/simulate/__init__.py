"""Timing simulators for parallel speculative schemes, and a real two-thread PEARL.

`simulate_plain`, `simulate_sd`, `simulate_dsi` and `simulate_pearl` run a discrete-event
model of each scheme on `Latencies` and a stream of accept/reject outcomes (i.i.d. or a
recorded run's, see `replay`), and return a `SimResult` with a timeline that
`gantt_figure` draws. `pearl_threads.run_threaded_pearl` overlaps a real drafter and target
on two CPU cores. `python -m playground.simulate` makes the figures.
"""

from playground.simulate.dsi import simulate_dsi
from playground.simulate.gantt import gantt_figure
from playground.simulate.pearl import simulate_pearl
from playground.simulate.replay import replay, workload_from_steps, workload_from_trace
from playground.simulate.sd import simulate_plain, simulate_sd
from playground.simulate.timeline import Segment, SimResult
from playground.simulate.workload import IIDAcceptance, Latencies, ReplayAcceptance

__all__ = [
    "IIDAcceptance",
    "Latencies",
    "ReplayAcceptance",
    "Segment",
    "SimResult",
    "gantt_figure",
    "replay",
    "simulate_dsi",
    "simulate_pearl",
    "simulate_plain",
    "simulate_sd",
    "workload_from_steps",
    "workload_from_trace",
]
