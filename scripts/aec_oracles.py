#!/opt/lab/bin/python
"""Oracles that say where an AEC output's double-talk and near-end PESQ-WB is lost (issue 13).

Not used by any build or test: a developer runs it by hand beside the evaluation kit, on a
kit-style AEC set (scenarios.json, per case mic.wav, echo_only.wav, near_clean.wav) and a
folder of outputs named <case>.wav (`rvoip-media process --aec --out` on each case; the CLI
aligns its output with the input). Every figure is the kit's PESQ-WB (`score.pesq_wb`, spans
15-22 s double talk, 10-15 s near single talk) of a signal built from the output, means over
the set's cases; session 28's figures: BENCHMARKS.md, voice processing, "Session 28".

    scripts/aec_oracles.py band  SET OUTDIR          # replace one band of OUTDIR by the clean near end
    scripts/aec_oracles.py time  SET OUTDIR          # ... only in the near's active or pause frames
    scripts/aec_oracles.py depth SET LINDIR          # the linear filter's depth per band and segment
    scripts/aec_oracles.py mask  SET LINDIR          # ideal per-bin gains applied to the linear output
    scripts/aec_oracles.py gains SET LINDIR OUTDIR   # our gains against the ideal, by PESQ and per cell

(SET e.g. /opt/labwork/aec_h7; APM_KIT=/path/to/shared/eval/apm, default /work/shared/eval/apm.)

LINDIR holds the linear filter's output alone (microphone minus the foreground's echo
estimate, the post-filter's input), <case>.wav each, which `process` writes beside its output
with `--aec-linear-out` (`Aec::linear_output`, aligned with the output sample for sample):

    mkdir -p OUTDIR LINDIR
    for c in $(python3 -c "import json; print(' '.join(json.load(open('SET/scenarios.json'))['aec']))"); do
      rvoip-media process --mic SET/$c/mic.wav --far SET/$c/far.wav --aec --out OUTDIR/$c.wav --aec-linear-out LINDIR/$c.wav
    done

Its residual echo is `lin - mic + echo_only` exactly. (Session 28 made LINDIR with an
experiment build; the flag's files are byte-identical to it on the kit's and h7's cases, and
`depth` on h7 gives the BENCHMARKS figures.)

* band:  STFT 32 ms (hop 8 ms); the band's bins of the output replaced by the near end's.
* time:  the same over 0-8000 / 0-300 / 300-8000 Hz, only in frames where the near end is
         active (frame energy within 30 dB of its loudest in the double talk) or only in the
         others (its pauses).
* depth: 10·log10(Σ|echo|² / Σ|echo − ŷ|²) per band, energy-weighted over the cells of each
         segment (far single talk from 5 s, double talk), and each band's share of the echo.
* mask:  the ideal Wiener gain |N|²/(|N|² + |L − N|²) (N near end, L linear output) applied
         to L, in the post-filter's own transform (320-point sqrt-Hann, hop 160: 50 Hz bins at
         16 kHz) and in a 1024-point one: what per-bin gains at that resolution can reach.
* gains: our effective gain |Out|/|L| in that transform against the ideal, per band and
         class of cell (near-to-residual ratio after the linear filter), and PESQ-WB of L
         resynthesised with max(ours, ideal) (only our over-suppression corrected) and with
         min(ours, ideal) (only our under-suppression), over all bins and under / over 300 Hz.
"""
import json
import os
import sys
from multiprocessing import Pool

import numpy as np
from scipy.signal import get_window, istft, stft

sys.path.insert(0, os.environ.get("APM_KIT", "/work/shared/eval/apm"))
import score  # noqa: E402  (the kit's scorer)

FS = 16000
DT, NST = (15.0, 22.0), (10.0, 15.0)


def cases(set_dir):
    return json.load(open(os.path.join(set_dir, "scenarios.json")))["aec"]


def load(set_dir, case, *dirs):
    near = score.rd(os.path.join(set_dir, case, "near_clean.wav"))
    return [near] + [score.fit(score.rd(os.path.join(d, case + ".wav")), len(near)) for d in dirs]


def pesq2(near, y):
    return (score.pesq_wb(score.span(near, *DT), score.span(y, *DT)), score.pesq_wb(score.span(near, *NST), score.span(y, *NST)))


