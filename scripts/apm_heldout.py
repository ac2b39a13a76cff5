#!/opt/lab/bin/python
"""Held-out NS, VAD and AGC sets for issue 13, built with the evaluation kit's generator.

Not used by any build or test: a developer runs it by hand beside the kit, so the voice
processing can be scored on speech, talkers, noises and SNRs it was never tuned on.
It imports the kit's `gen.py` unchanged (its helpers, noise makers, mixing and labelling:
the labels, SNR definition and file layout are the kit's; the NS scenarios are built as its
`gen_ns`: 10 s of speech at -26 dBFS active level, noise mixed at "active speech level /
noise RMS", clean.wav + noisy.wav + meta.json) and only chooses other sources, seeds and
conditions. Output is deterministic for the same numpy/scipy/espeak-ng versions.

    APM_KIT=/path/to/shared/eval/apm APM_WORK=/opt/labwork/apm_h1 scripts/apm_heldout.py h1
    APM_KIT=/path/to/shared/eval/apm APM_WORK=/opt/labwork/apm_h2 scripts/apm_heldout.py h2
    APM_KIT=/path/to/shared/eval/apm APM_WORK=/opt/labwork/apm_k1 scripts/apm_heldout.py k1   # NS only
    /path/to/shared/eval/apm/run.sh --subject NAME 'TEMPLATE' --tasks ns,vad,agc   # with the same APM_WORK

VAD and AGC (session 13):
* h1 - the FSDD digits (all three talkers) speed-perturbed by 0.86x and 1.16x (pitch and
  formants move together, as between talkers), the kit's 8 kHz talker's 100-160 s
  (the kit uses it only for AEC), the 16 kHz talker's first 30 s (the kit's VAD uses 30-60 s);
  noises the kit's VAD set does not use: brown, modulated pink, white at other SNRs, a real
  six-talker babble of continuous speech, a "car" noise (brown, low-passed at 300 Hz, with
  a 30 Hz engine hum and harmonics), mains hum (50 Hz and harmonics) over pink, and pink
  noise whose level steps by +-5-10 dB every 2.5 s. AGC: the 8 kHz talker at six other levels,
  and 5 s blocks alternating 16 dB (-12 / -28 dBFS active).
* h2 - synthetic talkers (espeak-ng, six voices: male and female variants of American,
  British, Scottish and Caribbean English) reading sentences with 0.2-1.4 s pauses, and
  FSDD digits with short pauses (0.1-0.5 s, nearly continuous); noises: pink, white, keyboard,
  modulated, real babble, car, level-stepped pink at SNRs between the kit's. AGC: the
  synthetic talkers at six levels with pink noise 45 dB under the speech, and 4 s blocks
  stepping between -8, -20 and -32 dBFS in an irregular order.
* h3 (session 23, made to be scored, not tuned on) - espeak-ng talkers of other accents and
  variants (RP, Lancaster, West Midlands, American, Caribbean), FSDD digits at 0.93x / 1.08x
  speed with 0.2-1.0 s pauses, the 8 kHz talker's last 9 s; noises at other SNRs (brown, mains,
  real babble, keyboard, stepped pink, car, pink, modulated, white). AGC: the new talkers at six
  levels over pink noise 40 dB under, and 3 s blocks stepping irregularly over 20 dB.
NS (session 21; generated after the VAD and AGC scenarios, from seeds of their own, so those
files are the same as session 13's): 24 scenarios per set, named ns_<noise>_snrNN as the
kit's, so its per-noise-type summary groups them (its "NS by SNR" table lists only 0/5/10/20 dB
and leaves the real babble out); six noises at four SNRs each, SNRs 0/3/5/8/10/15/20 spread
over the noises:
* h1 - speech alternating between the 8 kHz talker's 100-160 s (six 10 s segments, each
  used twice) and fresh 10 s sequences of speed-perturbed (0.86x / 1.16x) FSDD digits;
  the kit's NS speech (the 16 kHz talker's 2-52 s) is not used. Noises: real babble, car,
  mains hum over pink, level-stepped pink, white, modulated pink.
* h2 - 10 s of the espeak-ng talkers per scenario (sentences with 0.2-1.4 s pauses).
* h3 - h3's talkers (two scenarios in three) and its digits (one in three); noises real babble,
  brown, keyboard, modulated, car and mains at SNRs of their own.
  Noises: real babble, car, mains hum over pink, level-stepped pink, white, keyboard.
* k1, k2 (session 25, NS only) - the kit's NS recipe exactly (its six noise makers, SNRs
  0/5/10/20 dB, 10 s, -26 dBFS) with other seeds, on other speech: espeak-ng talkers of
  voices h2/h3 do not use (two scenarios in three; k1's voices are not k2's) and FSDD digit
  sequences (one in three). k1 is for development; k2 is scored, not tuned on.
The real babble's talkers (the 8 kHz talker's first 100 s, the 16 kHz talker's last 30 s)
are never the scenario's own speech.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.signal as ss

KIT = os.environ.get("APM_KIT", "/work/shared/eval/apm")
sys.path.insert(0, KIT)
import gen as G  # noqa: E402  (the kit's generator, unchanged)

FS = G.FS


# ----------------------------------------------------------------------------- sources
def speed(x, factor):
    """Plays `x` `factor` times faster (resampling): pitch and formants scale together."""
    up, down = {0.86: (43, 50), 0.93: (93, 100), 1.08: (27, 25), 1.16: (29, 25)}[factor]
    return ss.resample_poly(x, down, up)


def digit_sequence(rng, dur, factors, gap=(0.3, 1.5)):
    """Like the kit's `digit_sequence`, with speed-perturbed takes and other pauses."""
    files = G.fsdd_files()
    n = int(dur * FS)
    x = np.zeros(n)
    pos = int(1.0 * FS)
    while True:
        u = G.fsdd(files[rng.integers(len(files))])
        f = factors[rng.integers(len(factors))]
        if f != 1.0:
            u = speed(u, f)
        u = G.set_rms_dbfs(u, -26 + rng.uniform(-6, 6))
        if pos + len(u) >= n - FS // 2:
            break
        x[pos: pos + len(u)] += G.fade(u, 5)
        pos += len(u) + int(rng.uniform(*gap) * FS)
    return x


