#!/opt/lab/bin/python
"""Oracles that say where an AEC output's double-talk and near-end PESQ-WB is lost (issue 13).

Not used by any build or test: a developer runs it by hand beside the evaluation kit, on a
kit-style AEC set (scenarios.json, per case mic.wav, echo_only.wav, near_clean.wav) and a
folder of outputs named <case>.wav (`rvoip-media process --aec --out` on each case; the CLI
aligns its output with the input). Every figure is the kit's PESQ-WB (`score.pesq_wb`, spans
15-22 s double talk, 10-15 s near single talk) of a signal built from the output, means over
the set's cases; session 28's figures: BENCHMARKS.md, voice processing, "Session 28"; the
ceiling and per-second depth: "Session 29 … AEC".

    scripts/aec_oracles.py band  SET OUTDIR          # replace one band of OUTDIR by the clean near end
    scripts/aec_oracles.py time  SET OUTDIR          # ... only in the near's active or pause frames
    scripts/aec_oracles.py depth SET LINDIR          # the linear filter's depth per band and segment
    scripts/aec_oracles.py mask  SET LINDIR          # ideal per-bin gains applied to the linear output
    scripts/aec_oracles.py gains SET LINDIR OUTDIR   # our gains against the ideal, by PESQ and per cell
    scripts/aec_oracles.py ceiling SET [LINDIR]      # least-squares linear filters' depth, beside ours
    scripts/aec_oracles.py persec SET LINDIR         # the linear filter's depth second by second

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
* ceiling: the depth (as in `depth`, all bands and four of them) of least-squares FIR filters
         from the far end to the echo, computed offline from the set's files: 160, 320 and 640 ms
         long, starting 20 ms before the direct path (found by GCC-PHAT of far end and echo) as
         ours starts 20 ms before its delay estimate. Fits: "echo FST1" on the true echo over
         5-10 s (then applied to every segment: room length and nonlinearity alone), "echo seg"
         on the true echo in each segment (in-sample), "mic FST1" on the microphone over 5-10 s
         (adds the noise), "mic seg" on the microphone in each segment (adds the near end in
         double talk), "mic all" on the microphone over the whole file. Normal equations with
         the exact covariance of the fitted span, a ridge of 1e-6 of its power; the 640 ms
         filters only for the "echo" fits (one 10240-tap solve takes ~1 GB and a minute).
         With LINDIR, our linear filter's depth in the same table ("ours"). Takes ~15 min a set.
* persec: 10·log10(Σ echo² / Σ (echo − ŷ)²) over each second (waveform, all bands), per case
         and the mean over the cases: how fast the filter converges and where it settles.
"""
import json
import os
import sys
from multiprocessing import Pool

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.signal import correlate, fftconvolve, get_window, istft, stft

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


CEIL_LENGTHS_MS = (160, 320, 640)
CEIL_FITS = ("echo FST1", "echo seg", "mic FST1", "mic seg", "mic all")
CEIL_BANDS = [(0, 8000), (50, 150), (150, 300), (300, 1000), (1000, 3800)]


def direct_path(x, y):
    """Lag (samples) of the GCC-PHAT peak of y against x: the direct path of the echo."""
    n = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    c = np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n))
    c = np.fft.irfft(c / (np.abs(c) + 1e-12), n)[: FS]
    return int(np.argmax(np.abs(c)))


def ls_fir(x, y, a, b, lag0, taps):
    """FIR h minimising sum over n in [a, b) of (y[n] - sum_k h[k] x[n - lag0 - k])^2: the exact
    normal equations (covariance method; the matrix built row by row from its first row, since
    R[i+1, j+1] = R[i, j] + u[a-1-i] u[a-1-j] - u[b-1-i] u[b-1-j]), ridge 1e-6 of the power, Cholesky."""
    u = np.concatenate([np.zeros(lag0 + taps), x])[: taps + len(x)]  # u[taps + n] = x[n - lag0], zero before
    o = taps
    ua = u[o + a - taps + 1 : o + b]  # x[n - lag0] for n in a - taps + 1 .. b - 1
    r0 = correlate(ua, ua[taps - 1 :], mode="valid", method="fft")[::-1]  # R[0, j]
    p = correlate(ua, y[a:b], mode="valid", method="fft")[::-1]
    va, vb = u[o + a - 1 - np.arange(taps)], u[o + b - 1 - np.arange(taps)]
    m = np.empty((taps, taps))
    m[0] = r0
    for i in range(taps - 1):
        m[i + 1, 1:] = m[i, :-1] + va[i] * va[:-1] - vb[i] * vb[:-1]
        m[i + 1, 0] = r0[i + 1]
    m[np.diag_indices(taps)] += 1e-6 * r0[0] + 1e-12
    return cho_solve(cho_factor(m, overwrite_a=True, check_finite=False), p, check_finite=False)


