#!/opt/lab/bin/python
"""Offline feasibility test (issue 13, session 29): a frequency-domain adaptive Kalman filter
(FDKF; Enzner & Vary 2006, in the partitioned-block state-space form of Kuech et al. 2014) in
place of our canceller's linear filter, on a kit-style AEC set. Not used by any build or test.

It models `nodes/src/apm/aec/filter.rs` at 16 kHz: block (= partition) N = 160 samples (10 ms),
2N = 320-point overlap-save spectra (161 bins), 32 partitions (320 ms, our `max_tail_ms`;
`--parts 16` for our starting 160 ms), the time-domain (gradient) constraint on 4 partitions per
block in rotation as ours does (`--full-constraint` on all of them). The far end is shifted by
the GCC-PHAT direct path of far end against the microphone minus 20 ms (ours starts its filter
20 ms before its delay estimate). State per bin f and partition k: weight W_k(f) and its error
variance P_k(f) (diagonal model). Per block:

    Y = Σ_k W_k X_k, e = d − last N of IFFT(Y), E = FFT([0_N, e])
    Ψ(f)  = β Ψ + (1 − β) max(|E|² − ½ Σ_k P_k |X_k|², floor)   (noise + near end: the error
            with the expected misalignment part removed; β = 0.5 by default, `--beta`)
    μ_k   = P_k / (Σ_j P_j |X_j|² + 2 Ψ)                       (Kalman gain per bin, partition)
    W_k  ← A (W_k + μ_k X_k* E), then the constraint on 4 partitions
    P_k  ← A² (1 − ½ μ_k |X_k|²) P_k + (1 − A²) |W_k|²          (process noise from the filter)

(the ½ is the overlap-save projection: a zero-padded N-sample error holds half of the 2N-point
misalignment energy.) A = 0.9999 by default (`--a`). P starts at `--p0` (0.01; 1.0 and 10
start 5-10 dB shallower, 0.003 slower: it is on the scale of the per-partition |H|² for the
sets' far level and ERL, so it is not level-independent). There is no double-talk detector: the
near end enters Ψ through |E|² and slows the gain. There is no path-change detector either: after
the kit's path change P is small and the filter does not follow (`--reset-at 16 --reset-p 0.1`
resets P at 16 s as an oracle detector would).

The linear output (microphone minus echo estimate, aligned sample for sample with the
microphone, like `rvoip-media process --aec-linear-out`) goes to OUTDIR/<case>.wav, so
`scripts/aec_oracles.py persec SET OUTDIR` and `depth` measure it. `--no-noise` runs on
echo_only + near_clean instead of mic (the kit's noise removed) and also writes that
microphone to OUTDIR/<case>.mic.wav (for running our CLI on the same input). The summary
printed: per case the depth (STFT cells, all bands, as `aec_oracles.py ceiling`) over FST1 5-10 s,
DT 15-22 s, FST2 22-32 s, and the first second from which the per-second depth stays within
3 dB of its 5-10 s mean (convergence) and the first second at 20 dB or more.

    scripts/aec_fdkf.py SET OUTDIR [CASE ...] [--no-noise] [--parts 32] [--a 0.9999]
                        [--beta 0.5] [--p0 0.01] [--full-constraint] [--ours LINDIR]
                        [--reset-at S [--reset-p P]]

`--ours LINDIR` prints our linear filter's figures from LINDIR beside (same measure; with
--no-noise LINDIR must hold our CLI run on OUTDIR/<case>.mic.wav). State (session 29): it works
and was measured on the kit, h7 and h8 (about 2 s a case); figures in BENCHMARKS.md "Session 29
… a frequency-domain Kalman filter". Needs numpy, soundfile and aec_oracles.py beside it.
"""
import argparse
import os
import sys

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aec_oracles import FS, band_depths, cases, direct_path, score  # noqa: E402

N = 160
SPANS = {"FST1": (5.0, 10.0), "DT": (15.0, 22.0), "FST2": (22.0, 32.0)}