def spec(x, n=512, hop=128, win="hann"):
    return stft(x, fs=FS, window=win, nperseg=n, noverlap=n - hop)


def synth(z, n, length, hop=None, win="hann"):
    hop = hop or n // 4
    return score.fit(istft(z, fs=FS, window=win, nperseg=n, noverlap=n - hop)[1], length)


def pool_map(fn, items):
    with Pool(2) as p:
        return p.map(fn, items)


def report(names, res, what=("DT", "NST")):
    res = np.array(res)  # case, variant, metric
    for i, name in enumerate(names):
        means = " ".join("%s %.3f" % (w, res[:, i, j].mean()) for j, w in enumerate(what))
        per = " ".join("%.2f" % v for v in res[:, i, 0])
        print("%-22s %s | %s per case %s" % (name, means, what[0], per))


BANDS = [None, (0, 100), (100, 200), (200, 300), (0, 300), (300, 1000), (1000, 4000), (4000, 8000)]


def band_one(args):
    set_dir, out_dir, case = args
    near, out = load(set_dir, case, out_dir)
    f, _, n = spec(near)
    _, _, o = spec(out)
    res = []
    for b in BANDS:
        y = out
        if b is not None:
            z = o.copy()
            sel = (f >= b[0]) & (f < b[1])
            z[sel] = n[sel]
            y = synth(z, 512, len(near))
        res.append(pesq2(near, y))
    return res


TIMES = [(None, None), ((0, 8000), "active"), ((0, 8000), "pauses"), ((0, 300), "active"), ((0, 300), "pauses"),
         ((300, 8000), "active"), ((300, 8000), "pauses")]


def time_one(args):
    set_dir, out_dir, case = args
    near, out = load(set_dir, case, out_dir)
    f, t, n = spec(near)
    _, _, o = spec(out)
    e = (np.abs(n) ** 2).sum(0)
    in_dt = (t >= DT[0]) & (t < DT[1])
    active = e > e[in_dt].max() * 1e-3
    res = []
    for b, which in TIMES:
        y = out
        if b is not None:
            z = o.copy()
            fb = (f >= b[0]) & (f < b[1])
            tm = active if which == "active" else ~active
            z[np.ix_(fb, tm)] = n[np.ix_(fb, tm)]
            y = synth(z, 512, len(near))
        res.append((score.pesq_wb(score.span(near, *DT), score.span(y, *DT)),))
    return res


DEPTH_BANDS = [(0, 50), (50, 100), (100, 150), (150, 200), (200, 300), (300, 1000), (1000, 3800), (3800, 8000)]


def depth(set_dir, lin_dir):
    acc = {}
    for case in cases(set_dir):
        d = os.path.join(set_dir, case)
        mic, echo = score.rd(os.path.join(d, "mic.wav")), score.rd(os.path.join(d, "echo_only.wav"))
        lin = score.fit(score.rd(os.path.join(lin_dir, case + ".wav")), len(mic))
        f, t, pe = spec(echo)
        _, _, pr = spec(lin - mic + echo)
        pe, pr = np.abs(pe) ** 2, np.abs(pr) ** 2
        segs = json.load(open(os.path.join(d, "segments.json")))["segments"]
        k = 0
        for s in segs:
            if s["type"] == "far_single":
                k += 1
                key, a = "far single %d" % k, max(s["start_s"], 5.0)
            elif s["type"] == "double_talk":
                key, a = "double talk", s["start_s"]
            else:
                continue
            tm = (t >= a) & (t < s["end_s"])
            if not tm.any():
                continue
            for lo, hi in DEPTH_BANDS:
                fb = (f >= lo) & (f < hi)
                e, r = pe[fb][:, tm].sum(), pr[fb][:, tm].sum()
                acc.setdefault((key, lo, hi), []).append((10 * np.log10(e / r), e / pe[:, tm].sum()))
    for (key, lo, hi), v in sorted(acc.items()):
        v = np.array(v)
        print("%-12s %4d-%4d Hz  depth %5.1f dB  echo share %5.1f %%" % (key, lo, hi, v[:, 0].mean(), 100 * v[:, 1].mean()))


def sqrt_hann(n):
    return np.sqrt(get_window("hann", n))


MASKS = [(320, "wiener"), (320, "amplitude"), (1024, "wiener"), (1024, "amplitude")]


