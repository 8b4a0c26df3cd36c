#!/usr/bin/env python3
"""Medians over runs of chime-bench JSON lines (scripts/bench --json FILE), as Markdown rows.

usage: tests/bench/summarize.py FILE.json
"""
import json
import statistics
import sys
from collections import defaultdict


def med(rows, *path):
    vals = []
    for r in rows:
        v = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else float("nan")


def main():
    groups = defaultdict(list)
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if r["scenario"].endswith("_batch"):
            key = (r["scenario"], "%d x %d" % (r["batch"], r["inflight"]))
        else:
            key = (r["scenario"], r.get("inflight") or r.get("rate") or r.get("timers") or r.get("pending") or r.get("target"))
        groups[key].append(r)
    print("| scenario | level | runs | median figures | load avg (median) |")
    print("| --- | --- | --- | --- | --- |")
    for (sc, level), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        if sc in ("create", "create-floor"):
            f = ("creates/s %.0f, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; health floor %.0f/s; ratio %.2f" % (
                med(rows, "creates_per_s"), med(rows, "create_latency_ms", "p50"),
                med(rows, "create_latency_ms", "p99"), med(rows, "create_latency_ms", "p999"),
                med(rows, "health_per_s"), med(rows, "ratio_to_health")))
            f += ("; server CPU %.1f us per create, %.1f per health check; client %.1f and %.1f us; idle %.0f %% and %.0f %%" % (
                med(rows, "create_cpu", "server_cpu_us"), med(rows, "health_cpu", "server_cpu_us"),
                med(rows, "create_cpu", "client_cpu_us"), med(rows, "health_cpu", "client_cpu_us"),
                100 * med(rows, "create_cpu", "idle_share"), 100 * med(rows, "health_cpu", "idle_share")))
        elif sc.endswith("_batch"):
            f = "creates/s %.0f (batch x calls in flight), call p50 %.2f ms, p99 %.2f ms" % (
                med(rows, "creates_per_s"), med(rows, "call_latency_ms", "p50"),
                med(rows, "call_latency_ms", "p99"))
        elif sc in ("fire", "mixed"):
            f = ("delivered/s %.0f; lateness p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.1f ms; missing %d dups %d" % (
                med(rows, "delivered_per_s"), med(rows, "lateness_ms", "p50"), med(rows, "lateness_ms", "p90"),
                med(rows, "lateness_ms", "p99"), med(rows, "lateness_ms", "p999"), med(rows, "lateness_ms", "max"),
                med(rows, "missing"), med(rows, "duplicates")))
            if sc == "mixed":
                f += "; background creates/s %.0f (p99 %.2f ms)" % (
                    med(rows, "mixed_creates_per_s"), med(rows, "mixed_create_latency_ms", "p99"))
        elif sc == "herd":
            f = ("last delivered %.2f s after due (%.2f s after due-and-all-created); creates/s %.0f; peak RSS %.0f MB; missing %d" % (
                med(rows, "last_delivered_after_due_s"), med(rows, "last_delivered_after_due_and_created_s"),
                med(rows, "creates_per_s"), med(rows, "peak_rss_bytes") / 2**20, med(rows, "missing")))
        elif sc == "capacity":
            f = ("pending %d; RSS %.0f MB (%.0f B/timer); disk %.0f MB (%.0f B/timer); step creates/s %s" % (
                med(rows, "pending"), med(rows, "rss_bytes") / 2**20, med(rows, "rss_bytes_per_pending"),
                med(rows, "disk_bytes") / 2**20, med(rows, "disk_bytes_per_pending"),
                ", ".join("%.0f" % s["creates_per_s"] for s in rows[0].get("steps", []))))
        elif sc == "restart":
            f = ("start→serving %.3f s; start→first fire %.3f s; start→first on-time fire %.3f s" % (
                med(rows, "start_to_serving_s"), med(rows, "start_to_first_fire_s"),
                med(rows, "start_to_first_on_time_fire_s")))
        else:
            f = ""
        print("| %s | %s | %d | %s | %.2f |" % (sc, level, len(rows), f, med(rows, "loadavg_1m")))


if __name__ == "__main__":
    main()