def fdkf(far, mic, parts=32, a=0.9999, beta=0.5, p0=0.01, per_block=4, floor=1e-10, reset=None, reset_p=None):
    """Linear output mic − ŷ of the partitioned FDKF (far already aligned)."""
    bins = N + 1
    nb = len(mic) // N
    W = np.zeros((parts, bins), complex)
    P = np.full((parts, bins), p0)
    X = np.zeros((parts, bins), complex)
    psi = np.zeros(bins)
    prev = np.zeros(N)
    out = mic.copy()
    nxt = 0
    a2 = a * a
    for t in range(nb):
        if reset is not None and t == int(reset * FS) // N:
            # oracle path-change detector: the state error variance raised again
            P[:] = reset_p if reset_p is not None else p0
            psi[:] = 0
        cur = far[t * N : (t + 1) * N]
        X[1:] = X[:-1]
        X[0] = np.fft.rfft(np.concatenate([prev, cur]))
        prev = cur
        y = np.fft.irfft((W * X).sum(0))[N:]
        e = mic[t * N : (t + 1) * N] - y
        out[t * N : (t + 1) * N] = e
        E = np.fft.rfft(np.concatenate([np.zeros(N), e]))
        X2 = np.abs(X) ** 2
        mis = (P * X2).sum(0)
        psi = beta * psi + (1 - beta) * np.maximum(np.abs(E) ** 2 - 0.5 * mis, floor)
        mu = P / (mis + 2 * psi + floor)
        W = a * (W + mu * np.conj(X) * E)
        for _ in range(min(per_block, parts)):
            k = nxt
            nxt = (nxt + 1) % parts
            w = np.fft.irfft(W[k])
            w[N:] = 0
            W[k] = np.fft.rfft(w)
        P = a2 * (1 - 0.5 * mu * X2) * P + (1 - a2) * np.abs(W) ** 2
    return out


def per_second(echo, resid):
    out = []
    for s in range(len(echo) // FS):
        e, r = (echo[s * FS : (s + 1) * FS] ** 2).sum(), (resid[s * FS : (s + 1) * FS] ** 2).sum()
        out.append(10 * np.log10(e / r) if e > 1e-9 and r > 0 else np.nan)
    return np.array(out)


def converged(ps):
    """First second from which the per-second depth stays within 3 dB of its 5-10 s mean (to 10 s)."""
    ref = np.nanmean(ps[5:10])
    for s in range(10):
        if np.all(ps[s:10] >= ref - 3):
            return s
    return 10


def figures(echo, mic, lin):
    resid = lin - mic + echo
    d = band_depths(echo, resid, SPANS)
    ps = per_second(echo, resid)
    return [d[k][0] for k in SPANS], (converged(ps), t20(ps)), ps


def t20(ps):
    """First second whose per-second depth reaches 20 dB (10 = not before 10 s)."""
    hit = np.nonzero(np.nan_to_num(ps[:10], nan=-99) >= 20)[0]
    return int(hit[0]) if len(hit) else 10


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir")
    ap.add_argument("out_dir")
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--no-noise", action="store_true")
    ap.add_argument("--parts", type=int, default=32)
    ap.add_argument("--a", type=float, default=0.9999)
    ap.add_argument("--beta", type=float, default=0.5)
    ap.add_argument("--p0", type=float, default=0.01)
    ap.add_argument("--full-constraint", action="store_true")
    ap.add_argument("--ours")
    ap.add_argument("--reset-at", type=float, help="oracle: P back to p0 at this second (the path change)")
    ap.add_argument("--reset-p", type=float, help="with --reset-at: P's value then (default p0)")
    o = ap.parse_args()
    os.makedirs(o.out_dir, exist_ok=True)
    for case in o.cases or cases(o.set_dir):
        d = os.path.join(o.set_dir, case)
        far, mic, echo, near = (score.rd(os.path.join(d, n + ".wav")) for n in ("far", "mic", "echo_only", "near_clean"))
        far = score.fit(far, len(mic))
        if o.no_noise:
            mic = echo + score.fit(near, len(mic))
            sf.write(os.path.join(o.out_dir, case + ".mic.wav"), mic, FS, subtype="FLOAT")
        lag0 = max(direct_path(far, mic) - FS // 50, 0)
        xal = np.concatenate([np.zeros(lag0), far])[: len(far)]
        lin = fdkf(xal, mic, o.parts, o.a, o.beta, o.p0, o.parts if o.full_constraint else 4, reset=o.reset_at, reset_p=o.reset_p)
        sf.write(os.path.join(o.out_dir, case + ".wav"), lin, FS, subtype="FLOAT")
        segs, conv, ps = figures(echo, mic, lin)
        print("%-26s lag0 %4d  FDKF  %5.1f / %5.1f / %5.1f  conv %2d s, 20 dB at %2d s  per s %s" % (
            case, lag0, *segs, *conv, " ".join("%.0f" % v for v in ps)), flush=True)
        if o.ours:
            ol = score.fit(score.rd(os.path.join(o.ours, case + ".wav")), len(mic))
            segs, conv, ps = figures(echo, mic, ol)
            print("%-26s            ours  %5.1f / %5.1f / %5.1f  conv %2d s, 20 dB at %2d s  per s %s" % (
                "", *segs, *conv, " ".join("%.0f" % v for v in ps)), flush=True)


if __name__ == "__main__":
    main()
