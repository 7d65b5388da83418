#!/usr/bin/env python3
"""Summarizes the wrk runs of scripts/bench-http.sh: medians over rounds, and per-round ratios against the
baselines of the same run. Usage: summary.py RESULTS_DIR"""
import collections
import pathlib
import re
import statistics
import sys

results = pathlib.Path(sys.argv[1])
SCALE = {"us": 1.0, "ms": 1e3, "s": 1e6}


def micros(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * SCALE[unit]


runs = collections.defaultdict(dict)  # (target, connections) -> round -> figures
for path in sorted(results.glob("*.txt")):
    match = re.fullmatch(r"(.+)_c(\d+)_r(\d+)\.txt", path.name)
    if not match:
        continue
    target, connections, round_ = match.group(1), int(match.group(2)), int(match.group(3))
    text = path.read_text()
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    runs[(target, connections)][round_] = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": micros(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)),
        "p99": micros(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)),
        "bad": (sum(map(int, errors.groups())) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0),
    }

# target -> the baseline its ratios are taken against
BASELINES = {
    "iomod-hello": ["iomod-healthz", "wasmtime-hello"],
    "iomod-todo-get": ["native-todo-get"],
}

print("| target | connections | p50 | p99 | requests/s | errors | rounds |")
print("|---|---|---|---|---|---|---|")
for (target, connections), rounds in sorted(runs.items()):
    figures = list(rounds.values())
    med = lambda key: statistics.median(f[key] for f in figures)
    print(f"| {target} | {connections} | {med('p50'):.0f} µs | {med('p99'):.0f} µs | {med('rps'):,.0f} | "
          f"{sum(f['bad'] for f in figures)} | {len(figures)} |")
print()
print("| target | against | connections | p50 ratio (lower is better) | throughput ratio (higher is better) |")
print("|---|---|---|---|---|")
for target, baselines in BASELINES.items():
    for baseline in baselines:
        for (t, connections), rounds in sorted(runs.items()):
            if t != target or (baseline, connections) not in runs:
                continue
            base = runs[(baseline, connections)]
            common = sorted(set(rounds) & set(base))
            if not common:
                continue
            latency = statistics.median(rounds[r]["p50"] / base[r]["p50"] for r in common)
            throughput = statistics.median(rounds[r]["rps"] / base[r]["rps"] for r in common)
            print(f"| {target} | {baseline} | {connections} | {latency:.2f} | {throughput:.2f} |")
