#!/opt/lab/bin/python
"""Held-out AEC sets for issue 13, built with the evaluation kit's generator.

Not used by any build or test: a developer runs it by hand beside the kit, so the echo
canceller is scored on rooms, delays, talkers and loudspeakers it was never tuned on. It
imports the kit's `gen.py` unchanged, adds rooms and chooses other scenarios, seeds and
talkers (session 13's figures: BENCHMARKS.md, "AEC, session 13").

    APM_KIT=/path/to/shared/eval/apm APM_WORK=/opt/labwork/apm_aec_h1 scripts/aec_heldout.py h1
    APM_WORK=/opt/labwork/apm_aec_h1 /path/to/shared/eval/apm/run.sh --subject NAME \
        'rvoip-media process --mic {mic} --far {far} {flags} --out {out}' --tasks aec

(the same for h2, h3 and h4). Each set has 8 scenarios on the kit's timeline (far single 0-10 s,
near single 10-15, double talk 15-22, far single 22-32; a path change at 16 s, inside double
talk). Sources:
  A = the 16 kHz speaker (silero/test.wav), B = the 8 kHz speaker (aepyx_8k.wav, upsampled),
  D(spk) = FSDD digits of one speaker (george / jackson / lucas) in random order with
           0.3-1.5 s pauses (gen.digit_sequence, 60 s), a narrowband near talker with pauses.
h1: far end B; near ends A (4 cases) and D (4 cases); rooms ra-rd.
h2: far end A; near ends B (4) and D (4); rooms re-rh; two nonlinear loudspeakers, two path
    changes.
h6 (session 27): made to be scored, not tuned on, with recorded talkers no other set has: far and
    near ends from the folder APM_REAL_SPEECH (session 27: the eight SiSEC 2011 "dev1" sources,
    four female and four male talkers, 10 s each, from the git history of LCAV/pyroomacoustics,
    examples/input_samples/SiSec2011_Speech; the audio stays outside the repository), one gender
    at each end, the talker changing every 10 s; rooms ru-rx, delays 40-400 ms, three nonlinear
    loudspeakers (one with white noise), a path change inside double talk, a loud echo.
h7 (session 27): the kit's eight cases exactly, with h6's recorded talkers and other seeds (the
    two ends of opposite sexes); h8 the same with both ends of the same sex.
h9 (session 43): h7 with the ends' sexes swapped and fresh seeds (4301-4308); a check set.
h10 (session 44): h7's recipe with fresh seeds (4401-4408); a check set.
h11 (session 45): h7's recipe with fresh seeds (4501-4508); a check set.
h12 (session 46): h7's recipe with fresh seeds (4601-4608); a check set.
h3: far end A or B; near ends B, A and D; rooms ri-rl; nonlinear loudspeaker + path change
    mixed, louder noise.
h5 (session 23): a set made to be scored, not tuned on: rooms rq-rt, delays 35-360 ms, far ends
    A, B and D; three nonlinear loudspeakers (one with white noise), one path change (inside
    double talk), one loud echo with a paused far end.
h4 (session 21): rooms rm-rp (RT60 design 0.22-0.43, measured 0.22-0.58), delays 45-450 ms;
    far end A (4), B (2) or D (2: a paused narrowband far end); near ends B, D and A; two
    nonlinear loudspeakers, one path change (inside double talk), one loud echo.
"""
import os
import sys

sys.path.insert(0, os.environ.get("APM_KIT", "/work/shared/eval/apm"))
import numpy as np  # noqa: E402
import gen  # noqa: E402

