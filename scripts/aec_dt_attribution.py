#!/opt/lab/bin/python
"""Where in the double talk two AEC outputs' PESQ-WB difference comes from (issue 13).

Not used by any build or test: a developer runs it by hand beside the evaluation kit.

Given one kit-style scenario and the outputs of two builds A (the reference, e.g. main)
and B (a candidate) on it, the script scores PESQ-WB over the double-talk span (the kit's
`score.score_aec` alignment and span, `near_clean.wav` as the reference) for A, B and
hybrids that take B only in one class of 10 ms frames and A elsewhere (10 ms Hann
cross-fades at the class edges):

* pauses        frames where the near talker is silent (near_clean more than 40 dB below
                its loudest frame in the double talk);
* onsets        the first 50 ms of each near-end spurt after at least 100 ms of silence;
* rest          the other near-active frames (the body of the words);
* level-matched A in the pauses, each frame scaled to B's energy in that frame: if this
                scores like "pauses", B's loss in the pauses comes from the level changing
                from frame to frame (modulation), not from B's spectral texture.

A hybrid that scores near B locates B's loss in that class; one that scores near A clears it.

    scripts/aec_dt_attribution.py --scenario /opt/labwork/aec_h2/aec_d220_rf_nl_white48 \\
        --a OUT_MAIN.wav --b OUT_CANDIDATE.wav [--kit /work/shared/eval/apm]

Outputs are the binaries' `process --aec --out` files for the scenario's mic.wav/far.wav
(e.g. `scripts/aec_twin.py`'s WORK/out/TAG/SET/SCENARIO/out.wav).
"""
import argparse
import json
import os
import sys

import numpy as np

FRAME = 160  # 10 ms at 16 kHz


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", required=True, help="scenario dir (mic.wav, near_clean.wav, segments.json)")
    ap.add_argument("--a", required=True, help="reference output wav")
    ap.add_argument("--b", required=True, help="candidate output wav")
    ap.add_argument("--kit", default=os.environ.get("APM_KIT", "/work/shared/eval/apm"), help="kit dir (score.py)")
    a = ap.parse_args()
    sys.path.insert(0, a.kit)
    import score  # the kit's scorer: its reader, latency alignment and PESQ-WB

    mic = score.rd(os.path.join(a.scenario, "mic.wav"))
    near = score.rd(os.path.join(a.scenario, "near_clean.wav"))

    def load(path):
        o = score.fit(score.rd(path), len(mic))
        lag = score.est_latency(mic, o)
        return score.fit(o[lag:], len(mic)) if lag else o

    seg = json.load(open(os.path.join(a.scenario, "segments.json")))
    t0, t1 = [(s["start_s"], s["end_s"]) for s in seg["segments"] if s["type"] == "double_talk"][0]
    i0, i1 = int(t0 * score.FS), int(t1 * score.FS)
    ref, out_a, out_b = near[i0:i1], load(a.a)[i0:i1], load(a.b)[i0:i1]
    nf = len(ref) // FRAME

    def frame_energy(x):
        return np.array([np.sum(x[k * FRAME:(k + 1) * FRAME] ** 2) for k in range(nf)]) + 1e-12

    e_ref, e_a, e_b = frame_energy(ref), frame_energy(out_a), frame_energy(out_b)
    level = 10 * np.log10(e_ref)
    active = level > level.max() - 40
    onset = np.zeros(nf, bool)
    silent_run = 99
    for k in range(nf):
        if active[k]:
            if silent_run >= 10:
                onset[k:k + 5] = active[k:k + 5]
            silent_run = 0
        else:
            silent_run += 1

    def weight(mask):
        w = np.pad(np.repeat(mask.astype(float), FRAME), (0, len(ref) - nf * FRAME))
        k = np.hanning(2 * FRAME + 1)
        return np.convolve(w, k / k.sum(), "same")

    def hybrid(mask, b=out_b):
        w = weight(mask)
        return out_a * (1 - w) + b * w

    scale = np.ones(len(ref))
    for k in range(nf):
        if not active[k]:
            scale[k * FRAME:(k + 1) * FRAME] = np.sqrt(e_b[k] / e_a[k])
    pesq = lambda x: score.pesq_wb(ref, x)
    print("double talk %.1f-%.1f s: near active in %.0f %% of 10 ms frames, %d onset frames"
          % (t0, t1, 100 * active.mean(), onset.sum()))
    print("PESQ-WB  A %.3f  B %.3f" % (pesq(out_a), pesq(out_b)))
    print("B only in: pauses %.3f  onsets %.3f  rest of speech %.3f" % (
        pesq(hybrid(~active)), pesq(hybrid(onset)), pesq(hybrid(active & ~onset))))
    print("A level-matched to B in the pauses: %.3f" % pesq(hybrid(~active, out_a * scale)))
    print("B/A energy: pauses %+.2f dB, speech %+.2f dB" % (
        10 * np.log10(e_b[~active].sum() / e_a[~active].sum()), 10 * np.log10(e_b[active].sum() / e_a[active].sum())))


if __name__ == "__main__":
    main()
