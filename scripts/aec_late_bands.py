#!/opt/lab/bin/python
"""Where an AEC output's late ERLE goes: per second and per band, early against late (issue 13).

Not used by any build or test: a developer runs it by hand beside the evaluation kit.

For one kit-style AEC scenario and any number of outputs of it (ours, a reference's, an
experiment's), aligned by the kit's own latency estimate as its scorer does, it prints
1. ERLE (microphone over output energy, dB) per second over the kit's early (5-10 s) and late
   (22-32 s) far-end single-talk spans, beside the microphone's level per second;
2. ERLE per band (0-300 Hz, 0.3-1, 1-2, 2-4, 4-8 kHz) over each span, beside the microphone's
   and the background noise's (microphone minus echo_only.wav) level per band, the levels as
   energy per second so that the two spans compare.
Session 26 found with it that most literal misses of "late within 3 dB of early" are the band
under 300 Hz: the late far end holds 6-20 dB more there and the output is that band's.

    scripts/aec_late_bands.py /opt/labwork/aec_h2/aec_d70_rg \\
        main=/opt/labwork/aec_h2/out/s25q1-a/aec/aec_d70_rg/out.wav \\
        spx=/opt/labwork/aec_h2/out/speexdsp/aec/aec_d70_rg/out.wav [--kit /work/shared/eval/apm]
"""
import argparse
import os
import sys

import numpy as np
from scipy.signal import stft

BANDS = [(0, 300), (300, 1000), (1000, 2000), (2000, 4000), (4000, 8000)]
SPANS = [(5, 10), (22, 32)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", help="scenario directory (mic.wav, segments.json, echo_only.wav if any)")
    ap.add_argument("outputs", nargs="+", help="LABEL=path/to/out.wav")
    ap.add_argument("--kit", default=os.environ.get("APM_KIT", "/work/shared/eval/apm"), help="kit dir (score.py)")
    a = ap.parse_args()
    sys.path.insert(0, a.kit)
    import score  # the kit's reader and latency alignment

    fs = score.FS
    mic = score.rd(os.path.join(a.scenario, "mic.wav"))
    echo_path = os.path.join(a.scenario, "echo_only.wav")
    noise = mic - score.rd(echo_path) if os.path.exists(echo_path) else None
    outs = []
    for arg in a.outputs:
        label, path = arg.split("=", 1)
        o = score.fit(score.rd(path), len(mic))
        lag = score.est_latency(mic, o)
        if lag:
            o = score.fit(o[lag:], len(mic))
        outs.append((label, o))

    def energy(x, t0, t1):
        return float(np.sum(x[int(t0 * fs):int(t1 * fs)] ** 2)) + 1e-20

    print("ERLE per second (dB)")
    print("%-6s" % "s" + "".join("%9s" % lab for lab, _ in outs) + "   mic dB")
    for t0, t1 in SPANS:
        for s in range(t0, t1):
            row = "".join("%9.1f" % (10 * np.log10(energy(mic, s, s + 1) / energy(o, s, s + 1))) for _, o in outs)
            print("%-6d" % s + row + "   %6.1f" % (10 * np.log10(energy(mic, s, s + 1))))
        print("%2d-%-3d" % (t0, t1) + "".join("%9.1f" % (10 * np.log10(energy(mic, t0, t1) / energy(o, t0, t1))) for _, o in outs))

    def band_energy(x, t0, t1):
        f, _, z = stft(x[int(t0 * fs):int(t1 * fs)], fs, nperseg=512)
        p = np.sum(np.abs(z) ** 2, 1) / (t1 - t0)
        return [float(p[(f >= lo) & (f < hi)].sum()) + 1e-20 for lo, hi in BANDS]

    for t0, t1 in SPANS:
        m = band_energy(mic, t0, t1)
        print("\nspan %d-%d s, per band: " % (t0, t1) + "".join("%11s" % ("%d-%d" % b) for b in BANDS))
        print("%-10s" % "mic dB/s" + "".join("%11.1f" % (10 * np.log10(v)) for v in m))
        if noise is not None:
            print("%-10s" % "noise dB/s" + "".join("%11.1f" % (10 * np.log10(v)) for v in band_energy(noise, t0, t1)))
        for label, o in outs:
            print("%-10s" % label + "".join("%11.1f" % (10 * np.log10(mv / ov)) for mv, ov in zip(m, band_energy(o, t0, t1))))


if __name__ == "__main__":
    main()
