#!/usr/bin/env python3
"""report.py: the benchmark's samples as a table and one JSON line a case.

    report.py SAMPLES.TSV

SAMPLES.TSV has one sample a line, tab-separated: case, tool, metric, value (what
bench/lib.sh's bench_record writes).  For every case, tool and metric the median and
min-max over its samples are printed, then the case's figures (rates, ratios against
the competitor the goal names) and the goal of issue 7 beside them; then one line
`BENCH {json}` a case for machines.  Nothing here decides pass or fail of a build.
"""
import json
import statistics
import sys

MB = 1e6
ORDER = ["cold-push", "noop-push", "changed-script", "resume", "unpack", "memory", "disk",
         "timeline"]


def load(path):
    cases = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4 or parts[3] == "":
                continue
            case, tool, metric, value = parts
            tools = cases.setdefault(case, {})
            tools.setdefault(tool, {}).setdefault(metric, []).append(float(value))
    return cases


def summary(values):
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


def med(cases, case, tool, metric):
    values = cases.get(case, {}).get(tool, {}).get(metric)
    return statistics.median(values) if values else None


def fmt(v, metric):
    if metric == "seconds":
        return "%.3f" % v
    if metric == "rss_kib":
        return "%.1f MiB" % (v / 1024)
    return "%d" % v


def cell(s, metric):
    if s["n"] == 1:
        return fmt(s["median"], metric)
    return "%s [%s-%s]" % (fmt(s["median"], metric), fmt(s["min"], metric), fmt(s["max"], metric))


def ratio(a, b):
    return a / b if a is not None and b else None


def figures(cases, case, payload):
    """The numbers each case exists for, with the goal beside them."""
    f, goals = {}, []
    if case == "cold-push":
        for tool, metrics in cases[case].items():
            if "seconds" in metrics:
                f["mb_s " + tool] = round(payload / MB / statistics.median(metrics["seconds"]), 1)
        gg = med(cases, case, "gcloud-gpu push (transfer)", "seconds")
        cat = med(cases, case, "ssh 'cat > f'", "seconds")
        scp = med(cases, case, "scp (sftp)", "seconds")
        f["rate_vs_ssh_cat"] = ratio(cat, gg)
        f["rate_vs_scp"] = ratio(scp, gg)
        # Issue 18: the whole push, from the command to its exit (apply and the plan
        # included), against the same bytes through ssh 'cat > f'.
        f["whole_rate_vs_ssh_cat"] = ratio(cat, med(cases, case, "gcloud-gpu push (whole, with apply)",
                                                    "seconds"))
        goals.append(("transfer rate >= 1.0x ssh 'cat > f'", f["rate_vs_ssh_cat"], 1.0, ">="))
        goals.append(("transfer rate >= 1.3x scp", f["rate_vs_scp"], 1.3, ">="))
        goals.append(("whole push rate >= 0.85x ssh 'cat > f'", f["whole_rate_vs_ssh_cat"], 0.85,
                      ">="))
    elif case == "noop-push":
        f["time_vs_ssh_true"] = ratio(med(cases, case, "gcloud-gpu push", "seconds"),
                                      med(cases, case, "ssh host true", "seconds"))
        goals.append(("no-op push < 1.5x ssh host true", f["time_vs_ssh_true"], 1.5, "<"))
    elif case == "changed-script":
        changed = med(cases, case, "changed file", "bytes")
        manifest = med(cases, case, "manifest", "bytes")
        payload_sent = med(cases, case, "gcloud-gpu push", "payload_bytes")
        wire = med(cases, case, "gcloud-gpu push", "wire_bytes")
        handshake = med(cases, case, "ssh host true", "wire_bytes")
        if changed is not None and manifest is not None:
            f["yardstick_bytes"] = changed + manifest
            f["payload_bytes_vs_yardstick"] = ratio(payload_sent, changed + manifest)
            if wire is not None and handshake is not None:
                # What the push sent beyond one bare SSH connection's own bytes.
                f["wire_beyond_one_ssh_connection"] = wire - handshake
            goals.append(("payload bytes < changed file + manifest",
                          f["payload_bytes_vs_yardstick"], 1.0, "<"))
        f["wire_vs_rsync"] = ratio(wire, med(cases, case, "rsync -e ssh", "wire_bytes"))
    elif case == "resume":
        beyond = med(cases, case, "second push, beyond what was missing", "bytes")
        if beyond is not None:
            f["beyond_pct_of_payload"] = 100.0 * beyond / payload
            goals.append(("second push re-sends < 1% of the payload",
                          f["beyond_pct_of_payload"], 1.0, "<"))
        again = med(cases, case, "one push across a reconnect, beyond the payload", "bytes")
        if again is not None:
            # Not the goal's figure: it also counts what was in flight when the link
            # died (socket buffers, the SSH window), which never reached the VM.
            f["reconnect_beyond_pct_of_payload"] = 100.0 * again / payload
    elif case == "unpack":
        f["speed_vs_tar"] = ratio(med(cases, case, "tar -x", "seconds"),
                                  med(cases, case, "gcloud-gpu-helper unpack", "seconds"))
        f["speed_vs_tar_sync"] = ratio(med(cases, case, "tar -x; sync", "seconds"),
                                       med(cases, case, "gcloud-gpu-helper unpack", "seconds"))
        goals.append(("unpack >= 1.0x tar -x", f["speed_vs_tar"], 1.0, ">="))
        goals.append(("unpack >= 1.0x tar -x; sync", f["speed_vs_tar_sync"], 1.0, ">="))
    elif case == "disk":
        f["state_vs_payload"] = ratio(med(cases, case, "state root after a cold push (du)", "bytes"),
                                      med(cases, case, "payload", "bytes"))
        goals.append(("state root < 1.05x the payload", f["state_vs_payload"], 1.05, "<"))
    elif case == "timeline":
        f["parallel_sooner"] = ratio(med(cases, case, "sequential (no needs lines)", "seconds"),
                                     med(cases, case, "parallel (shipped needs lines)", "seconds"))
        goals.append(("ready >= 1.3x sooner in parallel", f["parallel_sooner"], 1.3, ">="))
    elif case == "memory":
        rss = cases[case].get("gcloud-gpu push", {}).get("rss_kib")
        if rss:
            f["push_peak_rss_mib"] = max(rss) / 1024
            goals.append(("push peak RSS < 32 MiB", f["push_peak_rss_mib"], 32.0, "<"))
    return f, goals