SENTENCES = [
    "The quarterly report is due on Friday, so please send your figures before noon.",
    "Could you repeat the last number? The line dropped for a second.",
    "We moved the meeting to the small room on the third floor.",
    "Nobody expected the train to be that late on a Sunday evening.",
    "If the heating fails again, call the landlord and keep the receipts.",
    "She said the parcel would arrive between nine and eleven.",
    "My brother bought a second hand bicycle with a broken bell.",
    "Turn left at the bakery, then walk straight on for about five minutes.",
    "The invoice lists twelve items, but only ten were delivered.",
    "Please hold while I transfer you to the billing department.",
    "It rained all morning, and the football match was cancelled.",
    "Remember to bring your passport and a copy of the booking.",
    "The doctor can see you on Tuesday at a quarter past four.",
    "I think the password expired, because the system keeps rejecting it.",
    "Our flight was delayed twice, and we missed the connection in Frankfurt.",
    "Thank you for calling, your feedback really helps us improve.",
]
VOICES = ["en-us+m3", "en-us+f2", "en-gb+m1", "en-gb+f4", "en-gb-scotland+m5", "en-029+f3"]
# h3's talkers: other accents and variants than h2's.
VOICES_H3 = ["en-gb-x-rp+f1", "en-us+m6", "en-gb-x-gbclan+f5", "en-gb-x-gbcwmd+m2", "en-us+f3", "en-029+m4"]


def espeak(text, voice, rate_wpm, pitch):
    with tempfile.NamedTemporaryFile(suffix=".wav") as t:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate_wpm), "-p", str(pitch), "-w", t.name, text],
                       check=True, capture_output=True)
        return G.load(t.name)


