#!/usr/bin/env python3
"""Plots W10 soak samples (the CSV files pgmq-bench writes) as one PNG.

    python3 benches/plot_soak.py OUT.png LABEL=FILE.csv [LABEL=FILE.csv ...]

Three panels over time: the completion rate, the claim statement's p99, and the queue
table's dead rows. Needs matplotlib (`pip install matplotlib`); only the plot needs it, the
benchmark itself does not.
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out, series = argv[1], []
    for arg in argv[2:]:
        label, _, path = arg.partition("=")
        series.append((label, load(path)))
    fig, (rate, p99, dead) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    held = False
    for label, rows in series:
        t = [float(r["t_s"]) for r in rows]
        rate.plot(t, [float(r["rate"]) for r in rows], label=label)
        p99.plot(t, [float(r["claim_p99_ms"]) for r in rows], label=label)
        dead.plot(t, [int(r["dead_tup"]) for r in rows], label=label)
        pinned = [float(r["t_s"]) for r in rows if r["pinned"] == "1"]
        if pinned:
            held = True
            for ax in (rate, p99, dead):
                ax.axvspan(min(pinned) - 5, max(pinned), color="grey", alpha=0.15)
    rate.set_ylabel("completed msgs/s")
    p99.set_ylabel("claim p99 (ms)")
    p99.set_yscale("log")
    dead.set_ylabel("dead rows, queue table")
    dead.set_xlabel("seconds")
    rate.set_ylim(bottom=0)
    dead.set_ylim(bottom=0)
    for ax in (rate, p99, dead):
        ax.grid(alpha=0.3)
    rate.legend(loc="lower left", fontsize="small")
    rate.set_title("W10 soak" + (" (shaded: a transaction held open)" if held else ""))
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main(sys.argv)
