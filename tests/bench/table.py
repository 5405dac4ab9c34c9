#!/usr/bin/env python3
"""Prints tests/bench/run.sh's one table: each figure, its baseline measured
in the same run, the ratio and the issue's target.

Reads the Google Benchmark JSON files (medians) and the "figure" lines of the
other benchmarks from the directory given as the only argument:
  ingest.json, query.json   Google Benchmark --benchmark_out files
  figures.tsv               lines "figure<TAB>name<TAB>value<TAB>unit"
Missing inputs leave their rows out (a partial run still prints the rest).
"""
import json
import os
import sys


def medians(path):
    """{benchmark name without _median: {field: value}} of a GB JSON file."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data.get("benchmarks", []):
        if b.get("aggregate_name") == "median":
            out[b["run_name"].split("/")[0]] = b
    return out


def figures(path):
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4 and parts[0] == "figure":
                out[parts[1]] = float(parts[2])
    return out


def fmt(v, unit):
    if unit == "rows/s" or unit == "values/s":
        return f"{v / 1e6:.1f} M {unit}" if v < 1e9 else f"{v / 1e9:.2f} G {unit}"
    if unit == "ms":
        return f"{v:.3f} ms"
    if unit == "MB/s":
        return f"{v:.0f} MB/s"
    if unit == "calls/s":
        return f"{v:,.0f} calls/s"
    return f"{v:g} {unit}"


def main():
    d = sys.argv[1]
    ing = medians(os.path.join(d, "ingest.json"))
    qry = medians(os.path.join(d, "query.json"))
    fig = figures(os.path.join(d, "figures.tsv"))
    rows = []  # figure, value, baseline, baseline value, ratio, target, met

    def add(name, v, unit, base_name, b, ratio, target, met):
        rows.append((name, fmt(v, unit), base_name, fmt(b, unit), f"{ratio:.2f}", target,
                     "met" if met else "NOT met"))

    if "BM_Parse" in ing and "BM_LibcsvEmptyCallbacks" in ing:
        v = ing["BM_Parse"]["rows_per_s"]
        b = ing["BM_LibcsvEmptyCallbacks"]["rows_per_s"]
        add("CSV import end to end (10 columns)", v, "rows/s", "raw libcsv parse, same file", b,
            v / b, ">= 1.5 M rows/s", v >= 1.5e6)
    if "BM_ExecuteSumGroupByString" in qry and "BM_RawSumUngrouped" in qry:
        v = qry["BM_ExecuteSumGroupByString"]["rows_per_s"]
        b = qry["BM_RawSumUngrouped"]["rows_per_s"]
        add("grouped SUM over one column (one core)", v, "rows/s", "in-memory sum of the values",
            b, v / b, ">= 100 M rows/s", v >= 100e6)
    if "point_calls_per_s" in fig and "echo_calls_per_s" in fig:
        v, b = fig["point_calls_per_s"], fig["echo_calls_per_s"]
        add("authorized point query over mTLS, 64 in flight", v, "calls/s",
            "bare gRPC echo, same mTLS", b, v / b, ">= 0.80 of baseline", v / b >= 0.8)
    if "point_p50_ms" in fig and "echo_p50_ms" in fig:
        v, b = fig["point_p50_ms"], fig["echo_p50_ms"]
        add("authorized point query, 1 in flight, p50", v, "ms", "bare echo p50", b, v / b,
            "<= 1.5 x baseline", v / b <= 1.5)
    if "row_stream_MB_per_s" in fig and "raw_stream_MB_per_s" in fig:
        v, b = fig["row_stream_MB_per_s"], fig["raw_stream_MB_per_s"]
        add("rows streamed to a peer over mTLS", v, "MB/s", "raw 64 KiB-message stream", b, v / b,
            ">= 0.50 of baseline", v / b >= 0.5)
    if "row_stream_legacy_MB_per_s" in fig and "raw_stream_MB_per_s" in fig:
        v, b = fig["row_stream_legacy_MB_per_s"], fig["raw_stream_MB_per_s"]
        rows.append(("  the same rows as Row messages (older peers)", fmt(v, "MB/s"),
                     "raw 64 KiB-message stream", fmt(b, "MB/s"), f"{v / b:.2f}", "-", ""))
    if "row_stream_rows_per_s" in fig and "row_stream_legacy_rows_per_s" in fig:
        v, b = fig["row_stream_rows_per_s"], fig["row_stream_legacy_rows_per_s"]
        rows.append(("  rows/s: column batches vs Row messages", fmt(v, "rows/s"),
                     "Row messages", fmt(b, "rows/s"), f"{v / b:.2f}", "-", ""))
    if "fanout_all_p50_ms" in fig and "fanout_one_p50_ms" in fig:
        v, b = fig["fanout_all_p50_ms"], fig["fanout_one_p50_ms"]
        add("county aggregate over 18 members, p50", v, "ms", "one member's round trip", b, v / b,
            "<= 3 x baseline", v / b <= 3)
    if "audit_on_calls_per_s" in fig and "audit_off_calls_per_s" in fig:
        v, b = fig["audit_on_calls_per_s"], fig["audit_off_calls_per_s"]
        add("point-query load, durable audit log on", v, "calls/s", "same load, audit log off",
            b, v / b, ">= 0.90 of baseline", v / b >= 0.9)
    for key, label, limit in (("idle_rss_mb", "idle node RSS (median of 19)", 30),
                              ("idle_private_mb", "  of it private to the node", 30),
                              ("scan_rss_mb", "10 M-row scan streamed, peak RSS", 200),
                              ("sum_rss_mb", "grouped SUM over 10 M rows, peak RSS", 200),
                              ("demo_rss_mb", "19 demo nodes, RSS added up", 1024),
                              ("demo_pss_mb", "19 demo nodes, PSS added up", 1024)):
        if key in fig:
            rows.append((label, f"{fig[key]:.1f} MB", "-", "-", "-", f"< {limit} MB",
                         "met" if fig[key] < limit else "NOT met"))

    head = ("figure", "value", "baseline (same run)", "baseline value", "ratio", "target", "")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
