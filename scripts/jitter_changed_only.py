#!/opt/lab/bin/python
"""Score a jitter-buffer variant only where its output differs from a base binary's.

What: for every scenario of the given jitter sets (directories made by the evaluation kit,
each with scenarios.json and <scenario>/{stream.pcap,meta.json}), runs the base binary and
the variant binary (`rvoip-media jitter ...`, the variant with extra environment variables),
compares their out.wav byte for byte, and scores (the kit's own `score.score`, the same R as
`run.py`) only the scenarios whose output differs. A byte-identical scenario keeps the base
subject's R from the set's results-<base subject>.json, so the per-set mean change is exact
without rescoring a whole set; an exploration sweep of ~280 scenarios takes 1-2 minutes
instead of ~15 with run.py (session 30, s30knee).

How:
  /opt/lab/bin/python scripts/jitter_changed_only.py --base-bin /work/bin/OLD --bin /work/bin/NEW \
      --base-subject SUBJ [--base-subject FALLBACK] [--env RVOIP_X=1] [--codec opus] \
      [--out /tmp/changed] /opt/labwork/jitter /opt/labwork/jb_s1000 ...

Prints one line per changed scenario (R base -> variant, delay and PESQ change) and, per set,
the mean change over all its scenarios and how many differ. Not used by builds or tests;
needs the kit at /work/shared/eval/jitter (JB_EVAL to override).
"""
import argparse
import filecmp
import json
import os
import subprocess
import sys

sys.path.insert(0, os.environ.get("JB_EVAL", "/work/shared/eval/jitter"))
import score  # noqa: E402


def run(binary, env, d, codec, out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    e = dict(os.environ, **env)
    cmd = [binary, "jitter", "--pcap", os.path.join(d, "stream.pcap"), "--codec", codec, "--out", out,
           "--stats", out + ".stats.json"]
    subprocess.run(cmd, env=e, capture_output=True, check=True)


def base_results(s, subjects):
    for b in subjects:
        f = os.path.join(s, "results-%s.json" % b)
        if os.path.exists(f):
            return json.load(open(f))["scenarios"]
    sys.exit("no results-<base subject>.json in %s" % s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--base-bin", required=True)
    ap.add_argument("--base-subject", action="append", required=True)
    ap.add_argument("--env", action="append", default=[], help="K=V for the variant only")
    ap.add_argument("--codec", help="only scenarios of this codec")
    ap.add_argument("--out", default="/tmp/jitter_changed_only")
    ap.add_argument("sets", nargs="+")
    a = ap.parse_args()
    env = dict(kv.split("=", 1) for kv in a.env)
    for s in a.sets:
        base = base_results(s, a.base_subject)
        scen = json.load(open(os.path.join(s, "scenarios.json")))["scenarios"]
        total, changed = 0.0, 0
        for sc in scen:
            d = os.path.join(s, sc)
            codec = json.load(open(os.path.join(d, "meta.json")))["codec"]
            if a.codec and codec != a.codec:
                continue
            tag = os.path.basename(os.path.normpath(s))
            ob = os.path.join(a.out, "base", tag, sc + ".wav")
            ov = os.path.join(a.out, "variant", tag, sc + ".wav")
            run(a.base_bin, {}, d, codec, ob)
            run(a.bin, env, d, codec, ov)
            if filecmp.cmp(ob, ov, shallow=False):
                continue
            r = score.score(d, ov)
            b = base[sc]
            changed += 1
            total += r["R"] - b["R"]
            print("%-14s %-24s R %6.2f -> %6.2f (%+.2f)  delay %+5.1f ms  PESQ %+.3f" % (
                tag, sc, b["R"], r["R"], r["R"] - b["R"], r["delay_mean_ms"] - b["delay_mean_ms"],
                r["pesq"] - b["pesq"]), flush=True)
        print("%-14s mean dR over its %d scenarios %+.3f (%d differ)" % (
            os.path.basename(os.path.normpath(s)), len(scen), total / max(len(scen), 1), changed), flush=True)


if __name__ == "__main__":
    main()