gen.ROOMS.update({
    # name: (dims, Sabine RT60 design value, loudspeaker pos, mic pos)
    "ra": ([3.6, 3.0, 2.5], 0.14, [1.0, 1.2, 0.9], [1.6, 1.7, 1.0]),
    "rb": ([5.2, 4.3, 2.7], 0.33, [1.4, 2.8, 1.1], [2.5, 2.2, 1.2]),
    "rc": ([6.5, 4.8, 3.1], 0.42, [3.0, 1.2, 1.0], [3.6, 2.0, 1.3]),
    "rd": ([8.0, 6.5, 3.4], 0.5, [2.2, 2.0, 1.2], [3.8, 3.1, 1.2]),
    "re": ([4.4, 3.8, 2.6], 0.22, [2.9, 1.0, 1.1], [2.3, 1.6, 1.1]),
    "rf": ([5.8, 4.0, 2.9], 0.3, [1.2, 1.0, 1.3], [2.0, 1.9, 1.0]),
    "rf2": ([5.8, 4.0, 2.9], 0.3, [4.0, 3.0, 1.0], [2.0, 1.9, 1.0]),
    "rg": ([7.2, 5.5, 3.0], 0.38, [4.5, 2.5, 1.0], [3.4, 3.3, 1.4]),
    "rh": ([6.0, 6.0, 3.3], 0.55, [1.5, 4.4, 1.2], [2.6, 3.5, 1.1]),
    "ri": ([4.0, 4.6, 2.7], 0.18, [2.0, 3.6, 1.0], [2.4, 2.8, 1.2]),
    "rj": ([5.0, 5.6, 2.8], 0.28, [3.5, 1.4, 1.2], [2.6, 2.1, 1.0]),
    "rk": ([6.8, 5.2, 3.2], 0.4, [1.6, 1.5, 1.4], [2.8, 2.4, 1.2]),
    "rl": ([7.5, 6.2, 3.0], 0.48, [5.5, 4.2, 1.1], [4.4, 3.4, 1.3]),
    "rm": ([3.3, 2.9, 2.4], 0.22, [0.8, 2.1, 1.0], [1.9, 1.5, 1.1]),
    "rn": ([5.6, 3.6, 2.6], 0.26, [4.6, 2.7, 1.2], [3.1, 1.8, 1.0]),
    "rn2": ([5.6, 3.6, 2.6], 0.26, [1.0, 0.8, 1.4], [3.1, 1.8, 1.0]),
    "ro": ([6.3, 5.1, 3.0], 0.36, [1.9, 4.0, 0.9], [3.5, 3.2, 1.3]),
    "rp": ([9.0, 7.2, 3.6], 0.43, [6.8, 2.2, 1.3], [5.0, 3.9, 1.2]),
    "rq": ([3.9, 3.2, 2.5], 0.17, [2.8, 0.7, 1.0], [1.5, 1.9, 1.2]),
    "rr": ([5.4, 4.6, 2.8], 0.31, [0.9, 3.8, 1.3], [2.9, 2.6, 1.1]),
    "rr2": ([5.4, 4.6, 2.8], 0.31, [4.6, 0.8, 1.0], [2.9, 2.6, 1.1]),
    "rs": ([7.0, 4.4, 3.1], 0.39, [5.9, 3.5, 1.1], [3.7, 2.0, 1.3]),
    "rt": ([8.5, 6.8, 3.5], 0.52, [1.3, 5.9, 1.2], [4.6, 3.8, 1.0]),
    # h6 (session 27)
    "ru": ([4.8, 3.4, 2.6], 0.2, [1.1, 2.5, 1.0], [2.0, 1.6, 1.1]),
    "rv": ([6.2, 5.1, 2.8], 0.36, [5.0, 1.3, 1.2], [3.9, 2.4, 1.0]),
    "rw": ([7.5, 6.0, 3.2], 0.48, [1.6, 4.9, 1.1], [3.0, 3.6, 1.3]),
    "rw2": ([7.5, 6.0, 3.2], 0.48, [6.2, 1.4, 1.0], [3.0, 3.6, 1.3]),
    "rx": ([5.4, 4.2, 3.0], 0.27, [2.7, 3.6, 1.4], [2.2, 2.2, 1.0]),
})