def synthetic_speech(rng, dur, voices):
    """Sentences by the given espeak-ng voices with 0.2-1.4 s pauses, `dur` seconds."""
    n = int(dur * FS)
    x = np.zeros(n)
    pos = int(0.8 * FS)
    k = int(rng.integers(len(SENTENCES)))
    while True:
        v = voices[rng.integers(len(voices))]
        u = espeak(SENTENCES[k % len(SENTENCES)], v, int(rng.integers(140, 185)), int(rng.integers(30, 70)))
        k += 1
        u = G.set_active_dbfs(u, -26 + rng.uniform(-4, 4))
        if pos + len(u) >= n - FS // 2:
            break
        x[pos: pos + len(u)] += G.fade(u, 5)
        pos += len(u) + int(rng.uniform(0.2, 1.4) * FS)
    return x


def segment(x, a, b):
    return G.fade(x[int(a * FS): int(b * FS)])


# ----------------------------------------------------------------------------- noises
def real_babble(n, rng, pool, talkers=6):
    """`talkers` continuous-speech streams from random offsets of the pool (its recordings
    longer than `n`), equal RMS."""
    out = np.zeros(n)
    pool = [s for s in pool if len(s) > n]
    for _ in range(talkers):
        s = pool[rng.integers(len(pool))]
        off = int(rng.integers(0, len(s) - n))
        out += G.set_rms_dbfs(s[off: off + n], -20 + rng.uniform(-3, 3))
    return out / np.std(out)


def car(n, rng):
    b = G.colored_noise(n, "brown", rng)
    lo = ss.lfilter(*ss.butter(2, 300 / (FS / 2)), b)
    t = np.arange(n) / FS
    f0 = 30 * (1 + 0.05 * np.sin(2 * np.pi * 0.1 * t))
    ph = 2 * np.pi * np.cumsum(f0) / FS
    hum = sum(np.sin(k * ph + rng.uniform(0, 6.3)) / k for k in range(1, 6))
    y = lo / np.std(lo) + 0.3 * hum / np.std(hum)
    return y / np.std(y)


def mains(n, rng):
    t = np.arange(n) / FS
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5, 7))
    y = hum / np.std(hum) + 0.3 * G.colored_noise(n, "pink", rng)
    return y / np.std(y)


def stepped(n, rng):
    """Pink noise whose level steps +-10 dB every 2.5 s (10 ms ramps)."""
    p = G.colored_noise(n, "pink", rng)
    blk = int(2.5 * FS)
    g = np.ones(n)
    for i, s in enumerate(range(0, n, blk)):
        g[s: s + blk] = 10 ** ((10 if i % 2 else -10) * rng.uniform(0.5, 1.0) / 20)
    g = np.convolve(g, np.ones(160) / 160, mode="same")
    y = p * g
    return y / np.std(y)


def noise(kind, n, rng, pool):
    if kind == "realbabble":
        return real_babble(n, rng, pool)
    if kind == "car":
        return car(n, rng)
    if kind == "mains":
        return mains(n, rng)
    if kind == "steppedpink":
        return stepped(n, rng)
    return G.make_noise(kind, n, rng)


# ----------------------------------------------------------------------------- writers
def write_vad(name, clean, kind, snr, rng, pool, src):
    lab, thr = G.vad_labels(clean)
    noisy = G.mix_snr(clean, noise(kind, len(clean), rng, pool), snr)
    d = os.path.join(G.WORK, name)
    G.write(d, "clean.wav", clean)
    G.write(d, "mic.wav", noisy)
    with open(os.path.join(d, "labels.csv"), "w") as f:
        f.write("frame,start_s,speech\n")
        for i, v in enumerate(lab):
            f.write("%d,%.2f,%d\n" % (i, i * 0.01, v))
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"task": "vad", "source": src, "noise": kind, "snr_db": snr, "speech_fraction": float(lab.mean()),
                   "label_threshold_dbfs": float(thr), "label_method": "the kit's vad_labels"}, f, indent=1)
    return name


def write_agc_levels(src, levels, name_prefix, bed_db=None, rng=None):
    out = []
    for lev in levels:
        x = G.set_active_dbfs(src, lev)
        if bed_db is not None:
            x = x + G.set_rms_dbfs(G.colored_noise(len(x), "pink", rng), lev - bed_db)
        name = "%s_level_m%02d" % (name_prefix, -lev)
        d = os.path.join(G.WORK, name)
        G.write(d, "mic.wav", x)
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump({"task": "agc", "input_active_dbfs": lev, "clipped_fraction": G.clip_fraction(x)}, f, indent=1)
        out.append(name)
    return out