def mask_one(args):
    set_dir, lin_dir, case = args
    near, lin = load(set_dir, case, lin_dir)
    res = []
    for n, kind in MASKS:
        w = sqrt_hann(n)
        _, _, nn = spec(near, n, n // 2, w)
        _, _, ll = spec(lin, n, n // 2, w)
        g = np.abs(nn) ** 2 / (np.abs(nn) ** 2 + np.abs(ll - nn) ** 2 + 1e-20)
        if kind == "amplitude":
            g = np.sqrt(g)
        res.append(pesq2(near, synth(g * ll, n, len(near), n // 2, w)))
    return res


GAINS = ["ours (resynthesised)", "max(ours, ideal)", "min(ours, ideal)", "max under 300 Hz", "min under 300 Hz",
         "max from 300 Hz", "min from 300 Hz"]


def gains_one(args):
    set_dir, lin_dir, out_dir, case = args
    near, lin, out = load(set_dir, case, lin_dir, out_dir)
    w = sqrt_hann(320)
    f, _, nn = spec(near, 320, 160, w)
    _, _, ll = spec(lin, 320, 160, w)
    _, _, oo = spec(out, 320, 160, w)
    pn, pd = np.abs(nn) ** 2, np.abs(ll - nn) ** 2
    ideal = pn / (pn + pd + 1e-20)
    ours = np.clip(np.abs(oo) / (np.abs(ll) + 1e-12), 0, 1)
    low = (f < 300)[:, None]
    variants = [ours, np.maximum(ours, ideal), np.minimum(ours, ideal),
                np.where(low, np.maximum(ours, ideal), ours), np.where(low, np.minimum(ours, ideal), ours),
                np.where(~low, np.maximum(ours, ideal), ours), np.where(~low, np.minimum(ours, ideal), ours)]
    return [pesq2(near, synth(g * ll, 320, len(near), 160, w)) for g in variants]


def gain_cells(set_dir, lin_dir, out_dir):
    bands, classes = [(50, 300), (300, 1000), (1000, 4000)], [(-99, -6), (-6, 6), (6, 99)]
    acc = {}
    w = sqrt_hann(320)
    for case in cases(set_dir):
        near, lin, out = load(set_dir, case, lin_dir, out_dir)
        f, t, nn = spec(near, 320, 160, w)
        _, _, ll = spec(lin, 320, 160, w)
        _, _, oo = spec(out, 320, 160, w)
        pn, pd = np.abs(nn) ** 2, np.abs(ll - nn) ** 2
        ideal = 5 * np.log10(pn / (pn + pd + 1e-20) + 1e-6)
        ours = 10 * np.log10(np.abs(oo) / (np.abs(ll) + 1e-12) + 1e-3)
        snr = 10 * np.log10((pn + 1e-20) / (pd + 1e-20))
        tm = (t >= DT[0]) & (t < DT[1])
        active = pn.sum(0) > pn[:, tm].sum(0).max() * 1e-3
        for b in bands:
            fb = (f >= b[0]) & (f < b[1])
            for c in classes:
                m = fb[:, None] & (tm & active)[None, :] & (snr >= c[0]) & (snr < c[1])
                a = acc.setdefault((b, c), [0, 0.0, 0.0])
                a[0] += m.sum()
                a[1] += ours[m].sum()
                a[2] += ideal[m].sum()
    print("double talk, near-active frames; near-to-residual ratio after the linear filter; amplitude gains dB")
    for (b, c), a in acc.items():
        print("%4d-%4d Hz  ratio %+3d..%+3d dB  cells %6d  ours %6.1f  ideal %6.1f" % (b[0], b[1], c[0], c[1], a[0], a[1] / a[0], a[2] / a[0]))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    what, set_dir, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    items = [(set_dir, *dirs, c) for c in cases(set_dir)]
    if what == "band":
        report(["none" if b is None else "%d-%d Hz" % b for b in BANDS], pool_map(band_one, items))
    elif what == "time":
        report(["none" if b is None else "%d-%d Hz %s" % (b[0], b[1], w) for b, w in TIMES], pool_map(time_one, items), ("DT",))
    elif what == "depth":
        depth(set_dir, dirs[0])
    elif what == "mask":
        report(["%d-point %s" % m for m in MASKS], pool_map(mask_one, items))
    elif what == "gains":
        report(GAINS, pool_map(gains_one, items))
        gain_cells(set_dir, *dirs[:2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