def main():
    cases = load(sys.argv[1])
    setup = cases.pop("setup", {})
    payload = setup.get("payload", {}).get("bytes", [0])[0]
    wall = setup.get("wall", {}).get("seconds", [0])[0]
    load_avg = setup.get("loadavg", {})
    print("payload %.0f MiB (%d bytes), archive %d bytes; whole run %.0f s; load average %s -> %s"
          % (payload / 2**20, payload, setup.get("archive", {}).get("bytes", [0])[0], wall,
             load_avg.get("start", ["?"])[0], load_avg.get("end", ["?"])[0]))
    lines = []
    for case in sorted(cases, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER)):
        tools = cases[case]
        print("\n%s  (median [min-max])" % case)
        results = {}
        for tool, metrics in tools.items():
            results[tool] = {m: summary(v) for m, v in metrics.items()}
            cells = ["%s %s" % (cell(s, m), m.replace("_", " ") if m not in ("seconds", "rss_kib") else
                                ("s" if m == "seconds" else "peak RSS"))
                     for m, s in results[tool].items()]
            print("  %-40s %s" % (tool, "   ".join(cells)))
        f, goals = figures(cases, case, payload)
        for name, value in f.items():
            if name.startswith("mb_s "):
                print("  %-40s %.1f MB/s" % (name[5:], value))
            elif name == "reconnect_beyond_pct_of_payload":
                print("  one push across a reconnect: %.2f%% of the payload beyond it (in-flight bytes included)"
                      % value)
        for name, value, target, op in goals:
            if value is None:
                print("  goal: %s: not measured" % name)
                continue
            met = value >= target if op == ">=" else value < target
            print("  goal: %s: %.3g, %s" % (name, value, "met" if met else "NOT met"))
        lines.append("BENCH " + json.dumps({"case": case, "payload_bytes": payload,
                                            "results": results, "figures": f},
                                           sort_keys=True, separators=(",", ":")))
    print()
    for line in lines:
        print(line)


main()