def write_agc_jumps(src, block_s, block_db, name, bed_db=None, rng=None):
    x = G.set_active_dbfs(src, max(block_db))
    g = np.ones(len(x))
    blocks = []
    b = int(block_s * FS)
    for i, s in enumerate(range(0, len(x), b)):
        gd = block_db[i % len(block_db)] - max(block_db)
        g[s: s + b] = 10 ** (gd / 20)
        blocks.append({"start_s": s / FS, "end_s": min(len(x), s + b) / FS, "gain_db": gd})
    g = np.convolve(g, np.ones(160) / 160, mode="same")
    x = x * g
    if bed_db is not None:
        x = x + G.set_rms_dbfs(G.colored_noise(len(x), "pink", rng), min(block_db) - bed_db)
    d = os.path.join(G.WORK, name)
    G.write(d, "mic.wav", x)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"task": "agc", "jumps": True, "blocks": blocks, "clipped_fraction": G.clip_fraction(x)}, f, indent=1)
    return [name]


# ----------------------------------------------------------------------------- sets
def vad_set(conds, seed, stride, pool):
    """One VAD scenario per `(source name, clean, noise kind, SNR dB)` of `conds`, scenario i
    with its noise from the generator seeded `seed + stride i`; named vad_<source>_<noise>_snrNN
    (snrmNN below 0 dB)."""
    names = []
    for i, (src, clean, kind, snr) in enumerate(conds):
        r = np.random.default_rng(seed + stride * i)
        tag = ("m%02d" % -snr) if snr < 0 else "%02d" % snr
        names.append(write_vad("vad_%s_%s_snr%s" % (src, kind, tag), clean, kind, snr, r, pool, src))
    return names


def babble_pool(A, B):
    """Talkers for the real babble: the 8 kHz talker's first 100 s and the 16 kHz talker's
    last 30 s (neither is the speech of a VAD scenario in these sets)."""
    return [B[: 100 * FS], A[30 * FS:]]


def h1(A, B):
    rng = np.random.default_rng(1301)
    pool = babble_pool(A, B)
    digits = G.set_active_dbfs(digit_sequence(rng, 40.0, (0.86, 1.16)), -26.0)
    sp_b = G.set_active_dbfs(segment(B, 100, 130), -26.0)
    sp_b2 = G.set_active_dbfs(segment(B, 130, 160), -26.0)
    sp_a = G.set_active_dbfs(segment(A, 0, 30), -26.0)
    conds = [
        ("digits", digits, "brown", 0), ("digits", digits, "modulated", 3), ("digits", digits, "white", 12),
        ("digits", digits, "realbabble", 8), ("digits", digits, "car", 0), ("digits", digits, "mains", 6),
        ("digits", digits, "steppedpink", 10),
        ("speechB", sp_b, "realbabble", 5), ("speechB", sp_b, "modulated", 6), ("speechB2", sp_b2, "car", -3),
        ("speechB2", sp_b2, "steppedpink", 8), ("speechA", sp_a, "white", 8), ("speechA", sp_a, "brown", 2),
        ("speechA", sp_a, "mains", 12),
    ]
    vad = vad_set(conds, 1310, 41, pool)
    agc = write_agc_levels(segment(B, 10, 30), [-42, -33, -24, -15, -9, -3], "agc_b")
    agc += write_agc_jumps(segment(B, 40, 80), 5.0, [-12, -28], "agc_jumps_16db")
    return {"vad": vad, "agc": agc}


