#!/opt/lab/bin/python
"""When after the double talk an AEC output exceeds its twin's (issue 13).

Not used by any build or test: a developer runs it by hand after `scripts/aec_twin.py`.

`aec_twin.py` compares the late ERLE (22-32 s) of each scenario with that of its twin (mic
minus near_clean: no near end ever). This script splits the window into chunks (finer just
after the double talk) and prints, per chunk, the output's energy over the twin's output
(dB) and that chunk's share of the whole excess energy, then the gap the window would show
if it started later (22.03 / 22.05 / 22.1 / 22.2 s). Both outputs are aligned by the kit's
own latency estimate, as the scorer does.

    scripts/aec_late_excess.py --work /opt/labwork/NAME/twin --tag main \\
        --set /opt/labwork/apm --scenario aec_d30_r02 [--kit /work/shared/eval/apm]

--work and --tag as given to aec_twin.py (its outputs WORK/out/TAG/SET/SCENARIO/{out,twin}.wav
and twin scenarios WORK/SET/SCENARIO).
"""
import argparse
import os
import sys

import numpy as np

EDGES = [22.0, 22.1, 22.2, 22.4, 22.6, 22.8, 23.0, 23.5, 24.0, 25.0, 26.0, 28.0, 30.0, 32.0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="aec_twin.py's --work")
    ap.add_argument("--tag", required=True, help="aec_twin.py's --tag")
    ap.add_argument("--set", required=True, help="scenario set directory")
    ap.add_argument("--scenario", required=True, help="scenario name, e.g. aec_d30_r02")
    ap.add_argument("--kit", default=os.environ.get("APM_KIT", "/work/shared/eval/apm"), help="kit dir (score.py)")
    a = ap.parse_args()
    sys.path.insert(0, a.kit)
    import score  # the kit's reader and latency alignment

    sname = os.path.basename(os.path.normpath(a.set))
    outs = os.path.join(a.work, "out", a.tag, sname, a.scenario)

    def load(wav, mic_path):
        mic = score.rd(mic_path)
        o = score.fit(score.rd(wav), len(mic))
        lag = score.est_latency(mic, o)
        return score.fit(o[lag:], len(mic)) if lag else o

    out = load(os.path.join(outs, "out.wav"), os.path.join(a.set, a.scenario, "mic.wav"))
    twin = load(os.path.join(outs, "twin.wav"), os.path.join(a.work, sname, a.scenario, "mic.wav"))
    fs = score.FS
    energy = lambda x, t0, t1: float(np.sum(x[int(t0 * fs):int(t1 * fs)] ** 2)) + 1e-20
    eo = [energy(out, t0, t1) for t0, t1 in zip(EDGES, EDGES[1:])]
    et = [energy(twin, t0, t1) for t0, t1 in zip(EDGES, EDGES[1:])]
    excess = sum(eo) - sum(et)
    print("%s/%s (%s): gap %.2f dB (late output energy over the twin's)" % (
        sname, a.scenario, a.tag, -10 * np.log10(sum(eo) / sum(et))))
    for (t0, t1), o, t in zip(zip(EDGES, EDGES[1:]), eo, et):
        print("  %5.1f-%5.1f s  %+6.1f dB  %4.0f %% of the excess" % (t0, t1, 10 * np.log10(o / t),
                                                                    100 * (o - t) / excess if excess else 0))
    for start in [22.03, 22.05, 22.1, 22.2]:
        print("  window from %.2f s: gap %.2f dB" % (start, -10 * np.log10(energy(out, start, 32) / energy(twin, start, 32))))


if __name__ == "__main__":
    main()
