#!/opt/lab/bin/python
"""Jitter-buffer scenarios outside the evaluation kit's families (issue 12, session 26).

Not used by any build or test: a developer runs it by hand. The kit's generator
(`shared/eval/jitter/gen.py`) makes only 20 ms packets and eight network models; this script
builds scenario directories in exactly the kit's layout (stream.pcap, ref.wav, ref_dec.wav,
meta.json, scenarios.json) for other packet times and other networks, so that the kit's
`run.py` and `score.py` score them unchanged. It imports the kit's `gen.py` and `rtplib.py`
at run time (speech generator, mu-law, pcap writer, libopus decoder) and copies nothing.

    JB_WORK=/opt/labwork/jb_fam26a scripts/jitter_families.py [--seed0 26000] [--only ptime_,pareto]
    JB_WORK=/opt/labwork/jb_fam26a /opt/lab/bin/python /path/to/shared/eval/jitter/run.py \\
        --refs --only fixed60,fixed120,speexdsp --jobs 1
    JB_WORK=/opt/labwork/jb_fam26a /opt/lab/bin/python /path/to/shared/eval/jitter/run.py \\
        --subject NAME 'BIN jitter --pcap {pcap} --codec {codec} --out {out} --stats {stats}' --jobs 1
    scripts/jitter_families.py --table --subject NAME /opt/labwork/jb_fam26a [/opt/labwork/jb_fam26b]

`--table` prints, per family and codec, the subject's R / PESQ / added delay against the best
reference's, failures (non-zero exit, wrong length, no alignment) and absurd delays. A
reference the scenario's meta.json lists in `refs_invalid` is left out of "best reference":
the kit's `jb_speex` reference hard-codes 20 ms frames (span 160/960, decodes 20 ms per
get), so it cannot play other packet times (it zero-fills or conceals most of the audio).

Families (scenario name = codec_family; seed = seed0 + index; length 30 s unless said):
  ptime     PCMU at 10/30/40/60 ms, Opus with 10/40/60 ms frames (one per packet) and
            2x20 ms frames in one packet (libopus repacketizer), each on the kit's moderate
            (gamma mean 15 ms, std 10, FIFO) and heavy (gamma 40/40, independent -> reordering)
            networks. Opus is encoded here through libopus (ctypes) with the kit's settings:
            16 kHz, VOIP, 24 kbit/s, complexity 10, in-band FEC, packet-loss-perc 10.
  pareto    heavy-tailed jitter: Pareto(alpha 2, scale 7.5 ms) extra delay (mean 15 ms,
            infinite variance, capped at 500 ms), FIFO.
  wifi      gamma 3/2 ms jitter; every 100-300 ms the link holds for 20-80 ms and releases
            what was sent meanwhile in one burst (FIFO).
  step      gamma 5/4 ms jitter; a route change +80 ms from 10 s to 20 s, then back (FIFO, so
            the step down arrives as a burst), 40 s.
  bloat     bufferbloat sawtooth: queue delay ramps 0 -> 150 ms over 3-6 s, then drops to 0;
            gamma 3/2 ms on top; FIFO.
  loss1 / loss3 / loss10   moderate jitter + Bernoulli loss 1 / 3 / 10 %.
  dup       moderate jitter; 3 % of packets duplicated, the copy 0-20 ms after the original.
  outage    moderate jitter; a 3-10 s outage starting at 12-15 s (no packets; sequence numbers
            and timestamps continue as if sent), 40 s.
  reorder   low jitter (gamma 2/1 ms, FIFO); every 2-5 s one second in which 30 % of packets
            are held until just after their successor arrived (adjacent swaps).
  ssrc      moderate jitter; at 15-25 s the sender changes SSRC, sequence number and timestamp
            base (new random values), same payload type, continuous audio, 40 s.

Speech: the kit's talker (`gen.talk`: utterances of long speech and FSDD digits at -26 dBFS)
with both long sources (the kit's `test.wav` and the bundled 8 kHz `aepyx_8k.wav`, which
must be at /opt/labdata/silero/aepyx_8k.wav as for scripts/jitter_heldout.py) and seeds
26000+, so other excerpts and digit draws than the kit's and the own sets' (only the three
FSDD speakers with takes 0-4 are installed).

meta.json differences from the kit's, so that score.py is unchanged: `frames` and
`pkt_frame` count 20 ms units of audio (the scorer's DTX exclusion works in 20 ms frames;
nothing here is DTX, so every unit is "sent"), `ptime_ms` is the real packet time, and
`pkt_*` lists are per transmitted packet (`pkt_ts_units`, the packet's first 20 ms unit).
"""
import argparse
import ctypes
import json
import os
import sys