def h2(A, B):
    rng = np.random.default_rng(1302)
    pool = babble_pool(A, B)
    syn = G.set_active_dbfs(synthetic_speech(rng, 40.0, VOICES), -26.0)
    syn2 = G.set_active_dbfs(synthetic_speech(rng, 30.0, VOICES[::-1]), -26.0)
    fast_digits = G.set_active_dbfs(digit_sequence(rng, 30.0, (1.0, 0.86, 1.16), gap=(0.1, 0.5)), -26.0)
    conds = [
        ("synth", syn, "pink", 15), ("synth", syn, "pink", 2), ("synth", syn, "white", 3), ("synth", syn, "keyboard", 6),
        ("synth", syn, "modulated", 12), ("synth", syn, "realbabble", 10), ("synth2", syn2, "car", 5),
        ("synth2", syn2, "steppedpink", 4), ("synth2", syn2, "brown", 8),
        ("fastdigits", fast_digits, "pink", 7), ("fastdigits", fast_digits, "realbabble", 15),
        ("fastdigits", fast_digits, "white", 20),
    ]
    vad = vad_set(conds, 1320, 43, pool)
    arng = np.random.default_rng(1330)
    src = G.set_active_dbfs(synthetic_speech(arng, 20.0, VOICES), -26.0)
    agc = write_agc_levels(src, [-40, -30, -22, -16, -10, -5], "agc_syn", bed_db=45, rng=arng)
    src = G.set_active_dbfs(synthetic_speech(arng, 36.0, VOICES[::2]), -26.0)
    agc += write_agc_jumps(src, 4.0, [-8, -32, -20, -8, -20, -32, -8, -32, -20], "agc_jumps_24db", bed_db=45, rng=arng)
    return {"vad": vad, "agc": agc}


def h3(A, B):
    rng = np.random.default_rng(1303)
    pool = babble_pool(A, B)
    syn = G.set_active_dbfs(synthetic_speech(rng, 40.0, VOICES_H3), -26.0)
    digits = G.set_active_dbfs(digit_sequence(rng, 30.0, (0.93, 1.08), gap=(0.2, 1.0)), -26.0)
    sp_b = G.set_active_dbfs(segment(B, 160, 169), -26.0)
    conds = [
        ("synth", syn, "brown", 4), ("synth", syn, "mains", 9), ("synth", syn, "realbabble", 6),
        ("synth", syn, "keyboard", 14), ("synth", syn, "steppedpink", 7), ("synth", syn, "car", 11),
        ("digits", digits, "pink", 4), ("digits", digits, "modulated", 9), ("digits", digits, "keyboard", 2),
        ("digits", digits, "realbabble", 12), ("speechB", sp_b, "white", 6), ("speechB", sp_b, "car", 1),
    ]
    vad = vad_set(conds, 1340, 47, pool)
    arng = np.random.default_rng(1350)
    src = G.set_active_dbfs(synthetic_speech(arng, 20.0, VOICES_H3), -26.0)
    agc = write_agc_levels(src, [-45, -36, -27, -19, -12, -6], "agc_syn3", bed_db=40, rng=arng)
    src = G.set_active_dbfs(synthetic_speech(arng, 36.0, VOICES_H3[1::2]), -26.0)
    agc += write_agc_jumps(src, 3.0, [-30, -10, -22, -30, -14, -10, -26, -18, -30, -10, -22, -14], "agc_jumps_20db",
                           bed_db=40, rng=arng)
    return {"vad": vad, "agc": agc}


# ----------------------------------------------------------------------------- NS
# noise -> its four SNRs (dB); every SNR of 0/3/5/8/10/15/20 appears under several noises
NS_H1 = [("realbabble", (3, 8, 15, 20)), ("car", (0, 5, 10, 15)), ("mains", (3, 8, 10, 20)),
         ("steppedpink", (0, 5, 10, 20)), ("white", (3, 5, 8, 15)), ("modulated", (0, 8, 15, 20))]
NS_H2 = [("realbabble", (0, 5, 10, 15)), ("car", (3, 8, 15, 20)), ("mains", (0, 5, 10, 15)),
         ("steppedpink", (3, 8, 15, 20)), ("white", (0, 10, 15, 20)), ("keyboard", (3, 5, 8, 10))]
NS_H3 = [("realbabble", (3, 5, 10, 20)), ("brown", (0, 5, 10, 15)), ("keyboard", (0, 8, 15, 20)),
         ("modulated", (3, 5, 10, 15)), ("car", (0, 3, 8, 20)), ("mains", (5, 8, 15, 20))]