def ls_predict(x, h, lag0):
    return np.concatenate([np.zeros(lag0), fftconvolve(x, h)])[: len(x)]


def band_depths(echo, resid, spans):
    """{segment: [depth dB per CEIL_BANDS]} as in `depth` (STFT energy sums)."""
    f, t, pe = spec(echo)
    _, _, pr = spec(resid)
    pe, pr = np.abs(pe) ** 2, np.abs(pr) ** 2
    out = {}
    for key, (a, b) in spans.items():
        tm = (t >= a) & (t < b)
        out[key] = [10 * np.log10(pe[(f >= lo) & (f < hi)][:, tm].sum() / pr[(f >= lo) & (f < hi)][:, tm].sum())
                    for lo, hi in CEIL_BANDS]
    return out


def ceiling_one(args):
    set_dir, lin_dir, case = args
    d = os.path.join(set_dir, case)
    far, mic, echo = (score.rd(os.path.join(d, n + ".wav")) for n in ("far", "mic", "echo_only"))
    far = score.fit(far, len(mic))
    spans = {"FST1": (5.0, 10.0), "DT": DT, "FST2": (22.0, 32.0)}
    idx = {k: (int(a * FS), int(b * FS)) for k, (a, b) in spans.items()}
    lag0 = max(direct_path(far, echo) - FS // 50, 0)
    res = {}
    if lin_dir:
        lin = score.fit(score.rd(os.path.join(lin_dir, case + ".wav")), len(mic))
        res[("ours", 0)] = band_depths(echo, lin - mic + echo, spans)
    for ms in CEIL_LENGTHS_MS:
        taps = ms * FS // 1000
        for fit in CEIL_FITS if ms <= 320 else CEIL_FITS[:2]:
            target = echo if fit.startswith("echo") else mic
            if fit.endswith("seg"):
                resid = np.zeros_like(echo)
                for k, (a, b) in idx.items():
                    h = ls_fir(far, target, a, b, lag0, taps)
                    resid[a:b] = (echo - ls_predict(far, h, lag0))[a:b]
            else:
                a, b = idx["FST1"] if fit.endswith("FST1") else (0, len(mic))
                resid = echo - ls_predict(far, ls_fir(far, target, a, b, lag0, taps), lag0)
            res[(fit, ms)] = band_depths(echo, resid, spans)
    return case, lag0, res


def ceiling(set_dir, lin_dir):
    out = pool_map(ceiling_one, [(set_dir, lin_dir, c) for c in cases(set_dir)])
    print("direct path - 20 ms (samples):", " ".join("%s %d" % (c, l) for c, l, _ in out))
    keys = list(out[0][2].keys())
    segs = ("FST1", "DT", "FST2")
    bands = " ".join("%4d-%-4d" % b for b in CEIL_BANDS)
    print("%-16s %s" % ("fit, length", " | ".join("%s: %s" % (s, bands) for s in segs)))
    for key in keys:
        row = []
        for s in segs:
            v = np.array([r[key][s] for _, _, r in out]).mean(0)
            row.append(" ".join("%9.1f" % x for x in v))
        print("%-16s %s" % ("%s %s" % (key[0], key[1] or ""), " | ".join(row)))
    print("per case, all bands, FST1 / DT / FST2:")
    for key in keys:
        print("%-16s %s" % ("%s %s" % (key[0], key[1] or ""),
                            "  ".join("%.1f/%.1f/%.1f" % tuple(r[key][s][0] for s in segs) for _, _, r in out)))


def persec(set_dir, lin_dir):
    rows = []
    for case in cases(set_dir):
        d = os.path.join(set_dir, case)
        mic, echo = score.rd(os.path.join(d, "mic.wav")), score.rd(os.path.join(d, "echo_only.wav"))
        resid = score.fit(score.rd(os.path.join(lin_dir, case + ".wav")), len(mic)) - mic + echo
        row = []
        for s in range(len(mic) // FS):
            e, r = (echo[s * FS : (s + 1) * FS] ** 2).sum(), (resid[s * FS : (s + 1) * FS] ** 2).sum()
            row.append(10 * np.log10(e / r) if e > 1e-9 and r > 0 else np.nan)
        rows.append(row)
        print("%-26s %s" % (case, " ".join("%4.0f" % v for v in row)))
    rows = np.array(rows)
    mean = [np.nan if np.isnan(c).all() else np.nanmean(c) for c in rows.T]
    print("%-26s %s" % ("mean", " ".join("%4.1f" % v for v in mean)))


def main():
    if len(sys.argv) < 4 and sys.argv[1:2] != ["ceiling"]:
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
    elif what == "persec":
        persec(set_dir, dirs[0])
    elif what == "ceiling":
        ceiling(set_dir, dirs[0] if dirs else None)
    elif what == "gains":
        report(GAINS, pool_map(gains_one, items))
        gain_cells(set_dir, *dirs[:2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