import numpy as np

KIT = os.environ.get("JB_KIT", "/work/shared/eval/jitter")
sys.path.insert(0, KIT)
import gen  # noqa: E402  (the kit's generator, unchanged)
import rtplib  # noqa: E402

WORK = os.environ.get("JB_WORK", "/opt/labwork/jb_fam26")
EPOCH = 1_700_000_000.0
BASE = 0.020

gen.long_sources = lambda: [
    os.path.join(gen.DATA, "silero", "test.wav"),
    os.path.join(gen.DATA, "silero", "aepyx_8k.wav"),
]

# (codec, family, network, ptime ms, frames per packet, duration s)
def scenario_list():
    out = []
    for net in ("moderate", "heavy"):
        for p in (10, 30, 40, 60):
            out.append(("pcmu", "ptime%d_%s" % (p, net), net, p, 1, 30))
        for p in (10, 40, 60):
            out.append(("opus", "ptime%d_%s" % (p, net), net, p, 1, 30))
        out.append(("opus", "ptime2x20_%s" % net, net, 40, 2, 30))
    for c in ("pcmu", "opus"):
        for fam in ("pareto", "wifi", "step", "bloat", "loss1", "loss3", "loss10", "dup", "outage", "reorder", "ssrc"):
            dur = 40 if fam in ("step", "outage", "ssrc") else 30
            out.append((c, fam, fam, 20, 1, dur))
    return out


REFS_INVALID_PTIME = ["speexdsp", "speexdsp-nofec"]


# ----------------------------------------------------------------------------- libopus encoder
class OpusEncoder:
    """libopus encoder (ctypes) with the kit's opus_enc.c settings, any frame size."""

    _lib = None

    def __init__(self, fs=16000):
        if OpusEncoder._lib is None:
            L = ctypes.CDLL("/usr/lib/x86_64-linux-gnu/libopus.so.0")
            L.opus_encoder_create.restype = ctypes.c_void_p
            L.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
            L.opus_encode.restype = ctypes.c_int32
            L.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int32]
            L.opus_repacketizer_create.restype = ctypes.c_void_p
            L.opus_repacketizer_init.argtypes = [ctypes.c_void_p]
            L.opus_repacketizer_init.restype = ctypes.c_void_p
            L.opus_repacketizer_cat.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32]
            L.opus_repacketizer_out.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32]
            L.opus_repacketizer_out.restype = ctypes.c_int32
            OpusEncoder._lib = L
        L = OpusEncoder._lib
        err = ctypes.c_int(0)
        self.st = L.opus_encoder_create(fs, 1, 2048, ctypes.byref(err))  # OPUS_APPLICATION_VOIP
        assert err.value == 0
        for req, val in ((4002, 24000), (4010, 10), (4012, 1), (4014, 10)):  # bitrate, complexity, FEC, plp
            assert L.opus_encoder_ctl(ctypes.c_void_p(self.st), ctypes.c_int(req), ctypes.c_int(val)) == 0
        self.buf = ctypes.create_string_buffer(4000)

    def encode(self, pcm16):
        pcm16 = np.ascontiguousarray(pcm16, dtype=np.int16)
        r = OpusEncoder._lib.opus_encode(self.st, pcm16.ctypes.data, len(pcm16), self.buf, 4000)
        assert r > 0, r
        return self.buf.raw[:r]

    @staticmethod
    def join(frames):
        """One packet holding `frames` (libopus repacketizer)."""
        L = OpusEncoder._lib
        rp = L.opus_repacketizer_create()
        L.opus_repacketizer_init(ctypes.c_void_p(rp))
        keep = [bytes(f) for f in frames]
        for f in keep:
            assert L.opus_repacketizer_cat(rp, f, len(f)) == 0
        out = ctypes.create_string_buffer(8000)
        n = L.opus_repacketizer_out(rp, out, 8000)
        assert n > 0, n
        return out.raw[:n]