def write_ns(name, clean, kind, snr, rng, pool, src):
    """One scenario as the kit's `gen_ns` writes it: clean.wav, noisy.wav, meta.json."""
    noisy = G.mix_snr(clean, noise(kind, len(clean), rng, pool), snr)
    d = os.path.join(G.WORK, name)
    G.write(d, "clean.wav", clean)
    G.write(d, "noisy.wav", noisy)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"task": "ns", "noise": kind, "snr_db": snr, "snr_definition": "active speech level / noise RMS",
                   "clean_source": src, "clean_active_dbfs": -26.0}, f, indent=1)
    return name


def ns_set(conds, speech, seed, pool):
    """`speech(i, rng)` -> (clean signal of at least 10 s, source description) for scenario i;
    scenario i draws its speech and then its noise from the generator seeded `seed + 37 i`."""
    out = []
    i = 0
    for kind, snrs in conds:
        for snr in snrs:
            r = np.random.default_rng(seed + 37 * i)
            clean, src = speech(i, r)
            clean = G.set_active_dbfs(G.fade(clean[: G.NS_DUR * FS]), -26.0)
            out.append(write_ns("ns_%s_snr%02d" % (kind, snr), clean, kind, snr, r, pool, src))
            i += 1
    return out


def ns_h1(B, pool):
    def speech(i, r):
        if i % 2 == 0:
            a = 100 + 10 * ((i // 2) % 6)
            return B[a * FS: (a + G.NS_DUR) * FS], "silero/aepyx_8k.wav %d-%d s (upsampled)" % (a, a + G.NS_DUR)
        return digit_sequence(r, float(G.NS_DUR), (0.86, 1.16)), "FSDD digits at 0.86x/1.16x speed"
    return ns_set(NS_H1, speech, 2101, pool)


def ns_h2(B, pool):
    def speech(i, r):
        return synthetic_speech(r, float(G.NS_DUR), VOICES), "espeak-ng talkers " + " ".join(VOICES)
    return ns_set(NS_H2, speech, 2201, pool)


def ns_h3(B, pool):
    def speech(i, r):
        if i % 3 == 2:
            return digit_sequence(r, float(G.NS_DUR), (0.93, 1.08), gap=(0.2, 1.0)), "FSDD digits at 0.93x/1.08x speed"
        return synthetic_speech(r, float(G.NS_DUR), VOICES_H3), "espeak-ng talkers " + " ".join(VOICES_H3)
    return ns_set(NS_H3, speech, 2301, pool)


# k1/k2 (session 25): the kit's NS recipe exactly -- its six noise makers (`G.make_noise`, the
# kit's `G.NS_TYPES`) at its SNRs (`G.NS_SNRS`), 10 s, -26 dBFS active -- with other seeds and
# other speech: two scenarios in three espeak-ng talkers (voices neither h2 nor h3 uses, and
# k1's are not k2's), one in three FSDD digit sequences (8 kHz files, resampled to 16 kHz by the
# kit's `load`; k1 plays them at 1.0x/0.93x/1.08x, k2 at 1.0x/0.86x/1.16x). The kit's 16 kHz
# talker is not used. k1 is for development; k2 is scored once at the end, not tuned on.
# (The kit's babble is made of the FSDD takes, so the digit scenarios share talkers with it.)
VOICES_K1 = ["en-us-nyc+m1", "en-gb+f1", "en-gb-x-rp+m4", "en-gb-scotland+f4", "en-029+f5", "en-us+m7"]
VOICES_K2 = ["en-gb-x-gbcwmd+f2", "en-us-nyc+f4", "en-gb+m6", "en-gb-x-gbclan+m3", "en-us+f5", "en-gb-scotland+m2"]
NS_KIT = [(kind, tuple(G.NS_SNRS)) for kind in G.NS_TYPES]


def ns_kit_like(voices, factors, seed):
    def speech(i, r):
        if i % 3 == 2:
            return (digit_sequence(r, float(G.NS_DUR), factors, gap=(0.2, 1.0)),
                    "FSDD digits at %s speed" % "/".join("%.2fx" % f for f in factors))
        return synthetic_speech(r, float(G.NS_DUR), voices), "espeak-ng talkers " + " ".join(voices)
    return lambda B, pool: ns_set(NS_KIT, speech, seed, pool)


# r1 (session 27; its VAD and AGC scenarios: `r1_vad_agc`): the kit's NS recipe exactly (as k1/k2) on recorded speech of talkers
# no other set has: the folder APM_REAL_SPEECH holds 16 kHz WAV files of 10 s or more, one talker
# each (session 27 used the eight SiSEC 2011 "dev1" sources, four female and four male talkers,
# from pyroomacoustics' examples/input_samples/SiSec2011_Speech, git history of LCAV/pyroomacoustics;
# the audio stays outside the repository). Scenario i (noise type i // 4, SNR i mod 4) plays
# file 3i mod N, so with eight talkers each noise type is heard with four talkers of both sexes
# and each talker at more than one SNR; scored, not tuned on.
def ns_real(seed):
    def make(B, pool):
        talkers = recorded_talkers()

        def speech(i, r):
            name, x = talkers[(3 * i) % len(talkers)]
            if len(x) < G.NS_DUR * FS:
                sys.exit("%s is shorter than %d s" % (name, G.NS_DUR))
            return x, "recorded talker " + name
        return ns_set(NS_KIT, speech, seed, pool)
    return make


def recorded_talkers():
    """The 16 kHz recordings in APM_REAL_SPEECH (r1), sorted by name, loaded at the kit's rate."""
    folder = os.environ.get("APM_REAL_SPEECH", "")
    files = sorted(f for f in os.listdir(folder) if f.endswith(".wav")) if folder else []
    if not files:
        sys.exit("r1 needs APM_REAL_SPEECH: a folder of 16 kHz WAV files of recorded speech, 10 s or more each")
    return [(f, G.load(os.path.join(folder, f))) for f in files]


def r1_vad_agc(A, B):
    """r1's VAD and AGC scenarios: the kit's VAD conditions (its digit conditions and its
    speech conditions) on two 40 s sequences of the recorded talkers (every other file each,
    so both hold female and male talkers; a talker change every 10 s), and the kit's AGC
    levels and 5 s level jumps on them."""
    talkers = recorded_talkers()
    pool = babble_pool(A, B)
    seq1 = np.concatenate([G.fade(x) for _, x in talkers[0::2]])
    seq2 = np.concatenate([G.fade(x) for _, x in talkers[1::2]])
    sp1, sp2 = G.set_active_dbfs(seq1, -26.0), G.set_active_dbfs(seq2, -26.0)
    conds = [("talkers1", sp1, kind, snr) for kind, snr in G.VAD_DIGIT_CONDS]
    conds += [("talkers2", sp2, kind, snr) for kind, snr in G.VAD_SPEECH_CONDS]
    vad = vad_set(conds, 2710, 43, pool)
    agc = write_agc_levels(seq2[: 20 * FS], [-42, -33, -24, -15, -9, -3], "agc_r")
    agc += write_agc_jumps(seq1, 5.0, [-12, -28], "agc_jumps_16db")
    return {"vad": vad, "agc": agc}


def no_vad_agc(A, B):
    return {}


SETS = {"h1": (h1, ns_h1), "h2": (h2, ns_h2), "h3": (h3, ns_h3),
        "k1": (no_vad_agc, ns_kit_like(VOICES_K1, (1.0, 0.93, 1.08), 2501)),
        "k2": (no_vad_agc, ns_kit_like(VOICES_K2, (1.0, 0.86, 1.16), 2601)),
        "r1": (r1_vad_agc, ns_real(2701))}


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which not in SETS:
        sys.exit("usage: apm_heldout.py h1|h2|h3|k1|k2|r1  (APM_WORK: output folder, APM_KIT: the kit's apm folder)")
    os.makedirs(G.WORK, exist_ok=True)
    A = G.load(os.path.join(G.DATA, "silero", "test.wav"))
    B = G.load(os.path.join(G.DATA, "silero", "aepyx_8k.wav"))
    vad_agc, ns = SETS[which]
    index = vad_agc(A, B)
    index["ns"] = ns(B, babble_pool(A, B))
    with open(os.path.join(G.WORK, "scenarios.json"), "w") as f:
        json.dump(index, f, indent=1)
    print("wrote", G.WORK, {k: len(v) for k, v in index.items()})


if __name__ == "__main__":
    main()
