#!/opt/lab/bin/python
"""ERLE after double talk, measured against a twin without the near end (issue 13).

Not used by any build or test: a developer runs it by hand beside the evaluation kit.

The kit's AEC scorer reports ERLE over far-end single talk early (5-10 s, before the
double talk) and late (22-32 s, after it). The two windows hold different far-end speech,
so "late within 3 dB of early" mixes the canceller's recovery with how echo-rich the two
stretches of speech happen to be. The project therefore measures the target by a *twin*:
the same scenario with mic = mic - near_clean (echo and noise only, no near end ever),
run through the same binary. A scenario meets the target when its late ERLE is at most
3 dB below its twin's late ERLE: whatever the double talk costs is the gap.

What it does:
1. For every `aec_*` scenario of each set it makes (once) a twin directory under
   WORK/<set>/<scenario>/: mic.wav = mic - near_clean (exact on the 16-bit grid, written
   as 16-bit PCM), far.wav and segments.json as the original's, near_clean.wav silent.
2. Runs BIN `process --mic M --far F --aec --out O` (the kit's AEC command) on the
   original and on the twin, outputs under WORK/out/<tag>/<set>/...
3. Scores both with the kit's own `score.score_aec` (its latency alignment, spans and
   ERLE formulas; PESQ is skipped, it plays no part here) and prints per scenario
   early, late, twin-late, gap = late - twin-late, and the literal reading
   late >= early - 3; then the count within 3 dB per set and over all sets.

    scripts/aec_twin.py --bin /work/bin/rvoip-media-main --tag main \\
        --sets /opt/labwork/apm /opt/labwork/aec_h1 /opt/labwork/aec_h2 \\
        [--work /opt/labwork/NAME/twin] [--kit /work/shared/eval/apm] [--json out.json]

A set is a directory of kit-style scenarios (the kit's own, or one made by
scripts/aec_heldout.py). `--only SUBSTR` restricts to scenarios whose name contains it.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import soundfile as sf

LIMIT_DB = 3.0


def make_twin(src, dst):
    """Twin scenario dir of `src` at `dst`: mic - near_clean, no near end."""
    if os.path.exists(os.path.join(dst, "segments.json")):
        return
    os.makedirs(dst, exist_ok=True)
    mic, fs = sf.read(os.path.join(src, "mic.wav"), dtype="int16")
    near, fs2 = sf.read(os.path.join(src, "near_clean.wav"), dtype="int16")
    assert fs == fs2 and len(mic) == len(near), src
    twin = mic.astype(np.int32) - near.astype(np.int32)
    assert np.abs(twin).max() < 32768, "twin of %s clips" % src
    sf.write(os.path.join(dst, "mic.wav"), twin.astype(np.int16), fs, subtype="PCM_16")
    sf.write(os.path.join(dst, "near_clean.wav"), np.zeros(len(mic), np.int16), fs, subtype="PCM_16")
    shutil.copy(os.path.join(src, "far.wav"), os.path.join(dst, "far.wav"))
    shutil.copy(os.path.join(src, "segments.json"), os.path.join(dst, "segments.json"))


def run_bin(binary, sdir, out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = [binary, "process", "--mic", os.path.join(sdir, "mic.wav"), "--far", os.path.join(sdir, "far.wav"),
           "--aec", "--out", out]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr[-2000:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="rvoip-media CLI binary")
    ap.add_argument("--tag", required=True, help="name of this binary's outputs under WORK/out")
    ap.add_argument("--sets", nargs="+", required=True, help="scenario set directories")
    ap.add_argument("--work", default="/opt/labwork/s24aec/twin", help="twin scenarios and outputs")
    ap.add_argument("--kit", default=os.environ.get("APM_KIT", "/work/shared/eval/apm"), help="kit dir (score.py)")
    ap.add_argument("--only", default="", help="only scenarios whose name contains this")
    ap.add_argument("--json", help="write the per-scenario figures here")
    a = ap.parse_args()

    sys.path.insert(0, a.kit)
    import score  # the kit's scorer

    score.pesq_wb = lambda ref, deg: None  # ERLE only: skip the PESQ calls score_aec makes

    rows, allres = [], {}
    for sset in a.sets:
        sname = os.path.basename(os.path.normpath(sset))
        scen = sorted(d for d in os.listdir(sset) if d.startswith("aec_") and a.only in d
                      and os.path.isfile(os.path.join(sset, d, "segments.json")))
        for sc in scen:
            src = os.path.join(sset, sc)
            twin = os.path.join(a.work, sname, sc)
            make_twin(src, twin)
            o_out = os.path.join(a.work, "out", a.tag, sname, sc, "out.wav")
            t_out = os.path.join(a.work, "out", a.tag, sname, sc, "twin.wav")
            run_bin(a.bin, src, o_out)
            run_bin(a.bin, twin, t_out)
            o = score.score_aec(src, o_out)
            t = score.score_aec(twin, t_out)
            r = {"set": sname, "scenario": sc, "early": o["erle_early_db"], "late": o["erle_late_db"],
                 "erle": o["erle_db"], "twin_early": t["erle_early_db"], "twin_late": t["erle_late_db"]}
            r["gap"] = r["late"] - r["twin_late"]
            r["ok"] = r["gap"] >= -LIMIT_DB
            r["literal_ok"] = r["late"] >= r["early"] - LIMIT_DB
            rows.append(r)
            allres.setdefault(sname, []).append(r)

    print("%-8s %-28s %7s %7s %7s %7s %7s  %-4s %-7s" % ("set", "scenario", "early", "late", "tw-erl", "tw-late", "gap",
                                                          "twin", "literal"))
    for r in rows:
        print("%-8s %-28s %7.2f %7.2f %7.2f %7.2f %7.2f  %-4s %-7s" % (
            r["set"], r["scenario"][4:], r["early"], r["late"], r["twin_early"], r["twin_late"], r["gap"],
            "ok" if r["ok"] else "MISS", "ok" if r["literal_ok"] else "miss"))
    print()
    for sname, rs in allres.items():
        print("%-8s within 3 dB of twin: %d/%d   literal late>=early-3: %d/%d   mean ERLE %.2f" % (
            sname, sum(r["ok"] for r in rs), len(rs), sum(r["literal_ok"] for r in rs), len(rs),
            float(np.mean([r["erle"] for r in rs]))))
    print("%-8s within 3 dB of twin: %d/%d   literal late>=early-3: %d/%d" % (
        "all", sum(r["ok"] for r in rows), len(rows), sum(r["literal_ok"] for r in rows), len(rows)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