def encode(codec, x, fs, ptime, per_pkt):
    """-> payloads (one per packet), decoded-in-order signal, samples per packet."""
    s16 = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    if codec == "pcmu":
        n = fs * ptime // 1000
        b = rtplib.ulaw_encode(s16)
        pays = [bytes(b[i:i + n]) for i in range(0, len(b) - n + 1, n)]
        return pays, rtplib.ulaw_decode(b[:len(pays) * n]), n
    fr = fs * ptime // per_pkt // 1000
    enc = OpusEncoder(fs)
    frames = [enc.encode(s16[i:i + fr]) for i in range(0, len(s16) - fr + 1, fr)]
    frames = frames[:len(frames) // per_pkt * per_pkt]
    if per_pkt == 1:
        pays = frames
    else:
        pays = [OpusEncoder.join(frames[i:i + per_pkt]) for i in range(0, len(frames), per_pkt)]
    dec = rtplib.OpusDecoder(fs)
    out = np.concatenate([dec.decode(q) for q in pays])
    assert len(out) == len(pays) * fr * per_pkt, (len(out), len(pays), fr)
    return pays, out, fr * per_pkt


# ----------------------------------------------------------------------------- networks
def network(net, send_rel, rng, ptime):
    """-> extra delay (s), loss mask, fifo flag, duplicate mask, description."""
    n = len(send_rel)
    loss = np.zeros(n, bool)
    dup = np.zeros(n, bool)
    fifo = True
    if net == "moderate":
        extra, desc = gen.gamma(rng, n, 15.0, 10.0), "gamma mean 15 ms std 10, FIFO"
    elif net == "heavy":
        extra, desc = gen.gamma(rng, n, 40.0, 40.0), "gamma mean 40 ms std 40, independent (reordering)"
        fifo = False
    elif net == "pareto":
        extra = np.minimum(0.0075 * (rng.pareto(2.0, n) + 1.0), 0.5)
        desc = "Pareto alpha 2 scale 7.5 ms (mean 15 ms), capped 500 ms, FIFO"
    elif net == "wifi":
        extra = gen.gamma(rng, n, 3.0, 2.0)
        t = rng.uniform(0.1, 0.3)
        while t < send_rel[-1] + 1:
            h = rng.uniform(0.020, 0.080)
            m = (send_rel >= t) & (send_rel < t + h)
            extra[m] = np.maximum(extra[m], t + h - send_rel[m])
            t += h + rng.uniform(0.1, 0.3)
        desc = "gamma 3/2 ms; every 100-300 ms a 20-80 ms hold released as a burst, FIFO"
    elif net == "step":
        extra = gen.gamma(rng, n, 5.0, 4.0)
        extra[(send_rel >= 10) & (send_rel < 20)] += 0.080
        desc = "gamma 5/4 ms; +80 ms route change 10-20 s, then back; FIFO"
    elif net == "bloat":
        extra = gen.gamma(rng, n, 3.0, 2.0)
        t = rng.uniform(0, 2)
        while t < send_rel[-1]:
            r = rng.uniform(3, 6)
            m = (send_rel >= t) & (send_rel < t + r)
            extra[m] += 0.150 * (send_rel[m] - t) / r
            t += r
        desc = "sawtooth queue 0 -> 150 ms over 3-6 s then drop; gamma 3/2 ms; FIFO"
    elif net.startswith("loss"):
        p = int(net[4:]) / 100.0
        extra = gen.gamma(rng, n, 15.0, 10.0)
        loss = rng.random(n) < p
        desc = "moderate jitter + Bernoulli loss %d %%" % int(net[4:])
    elif net == "dup":
        extra = gen.gamma(rng, n, 15.0, 10.0)
        dup = rng.random(n) < 0.03
        desc = "moderate jitter, 3 % duplicates 0-20 ms after the original"
    elif net == "outage":
        extra = gen.gamma(rng, n, 15.0, 10.0)
        a = rng.uniform(12, 15)
        loss = (send_rel >= a) & (send_rel < a + rng.uniform(3, 10))
        desc = "moderate jitter; outage %.1f s from %.1f s (seq/ts continue)" % (loss.sum() * ptime / 1000, a)
    elif net == "reorder":
        extra = gen.gamma(rng, n, 2.0, 1.0)
        desc = "gamma 2/1 ms FIFO; 1 s bursts every 2-5 s with 30 % adjacent swaps"
    elif net == "ssrc":
        extra = gen.gamma(rng, n, 15.0, 10.0)
        desc = "moderate jitter; SSRC/seq/ts change mid-stream"
    else:
        raise ValueError(net)
    return extra, loss, fifo, dup, desc


def make(idx, seed0, codec, fam, net, ptime, per_pkt, dur):
    name = "%s_%s" % (codec, fam)
    seed = seed0 + idx
    rng = np.random.default_rng(seed)
    pt, clock, fs, _ = rtplib.CODECS[codec]
    x = gen.talk(dur, fs, rng)
    pays, dec, spp = encode(codec, x, fs, ptime, per_pkt)
    npk = len(pays)
    x = x[:npk * spp]
    step = clock * ptime // 1000
    ts0 = int(rng.integers(0, 2 ** 31))
    seq0 = int(rng.integers(0, 30000))
    ssrc = int(rng.integers(1, 2 ** 32 - 1))
    send_rel = np.arange(npk) * ptime / 1000.0
    extra, loss, fifo, dup, desc = network(net, send_rel, rng, ptime)
    S0 = EPOCH + 1000.0 * seed + rng.uniform(0, 1)
    send = S0 + send_rel
    arr = send + BASE + extra
    if fifo:
        for i in range(1, len(arr)):
            arr[i] = max(arr[i], arr[i - 1] + 5e-5)
    if net == "reorder":
        t = rng.uniform(2, 5)
        while t < send_rel[-1]:
            i = int(np.searchsorted(send_rel, t))
            while i + 1 < npk and send_rel[i] < t + 1.0:
                if rng.random() < 0.3:
                    arr[i] = max(arr[i], arr[i + 1]) + 1e-4  # held behind its successor
                    i += 2
                else:
                    i += 1
            t += 1.0 + rng.uniform(2, 5)
    arr = np.round(arr * 1e6) / 1e6
    # RTP header per packet (an SSRC change renumbers what follows)
    ssrcs = np.full(npk, ssrc, dtype=np.int64)
    seqs = seq0 + np.arange(npk)
    tss = ts0 + np.arange(npk, dtype=np.int64) * step
    change = None
    if net == "ssrc":
        change = int(np.searchsorted(send_rel, rng.uniform(15, 25)))
        ssrc2 = int(rng.integers(1, 2 ** 32 - 1))
        seq2, ts2 = int(rng.integers(0, 30000)), int(rng.integers(0, 2 ** 31))
        ssrcs[change:] = ssrc2
        seqs[change:] = seq2 + np.arange(npk - change)
        tss[change:] = ts2 + np.arange(npk - change) * step
    pk = []
    for j in range(npk):
        if loss[j]:
            continue
        rtp = rtplib.rtp_packet(int(seqs[j]), int(tss[j]), int(ssrcs[j]), pt, pays[j], marker=(j == 0 or j == change))
        pk.append((arr[j], rtp, j))
        if dup[j]:
            pk.append((round(arr[j] + rng.uniform(0, 0.020), 6), rtp, j))
    pk.sort(key=lambda z: (z[0], z[2]))
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    rtplib.write_pcap(os.path.join(d, "stream.pcap"), [(a, r) for a, r, _ in pk])
    gen.write_wav(os.path.join(d, "ref.wav"), x, fs)
    gen.write_wav(os.path.join(d, "ref_dec.wav"), dec, fs)
    for f in ("ceiling.json",):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    owd = (arr - send)[~loss]
    order = [z[2] for z in pk]
    units = len(x) // (fs // 50)
    meta = {
        "name": name, "codec": codec, "payload_type": pt, "clock_rate": clock, "decode_rate": fs, "ptime_ms": ptime,
        "frames_per_packet": per_pkt, "condition": fam, "network": net, "condition_desc": desc, "dtx": False,
        "seed": seed, "set": "families26", "ts0": ts0, "seq0": seq0, "ssrc": ssrc, "sender_ppm": 0.0,
        "ssrc_change_at_packet": change, "duration_s": npk * ptime / 1000.0,
        "first_arrival": float(pk[0][0]), "send0": float(S0),
        "frames": units, "pkt_frame": list(range(units)),
        "packets_sent": int(npk), "packets_lost": int(loss.sum()), "packets_duplicated": int(dup[~loss].sum()),
        "dtx_frames_not_sent": 0,
        "refs_invalid": REFS_INVALID_PTIME if ptime != 20 or per_pkt != 1 else [],
        "net": {"min_owd_ms": float(owd.min() * 1000), "mean_owd_ms": float(owd.mean() * 1000),
                "p95_owd_ms": float(np.percentile(owd, 95) * 1000), "p99_owd_ms": float(np.percentile(owd, 99) * 1000),
                "max_owd_ms": float(owd.max() * 1000), "loss_rate": float(loss.mean()),
                "reordered_arrivals": int(np.sum(np.diff(order) < 0))},
        "pkt_ts_units": [j * ptime // 20 for j in range(npk)], "pkt_send_rel": np.round(send - S0, 7).tolist(),
        "pkt_arrival_rel": [None if loss[j] else round(float(arr[j] - S0), 7) for j in range(npk)],
        "speech_frames_20ms": int(gen.speech_mask(x, fs).sum()),
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=0)
    return name, meta


def generate(args):
    os.makedirs(WORK, exist_ok=True)
    names = []
    keep = tuple(p for p in (args.only or "").split(",") if p)
    for i, (c, fam, net, p, per, dur) in enumerate(scenario_list()):
        name = "%s_%s" % (c, fam)
        if keep and not any(k in name for k in keep):
            continue
        name, m = make(i, args.seed0, c, fam, net, p, per, dur)
        n = m["net"]
        print("%-24s %5.1fs pkts %4d lost %4d dup %3d owd min/mean/p95/max %.0f/%.0f/%.0f/%.0f ms reord %d" % (
            name, m["duration_s"], m["packets_sent"], m["packets_lost"], m["packets_duplicated"], n["min_owd_ms"],
            n["mean_owd_ms"], n["p95_owd_ms"], n["max_owd_ms"], n["reordered_arrivals"]), flush=True)
        names.append(name)
    with open(os.path.join(WORK, "scenarios.json"), "w") as f:
        json.dump({"set": "families26", "scenarios": names}, f, indent=1)


# ----------------------------------------------------------------------------- tables
def table(args):
    refs = ["fixed60", "fixed120", "speexdsp"]
    rows = []  # (family, codec, subj dict, best (name, dict))
    problems = []
    for d in args.sets:
        res = {}
        for r in refs + args.subject:
            p = os.path.join(d, "results-%s.json" % r)
            res[r] = json.load(open(p))["scenarios"] if os.path.exists(p) else {}
        for scen in json.load(open(os.path.join(d, "scenarios.json")))["scenarios"]:
            meta = json.load(open(os.path.join(d, scen, "meta.json")))
            bad = set(meta.get("refs_invalid", []))
            cand = [(r, res[r].get(scen)) for r in refs if r not in bad and ok(res[r].get(scen))]
            best = max(cand, key=lambda z: z[1]["R"]) if cand else (None, None)
            subj = {}
            for s in args.subject:
                m = res[s].get(scen)
                subj[s] = m
                why = failure(m)
                if why:
                    problems.append("%s/%s %s: %s" % (os.path.basename(d), scen, s, why))
            rows.append((meta["condition"], meta["codec"], os.path.basename(d), scen, subj, best))
    w = "%-22s %-5s %3s" % ("family", "codec", "n")
    for s in args.subject:
        w += " | %-22s" % (s[:22] + " R/PESQ/dly")
    w += " | %-26s" % "best ref R/PESQ/dly"
    w += "".join(" | %8s" % ("dR " + s[-5:]) for s in args.subject)
    print(w)
    fams = []
    for r in rows:
        if (r[0], r[1]) not in fams:
            fams.append((r[0], r[1]))
    for fam, codec in fams:
        rs = [r for r in rows if r[0] == fam and r[1] == codec]
        line = "%-22s %-5s %3d" % (fam, codec, len(rs))
        for s in args.subject:
            ms = [r[4][s] for r in rs if ok(r[4][s])]
            line += " | %-22s" % trip(ms)
        bs = [r[5][1] for r in rs if r[5][1]]
        names = sorted({r[5][0] for r in rs if r[5][0]})
        line += " | %-26s" % (trip(bs) + " " + "/".join(n.replace("fixed", "f").replace("speexdsp", "spx") for n in names))
        for s in args.subject:
            dr = [r[4][s]["R"] - r[5][1]["R"] for r in rs if ok(r[4][s]) and r[5][1]]
            line += " | %8s" % ("%+.2f" % np.mean(dr) if dr else "-")
        print(line)
    for s in args.subject:
        dr = [r[4][s]["R"] - r[5][1]["R"] for r in rows if ok(r[4][s]) and r[5][1]]
        losses = [(r[2], r[3], r[4][s]["R"] - r[5][1]["R"]) for r in rows if ok(r[4][s]) and r[5][1]
                  and r[4][s]["R"] - r[5][1]["R"] < -1.0]
        print("\n%s: mean R %.2f vs best ref %.2f over %d scenario runs; clear losses (> 1 R): %d" % (
            s, np.mean([r[4][s]["R"] for r in rows if ok(r[4][s]) and r[5][1]]),
            np.mean([r[5][1]["R"] for r in rows if ok(r[4][s]) and r[5][1]]), len(dr), len(losses)))
        for L in losses:
            print("   %s/%s %+.2f" % L)
    if problems:
        print("\nfailures / suspicious:")
        for p in problems:
            print("  " + p)


def ok(m):
    return bool(m) and m.get("rc") == 0 and "error" not in m and m.get("R") is not None


def failure(m):
    if not m:
        return "no result"
    if m.get("rc") != 0:
        return "exit %s" % m.get("rc")
    if "error" in m:
        return m["error"]
    if not m.get("length_ok"):
        return "length %s" % m.get("length_samples")
    if m.get("R") is None:
        return "no alignment (R unknown)"
    if (m.get("delay_p95_ms") or 0) > 400:
        return "p95 delay %.0f ms" % m["delay_p95_ms"]
    return None


def trip(ms):
    if not ms:
        return "-"
    return "%.1f/%.2f/%.0f" % (np.mean([m["R"] for m in ms]), np.mean([m["pesq"] for m in ms]),
                               np.mean([m["delay_mean_ms"] for m in ms]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed0", type=int, default=26000)
    ap.add_argument("--only", help="comma-separated substrings of scenario names to generate")
    ap.add_argument("--table", action="store_true", help="print the per-family table of scored sets")
    ap.add_argument("--subject", action="append", default=[])
    ap.add_argument("sets", nargs="*")
    args = ap.parse_args()
    if args.table:
        table(args)
    else:
        generate(args)


if __name__ == "__main__":
    main()
