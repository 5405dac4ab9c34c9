#!/usr/bin/env python3
"""Prints tests/bench/run.sh's one table: each figure, its baseline measured
in the same run, the ratio and the issue's target.

Reads the Google Benchmark JSON files (medians) and the "figure" lines of the
other benchmarks from the directory given as the only argument:
  ingest.json, query.json,  Google Benchmark --benchmark_out files
  point.json, stream.json
  figures.tsv               lines "figure<TAB>name<TAB>value<TAB>unit"
Missing inputs leave their rows out (a partial run still prints the rest).
"""
import json
import os
import sys


def medians(path):
    """{benchmark name without _median: {field: value}} of a GB JSON file;
    a benchmark with arguments under its full name ("BM_X/1000")."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data.get("benchmarks", []):
        if b.get("aggregate_name") == "median":
            out[b["run_name"].split("/")[0]] = b
            out[b["run_name"]] = b
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
        return f"{v / 1e6:.2f} M {unit}" if v < 1e9 else f"{v / 1e9:.2f} G {unit}"
    if unit == "ms":
        return f"{v:.3f} ms"
    if unit == "ns CPU":
        return f"{v / 1e3:.2f} µs CPU"
    if unit == "us CPU":
        return f"{v:.1f} µs CPU"
    if unit == "MB/s":
        return f"{v:.0f} MB/s"
    if unit == "calls/s":
        return f"{v:,.0f} calls/s"
    return f"{v:g} {unit}"


def value(entry, unit):
    """A figure's number: a Google Benchmark median's counter or CPU time per
    call (ns; the benchmarks' default unit), or a float."""
    if not isinstance(entry, dict):
        return entry
    return entry["cpu_time"] if unit == "ns CPU" else entry["rows_per_s"]


def main():
    d = sys.argv[1]
    ing = medians(os.path.join(d, "ingest.json"))
    qry = medians(os.path.join(d, "query.json"))
    pnt = medians(os.path.join(d, "point.json"))
    stm = medians(os.path.join(d, "stream.json"))
    fig = figures(os.path.join(d, "figures.tsv"))

    # label, (source, figure key), (source, baseline key), unit, baseline
    # label, target text, met(value, ratio) or None for information only.
    comparisons = (
        ("CSV import end to end (10 columns)", (ing, "BM_Parse"),
         (ing, "BM_LibcsvEmptyCallbacks"), "rows/s", "raw libcsv parse, same file",
         ">= 1.5 M rows/s", lambda v, r: v >= 1.5e6),
        ("grouped SUM over one column (one core)", (qry, "BM_ExecuteSumGroupByString"),
         (qry, "BM_RawSumUngrouped"), "rows/s", "in-memory sum of the values",
         ">= 100 M rows/s", lambda v, r: v >= 100e6),
        ("  WHERE v = 0 OR v = 5 OR ... (200 equalities)", (qry, "BM_ExecuteOrOfEqualities"),
         (qry, "BM_ExecuteInList"), "rows/s", "same filter as v IN (0, 5, ...)", "-", None),
        ("point query at the node, no gRPC (entry, snapshot, Execute)", (pnt, "BM_PointQuery"),
         (pnt, "BM_PointQueryUncached"), "ns CPU", "same, entry and manifest read from RocksDB",
         "-", None),
        ("  GetCatalogEntry", (pnt, "BM_GetCatalogEntry"), (pnt, "BM_GetCatalogEntryUncached"),
         "ns CPU", "read and parsed from RocksDB", "-", None),
        ("  OpenSnapshot", (pnt, "BM_OpenSnapshot"), (pnt, "BM_OpenSnapshotUncached"), "ns CPU",
         "read and parsed from RocksDB", "-", None),
        ("  the row by primary key in 100,000 rows", (pnt, "BM_PointQueryKeyLookup/100000"),
         (pnt, "BM_PointQueryScan/100000"), "ns CPU", "same query, every row scanned", "-",
         None),
        ("  the row by primary key in 1 M rows", (pnt, "BM_PointQueryKeyLookup/1000000"),
         (pnt, "BM_PointQueryScan/1000000"), "ns CPU", "same query, every row scanned", "-",
         None),
        ("  catalog list for a member's Aggregate", (pnt, "BM_ListCatalogShared"),
         (pnt, "BM_ListCatalog"), "ns CPU", "every entry parsed from RocksDB", "-", None),
        ("authorized point query over mTLS, 64 in flight", (fig, "point_calls_per_s"),
         (fig, "echo_calls_per_s"), "calls/s", "bare gRPC echo, same mTLS",
         ">= 0.80 of baseline", lambda v, r: r >= 0.8),
        ("  node CPU per point query vs the echo server's", (fig, "point_node_cpu_us_per_call"),
         (fig, "echo_server_cpu_us_per_call"), "us CPU", "bare echo server, per call", "-", None),
        ("  client CPU per point query vs per echo call", (fig, "point_client_cpu_us_per_call"),
         (fig, "echo_client_cpu_us_per_call"), "us CPU", "same client, echo call", "-", None),
        ("authorized point query, 1 in flight, p50", (fig, "point_p50_ms"),
         (fig, "echo_p50_ms"), "ms", "bare echo p50", "<= 1.5 x baseline",
         lambda v, r: r <= 1.5),
        ("rows streamed to a peer over mTLS", (fig, "row_stream_MB_per_s"),
         (fig, "raw_stream_MB_per_s"), "MB/s", "raw 64 KiB-message stream",
         ">= 0.50 of baseline", lambda v, r: r >= 0.5),
        ("  the same rows as Row messages (older peers)", (fig, "row_stream_legacy_MB_per_s"),
         (fig, "raw_stream_MB_per_s"), "MB/s", "raw 64 KiB-message stream", "-", None),
        ("  CPU per stream: node + peer vs echo + client", (fig, "row_stream_cpu_ms"),
         (fig, "raw_stream_cpu_ms"), "ms", "raw stream: echo server + client", "-", None),
        ("  rows/s: column batches vs Row messages", (fig, "row_stream_rows_per_s"),
         (fig, "row_stream_legacy_rows_per_s"), "rows/s", "Row messages", "-", None),
        ("column batches built and serialized (node CPU)", (stm, "BM_NodeBuildAndSerialize"),
         (stm, "BM_RawCopyColumns"), "rows/s", "memcpy of the column bytes", "-", None),
        ("  serialized once (raw Query method)", (stm, "BM_NodeBuildAndSerialize"),
         (stm, "BM_NodeBuildAndSerializeTypedGrpc"), "rows/s",
         "gRPC's typed writer, which sizes every message twice", "-", None),
        ("  the same, batch objects handed back for reuse",
         (stm, "BM_NodeBuildAndSerializeReused"), (stm, "BM_RawCopyColumns"), "rows/s",
         "memcpy of the column bytes", "-", None),
        ("column batches parsed and checked (peer CPU)", (stm, "BM_PeerParseAndValidate"),
         (stm, "BM_RawCopyWire"), "rows/s", "memcpy of the wire bytes", "-", None),
        ("county aggregate over 18 members, p50", (fig, "fanout_all_p50_ms"),
         (fig, "fanout_one_p50_ms"), "ms", "one member's round trip", "<= 3 x baseline",
         lambda v, r: r <= 3),
        ("point-query load, durable audit log on", (fig, "audit_on_calls_per_s"),
         (fig, "audit_off_calls_per_s"), "calls/s", "same load, audit log off",
         ">= 0.90 of baseline", lambda v, r: r >= 0.9),
    )
    rows = []
    for label, (src, key), (bsrc, bkey), unit, base_label, target, met in comparisons:
        if key not in src or bkey not in bsrc:
            continue
        v, b = value(src[key], unit), value(bsrc[bkey], unit)
        verdict = "" if met is None else ("met" if met(v, v / b) else "NOT met")
        rows.append((label, fmt(v, unit), base_label, fmt(b, unit), f"{v / b:.2f}", target,
                     verdict))
    # Memory: against a limit, not a baseline (None: shown, no target).
    for key, label, limit in (("idle_rss_mb", "idle node RSS (median of 19)", 30),
                              ("idle_private_mb", "  of it private to the node", None),
                              ("scan_rss_mb", "10 M-row scan streamed, peak RSS", 200),
                              ("sum_rss_mb", "grouped SUM over 10 M rows, peak RSS", 200),
                              ("demo_rss_mb", "19 demo nodes, RSS added up", 1024),
                              ("demo_pss_mb", "19 demo nodes, PSS added up", 1024)):
        if key in fig:
            rows.append((label, f"{fig[key]:.1f} MB", "-", "-", "-",
                         "-" if limit is None else f"< {limit} MB",
                         "" if limit is None else ("met" if fig[key] < limit else "NOT met")))

    head = ("figure", "value", "baseline (same run)", "baseline value", "ratio", "target", "")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


if __name__ == "__main__":
    main()
