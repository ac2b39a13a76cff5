#!/opt/lab/bin/python
"""Measure a G.711 concealment's packet-loss robustness factor Bpl (E-model, ITU-T G.107).

  scripts/plc_bpl.py BIN SCENARIO_DIR [SCENARIO_DIR ...] [--loss 1,2,4,8,16] [--seeds 3]

Each SCENARIO_DIR is a PCMU scenario of the jitter kit (shared/eval/jitter: `ref.wav` and
`stream.pcap`). Its packets are replayed in sequence order at a constant 20 ms spacing (no
jitter, nothing late) with Bernoulli (random) loss at each rate and seed (the first packet
always kept) through `BIN jitter --codec pcmu`. The output is aligned to the reference by one
global cross-correlation lag, then per 2 s chunk within 30 ms as the kit's scorer aligns its
chunks (at a run of losses the buffer may wait and give the wait back later), and scored with
the kit's PESQ (NB, mean over 10 s segments) and MOS -> R conversion (score.py; R capped at
93.2 as there). Ie,eff(P) = R(no loss) - R(P), and Bpl is the least-squares fit of
Ie,eff = 95 * P / (P + Bpl) (P in %, Ie = 0 as for G.711); each rate's mean is also shown with
the Bpl that point alone gives.

Needs the kit's venv (/opt/lab) and `JB_KIT` (default /work/shared/eval/jitter).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.signal as ss

KIT = os.environ.get("JB_KIT", "/work/shared/eval/jitter")
sys.path.insert(0, KIT)
import rtplib  # noqa: E402
import score  # noqa: E402


def stream(scen):
    """The scenario's packets in timestamp order (arrival order may be reordered)."""
    pk = rtplib.read_pcap(os.path.join(scen, "stream.pcap"))
    return sorted(pk, key=lambda p: (p["ts"] - pk[0]["ts"] + 2**31) & 0xFFFFFFFF)


def run(binary, pk, keep, tmp):
    t0 = 1_700_000_000.0
    pkts = [(t0 + 0.02 * i + 0.02, rtplib.rtp_packet(p["seq"], p["ts"], p["ssrc"], p["pt"], p["payload"], p["marker"]))
            for i, p in enumerate(pk) if keep[i]]
    pcap, out = os.path.join(tmp, "s.pcap"), os.path.join(tmp, "o.wav")
    rtplib.write_pcap(pcap, pkts)
    subprocess.run([binary, "jitter", "--pcap", pcap, "--codec", "pcmu", "--out", out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    y, _ = score.readwav(out)
    return y


def align(ref, y):
    c = ss.correlate(y, ref, mode="valid", method="fft") if len(y) >= len(ref) else None
    if c is None:
        y = np.concatenate([y, np.zeros(len(ref) - len(y) + 8000)])
        c = ss.correlate(y, ref, mode="valid", method="fft")
    lag = int(np.argmax(c))
    seg = y[lag:lag + len(ref)]
    return np.concatenate([seg, np.zeros(len(ref) - len(seg))]), lag


def realign(ref, y, fs):
    """Re-aligns `y` (globally aligned) per 2 s chunk within 30 ms, as the kit's scorer
    aligns its chunks: a timeline move (a wait, an acceleration) then costs PESQ only within
    its chunk. Returns the output and how many chunks moved."""
    n, w, moved = 2 * fs, 3 * fs // 100, 0
    pad = np.concatenate([np.zeros(w), y, np.zeros(w)])
    out = y.copy()
    for a in range(0, len(ref) - n + 1, n):
        r = ref[a:a + n]
        if np.sum(r ** 2) < 1e-3 * n * np.mean(ref ** 2):
            continue
        c = ss.correlate(pad[a:a + n + 2 * w], r, mode="valid", method="fft")
        k = int(np.argmax(c))
        moved += k != w
        out[a:a + n] = pad[a + k:a + k + n]
    return out, moved


def fit_bpl(p, ie):
    grid = np.arange(1.0, 200.0, 0.01)
    err = [np.sum((ie - 95.0 * p / (p + b)) ** 2) for b in grid]
    return float(grid[int(np.argmin(err))])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("scen", nargs="+")
    ap.add_argument("--loss", default="1,2,4,8,16")
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    rates = [float(x) for x in a.loss.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scen in a.scen:
            ref, fs = score.readwav(os.path.join(scen, "ref.wav"))
            pk = stream(scen)
            y, lag0 = align(ref, run(a.binary, pk, np.ones(len(pk), bool), tmp))
            r0 = min(score.r_from_mos(score.pesq_score(ref, y, fs)[0]), 93.2)
            print(f"{scen}: no loss lag {lag0} R {r0:.2f}", flush=True)
            for rate in rates:
                for s in range(a.seeds):
                    keep = np.random.default_rng(1000 * s + int(rate * 10)).random(len(pk)) >= rate / 100
                    keep[0] = True
                    y, lag = align(ref, run(a.binary, pk, keep, tmp))
                    y, off = realign(ref, y, fs)
                    mos = score.pesq_score(ref, y, fs)[0]
                    r = min(score.r_from_mos(mos), 93.2)
                    ploss = 100.0 * (1 - keep.mean())
                    rows.append((ploss, r0 - r))
                    print(f"  P {rate:5.1f} % (actual {ploss:5.2f}) seed {s} lag {lag} moved {off} PESQ {mos:.3f} R {r:.2f} "
                          f"Ie,eff {r0 - r:.2f}", flush=True)
    p, ie = np.array([x[0] for x in rows]), np.array([x[1] for x in rows])
    for rate in rates:
        m = np.abs(p - rate) < max(0.5, rate * 0.3)
        if m.any():
            pm, im = p[m].mean(), ie[m].mean()
            print(f"P {rate:5.1f} %: mean Ie,eff {im:6.2f}  (Bpl at this point {pm * (95 - im) / max(im, 1e-6):.1f})")
    print(f"Bpl (least squares, Ie = 0): {fit_bpl(p, ie):.1f}")


if __name__ == "__main__":
    main()
