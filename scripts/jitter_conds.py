#!/usr/bin/env python3
"""Per-condition table of the jitter buffer's E-model R against the best reference's (issue 12).

Not used by any build or test: a developer runs it by hand after scoring subjects with the
jitter kit's `run.py` on one or more sets (work dirs such as /opt/labwork/jitter,
/opt/labwork/jb_s1000). Each set's `results-NAME.json` holds, per scenario (`pcmu_heavy`,
`opus_lan`, ...), the runner's R; the references are the kit's `fixed60`, `fixed120` and
`speexdsp` unless `--refs` names others. For every scenario of every set it prints each
subject's R, the best reference's R (and which one) and the margin; then, per scenario
across the sets, the mean margin and wins/losses; then each subject's mean R per set and
over all the sets' scenarios, with its wins and losses against the best reference.

With `--base NAME` (one of the subjects) the other subjects are also compared with it: the
mean change of R and the scenarios where a subject is below the best reference while the
base was at or above it (the acceptance rule: no condition may fall below the best
reference where the base beat it). A reference or subject missing from a set is reported
and that set is left out of the subject's figures.

    scripts/jitter_conds.py --subject s24jb_main --subject s24jb_try \\
        --base s24jb_main /opt/labwork/jitter /opt/labwork/jb_s1000 /opt/labwork/jb_s2000

`--by set` prints only the per-set tables and means, `--by cond` only the per-scenario
summary across sets; `--only pcmu_,opus_lan` keeps the scenarios whose names start with one
of the prefixes (a change that touches one codec); `--json FILE` also writes the figures as
JSON.
"""
import argparse
import json
import os
import sys

DEFAULT_REFS = "fixed60,fixed120,speexdsp"