# name, room, delay_ms, tanh_drive, (noise kind, dBFS), SER dB, room after the change,
# far source, near source, seed
SETS = {
    "h1": [
        ("aec_d60_ra", "ra", 60, 0, ("brown", -52), 0, None, "B", "A", 801),
        ("aec_d180_rb", "rb", 180, 0, ("pink", -58), 0, None, "B", "D:george", 802),
        ("aec_d320_rc", "rc", 320, 0, ("pink", -55), 0, None, "B", "D:jackson", 803),
        ("aec_d500_rd", "rd", 500, 0, ("brown", -50), 0, None, "B", "A", 804),
        ("aec_d90_rb_nl", "rb", 90, 2.2, ("pink", -56), 0, None, "B", "D:lucas", 805),
        ("aec_d250_rc_nl_white45", "rc", 250, 2.5, ("white", -45), 0, None, "B", "A", 806),
        ("aec_d200_pathchange", "rb", 200, 0, ("pink", -55), 0, "rd", "B", "A", 807),
        ("aec_d60_rc_loudecho", "rc", 60, 0, ("brown", -50), -8, None, "B", "D:george", 808),
    ],
    "h2": [
        ("aec_d110_rh_nl", "rh", 110, 2.8, ("pink", -52), -2, None, "A", "B", 131),
        ("aec_d160_re_loudecho", "re", 160, 0, ("brown", -48), -9, None, "A", "D:jackson", 132),
        ("aec_d220_rf_nl_white48", "rf", 220, 2.0, ("white", -48), 0, None, "A", "B", 133),
        ("aec_d260_rf", "rf", 260, 0, ("pink", -60), 3, None, "A", "D:lucas", 134),
        ("aec_d300_pathchange", "re", 300, 0, ("pink", -56), 0, "rf2", "A", "B", 135),
        ("aec_d380_pathchange", "rh", 380, 0, ("brown", -54), -3, "rg", "A", "D:george", 136),
        ("aec_d40_rh", "rh", 40, 0, ("white", -58), 3, None, "A", "B", 137),
        ("aec_d70_rg", "rg", 70, 0, ("pink", -50), -5, None, "A", "D:jackson", 138),
    ],
    "h3": [
        ("aec_d80_ri", "ri", 80, 0, ("pink", -50), -4, None, "A", "B", 301),
        ("aec_d140_rj_nl", "rj", 140, 2.4, ("brown", -55), 0, None, "B", "A", 302),
        ("aec_d230_rk_pathchange", "rk", 230, 0, ("pink", -52), 0, "rl", "A", "D:lucas", 303),
        ("aec_d350_rl", "rl", 350, 0, ("white", -55), 2, None, "B", "D:george", 304),
        ("aec_d120_rj_pathchange_nl", "rj", 120, 2.0, ("pink", -57), -2, "ri", "B", "A", 305),
        ("aec_d50_rk_loudecho", "rk", 50, 0, ("pink", -48), -10, None, "A", "B", 306),
        ("aec_d280_ri_nl_white50", "ri", 280, 2.6, ("white", -50), 0, None, "A", "D:jackson", 307),
        ("aec_d420_rk", "rk", 420, 0, ("brown", -47), -1, None, "B", "A", 308),
    ],
    "h4": [
        ("aec_d45_rm", "rm", 45, 0, ("pink", -57), 0, None, "A", "B", 401),
        ("aec_d150_rn_nl", "rn", 150, 2.3, ("brown", -53), -1, None, "A", "D:jackson", 402),
        ("aec_d270_ro", "ro", 270, 0, ("pink", -54), 1, None, "A", "B", 403),
        ("aec_d450_rp", "rp", 450, 0, ("pink", -56), 0, None, "B", "D:lucas", 404),
        ("aec_d190_rn_pathchange", "rn", 190, 0, ("pink", -55), -1, "rn2", "A", "B", 405),
        ("aec_d330_rp_loudecho", "rp", 330, 0, ("brown", -49), -7, None, "D:george", "A", 406),
        ("aec_d100_ro_nl_white47", "ro", 100, 1.8, ("white", -47), 0, None, "B", "A", 407),
        ("aec_d380_rm", "rm", 380, 0, ("pink", -59), 2, None, "D:lucas", "B", 408),
    ],
    "h5": [
        ("aec_d70_rq_nl", "rq", 70, 2.1, ("pink", -54), -1, None, "B", "A", 501),
        ("aec_d130_rr", "rr", 130, 0, ("brown", -51), 0, None, "A", "D:george", 502),
        ("aec_d210_rs_nl_white46", "rs", 210, 2.4, ("white", -46), 0, None, "A", "B", 503),
        ("aec_d290_rt", "rt", 290, 0, ("pink", -53), -2, None, "B", "A", 504),
        ("aec_d160_rr_pathchange", "rr", 160, 0, ("pink", -56), 1, "rr2", "B", "D:lucas", 505),
        ("aec_d360_rs_loudecho", "rs", 360, 0, ("brown", -52), -8, None, "D:jackson", "B", 506),
        ("aec_d35_rq", "rq", 35, 0, ("white", -56), 2, None, "A", "D:jackson", 507),
        ("aec_d240_rt_nl", "rt", 240, 1.9, ("brown", -49), -3, None, "B", "A", 508),
    ],
    "h6": [
        ("aec_d55_ru", "ru", 55, 0, ("pink", -55), 0, None, "R:female", "R:male", 601),
        ("aec_d175_rv_nl", "rv", 175, 2.2, ("brown", -52), -1, None, "R:male", "R:female", 602),
        ("aec_d310_rw", "rw", 310, 0, ("pink", -57), 1, None, "R:female", "R:male", 603),
        ("aec_d95_rx_loudecho", "rx", 95, 0, ("brown", -50), -8, None, "R:male", "R:female", 604),
        ("aec_d230_rw_pathchange", "rw", 230, 0, ("pink", -54), 0, "rw2", "R:female", "R:male", 605),
        ("aec_d140_ru_nl_white47", "ru", 140, 2.5, ("white", -47), 0, None, "R:male", "R:female", 606),
        ("aec_d400_rv", "rv", 400, 0, ("white", -56), 2, None, "R:female", "R:male", 607),
        ("aec_d40_rx_nl", "rx", 40, 1.8, ("pink", -51), -2, None, "R:male", "R:female", 608),
    ],
}
# h7 (session 27): the kit's own eight cases (its rooms, delays, loudspeakers, noises and echo
# levels, `gen.AEC_CASES`) with the recorded talkers of h6 and other seeds, so that only the speech
# differs from the kit; the far end alternates between the female and the male group.
SETS["h7"] = [case + (("R:female", "R:male") if i % 2 == 0 else ("R:male", "R:female")) + (701 + i,)
              for i, case in enumerate(gen.AEC_CASES)]
# h8 (session 27): h7 with both ends of the same sex (female talkers at both ends in four cases,
# male in the other four; the two ends' talker orders drawn from other seeds).
SETS["h8"] = [case + (("R:female", "R:female") if i % 2 == 0 else ("R:male", "R:male")) + (801 + i,)
              for i, case in enumerate(gen.AEC_CASES)]
# h9 (session 43): h7's recipe with the ends' sexes swapped (the far end male in the even cases)
# and fresh seeds, a check set for the double-talk step that was never tuned on.
SETS["h9"] = [case + (("R:male", "R:female") if i % 2 == 0 else ("R:female", "R:male")) + (4301 + i,)
              for i, case in enumerate(gen.AEC_CASES)]
# h10 (session 44): h7's recipe (the far end female in the even cases) with fresh seeds
# (4401-4408), a check set for the post-filter's residual-echo learning that was never tuned on.
SETS["h10"] = [case + (("R:female", "R:male") if i % 2 == 0 else ("R:male", "R:female")) + (4401 + i,)
               for i, case in enumerate(gen.AEC_CASES)]
# h11 (session 45): h7's recipe with fresh seeds (4501-4508), a check set for the residual-echo
# ratio's learning in double talk that was never tuned on.
SETS["h11"] = [case + (("R:female", "R:male") if i % 2 == 0 else ("R:male", "R:female")) + (4501 + i,)
               for i, case in enumerate(gen.AEC_CASES)]
# h12 (session 46): h7's recipe with fresh seeds (4601-4608), a check set for the per-bin cue that
# bounds the residual-echo ratio's rise in double talk, made before any variant ran.
SETS["h12"] = [case + (("R:female", "R:male") if i % 2 == 0 else ("R:male", "R:female")) + (4601 + i,)
               for i, case in enumerate(gen.AEC_CASES)]


def recorded(group, seed):
    """The recorded talkers of APM_REAL_SPEECH whose file names contain `group` ("female" / "male"),
    10 s or more each, concatenated in an order drawn from `seed` (a talker change every file)."""
    folder = os.environ.get("APM_REAL_SPEECH", "")
    files = sorted(f for f in os.listdir(folder) if f.endswith(".wav") and "_%s" % group in f) if folder else []
    if len(files) < 2:
        sys.exit("h6 needs APM_REAL_SPEECH: a folder of 16 kHz WAV files of recorded talkers, "
                 "at least two named *_female* and two *_male*")
    order = np.random.default_rng(seed).permutation(len(files))
    return np.concatenate([gen.load(os.path.join(folder, files[k])) for k in order])


def source(spec, A, B, seed):
    """"A", "B", "D:speaker" (60 s of that FSDD speaker's digits with pauses, from `seed`) or
    "R:female" / "R:male" (recorded talkers, `recorded`)."""
    if spec.startswith("R:"):
        return recorded(spec[2:], seed)
    if not spec.startswith("D:"):
        return {"A": A, "B": B}[spec]
    gen.FSDD_SPEAKERS = (spec[2:],)
    x = gen.digit_sequence(np.random.default_rng(seed), 60.0)
    gen.FSDD_SPEAKERS = ("george", "jackson", "lucas")
    return x


def main():
    which = sys.argv[1]
    os.makedirs(gen.WORK, exist_ok=True)
    A = gen.load(os.path.join(gen.DATA, "silero", "test.wav"))
    B = gen.load(os.path.join(gen.DATA, "silero", "aepyx_8k.wav"))
    names = []
    for case in SETS[which]:
        name, room, delay, drive, noise, ser, room2, fsrc, nsrc, seed = case
        near = source(nsrc, A, B, seed + 50_000)
        far = source(fsrc, A, B, seed + 60_000)
        gen.SEED = seed
        gen.AEC_CASES = [(name, room, delay, drive, noise, ser, room2)]
        names += gen.gen_aec(far, near)
    import json
    with open(os.path.join(gen.WORK, "scenarios.json"), "w") as f:
        json.dump({"aec": names}, f, indent=1)


if __name__ == "__main__":
    main()