def load(set_dir, name):
    """Scenario -> R of runner `name` in `set_dir`, or None when it has no results file."""
    path = os.path.join(set_dir, f"results-{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for scen, r in doc.get("scenarios", {}).items():
        if isinstance(r, dict) and r.get("R") is not None:
            out[scen] = float(r["R"])
    return out


def set_label(set_dir):
    return os.path.basename(os.path.normpath(set_dir))


def fmt(x, width=7, prec=2):
    return f"{x:{width}.{prec}f}" if x is not None else " " * (width - 1) + "-"


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="+", help="work dirs holding results-*.json")
    ap.add_argument("--subject", action="append", required=True, help="runner name (repeatable)")
    ap.add_argument("--refs", default=DEFAULT_REFS, help=f"comma-separated references (default {DEFAULT_REFS})")
    ap.add_argument("--base", help="subject the others are compared with")
    ap.add_argument("--by", choices=["set", "cond", "both"], default="both")
    ap.add_argument("--only", help="comma-separated scenario name prefixes to keep (e.g. pcmu_, opus_spikes)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    refs = [r for r in args.refs.split(",") if r]
    subjects = args.subject
    if args.base and args.base not in subjects:
        sys.exit(f"--base {args.base} is not one of the subjects")

    # rows[(set, scenario)] = {"best": (ref, R), "refs": {...}, "subj": {name: R}}
    rows = {}
    problems = []
    order = []
    for d in args.sets:
        label = set_label(d)
        ref_r = {r: load(d, r) for r in refs}
        for r, v in ref_r.items():
            if v is None:
                problems.append(f"{label}: no results-{r}.json")
        subj_r = {s: load(d, s) for s in subjects}
        for s, v in subj_r.items():
            if v is None:
                problems.append(f"{label}: no results-{s}.json")
        scen_names = set()
        for v in list(ref_r.values()) + list(subj_r.values()):
            if v:
                scen_names.update(v)
        if args.only:
            keep = tuple(p for p in args.only.split(",") if p)
            scen_names = {s for s in scen_names if s.startswith(keep)}
        for scen in sorted(scen_names):
            avail = {r: v[scen] for r, v in ref_r.items() if v and scen in v}
            best = max(avail.items(), key=lambda kv: kv[1]) if avail else (None, None)
            rows[(label, scen)] = {
                "best": best,
                "refs": avail,
                "subj": {s: v[scen] for s, v in subj_r.items() if v and scen in v},
            }
            order.append((label, scen))

    for p in problems:
        print(f"note: {p}")

    def margin(row, s):
        r, b = row["subj"].get(s), row["best"][1]
        return None if r is None or b is None else r - b

    labels = [set_label(d) for d in args.sets]
    w = max(len(s) for s in subjects + ["best ref"]) + 2
    if args.by in ("set", "both"):
        for label in labels:
            keys = [k for k in order if k[0] == label]
            if not keys:
                continue
            print(f"\n## {label}")
            head = f"{'scenario':20s}" + "".join(f"{s:>{w}s}" for s in subjects) + f"{'best ref':>{w}s} {'which':9s}"
            head += "".join(f"{'Δ ' + s:>{w + 2}s}" for s in subjects)
            print(head)
            for k in keys:
                row = rows[k]
                line = f"{k[1]:20s}" + "".join(f"{fmt(row['subj'].get(s), w)}" for s in subjects)
                line += f"{fmt(row['best'][1], w)} {row['best'][0] or '-':9s}"
                for s in subjects:
                    m = margin(row, s)
                    flag = " " if m is None or m >= 0 else "!"
                    line += f"{fmt(m, w + 1)}{flag}"
                print(line)
            line = f"{'mean':20s}"
            for s in subjects:
                line += fmt(mean(rows[k]["subj"][s] for k in keys if s in rows[k]["subj"]), w)
            line += fmt(mean(rows[k]["best"][1] for k in keys if rows[k]["best"][1] is not None), w)
            print(line)

    conds = sorted({k[1] for k in order})
    if args.by in ("cond", "both"):
        print(f"\n## per scenario over {len(labels)} set(s): mean R, mean margin over the best reference, wins/losses")
        head = f"{'scenario':20s}{'best ref':>9s}"
        for s in subjects:
            head += f"  {s:>{w}s} {'Δbest':>6s} {'W/L':>5s}"
        print(head)
        for c in conds:
            keys = [k for k in order if k[1] == c]
            line = f"{c:20s}{fmt(mean(rows[k]['best'][1] for k in keys if rows[k]['best'][1] is not None), 9)}"
            for s in subjects:
                ms = [margin(rows[k], s) for k in keys]
                ms = [m for m in ms if m is not None]
                rs = [rows[k]["subj"][s] for k in keys if s in rows[k]["subj"]]
                wins = sum(m >= 0 for m in ms)
                line += f"  {fmt(mean(rs), w)} {fmt(mean(ms), 6)} {wins:>2d}/{len(ms) - wins:<2d}"
            print(line)

    summary = {}
    print("\n## means")
    print(f"{'subject':{w}s}" + "".join(f"{lab:>12s}" for lab in labels) + f"{'all':>9s} {'wins':>5s} {'losses':>6s}")
    for s in subjects + ["best-ref"]:
        line = f"{s:{w}s}"
        per = {}
        for lab in labels:
            keys = [k for k in order if k[0] == lab]
            if s == "best-ref":
                vals = [rows[k]["best"][1] for k in keys if rows[k]["best"][1] is not None]
            else:
                vals = [rows[k]["subj"][s] for k in keys if s in rows[k]["subj"]]
            per[lab] = mean(vals)
            line += fmt(per[lab], 12)
        if s == "best-ref":
            allv = [rows[k]["best"][1] for k in order if rows[k]["best"][1] is not None]
            print(line + fmt(mean(allv), 9))
            summary[s] = {"per_set": per, "all": mean(allv)}
            continue
        allv = [rows[k]["subj"][s] for k in order if s in rows[k]["subj"]]
        ms = [m for m in (margin(rows[k], s) for k in order) if m is not None]
        wins = sum(m >= 0 for m in ms)
        print(line + fmt(mean(allv), 9) + f" {wins:5d} {len(ms) - wins:6d}")
        summary[s] = {"per_set": per, "all": mean(allv), "wins": wins, "losses": len(ms) - wins}

    if args.base:
        print(f"\n## against {args.base}")
        for s in subjects:
            if s == args.base:
                continue
            both = [k for k in order if s in rows[k]["subj"] and args.base in rows[k]["subj"]]
            d = mean(rows[k]["subj"][s] - rows[k]["subj"][args.base] for k in both)
            fell = [
                k
                for k in both
                if (margin(rows[k], args.base) or 0) >= 0 and (margin(rows[k], s) or 0) < 0
            ]
            print(f"{s}: mean ΔR {fmt(d, 6, 3)} over {len(both)} scenario runs; "
                  f"below the best reference where {args.base} was not: {len(fell)}")
            for k in fell:
                print(f"   {k[0]}/{k[1]}: {rows[k]['subj'][s]:.2f} < {rows[k]['best'][0]} {rows[k]['best'][1]:.2f}"
                      f" ({args.base} {rows[k]['subj'][args.base]:.2f})")
            summary[s]["vs_base"] = {"mean_dR": d, "fell_below_best": [list(k) for k in fell]}

    if args.json:
        out = {
            "summary": summary,
            "rows": [
                {"set": k[0], "scenario": k[1], "best_ref": rows[k]["best"][0], "best_R": rows[k]["best"][1],
                 "refs": rows[k]["refs"], "subjects": rows[k]["subj"]}
                for k in order
            ],
            "notes": problems,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
