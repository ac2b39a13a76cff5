#!/opt/lab/bin/python
"""The evaluation kit's VAD labels and mixing over a babble of recorded talkers instead of its
FSDD-digit babble: a held-out check that a VAD change does not only fit the kit's babble.

Not used by any build or test: a developer runs it by hand. It imports the kit's `gen.py`
unchanged (labels, `digit_sequence`, `mix_snr`, file layout) and makes five scenarios: the kit's
digit sequence at 10 / 5 / 0 dB and 30 s of the kit's 16 kHz talker (from a random offset) at
10 / 5 dB, each over the sum of every WAV in APM_REAL_SPEECH (session 41: the eight SiSEC 2011
"dev1" sources), each looped from a random offset at −20 ± 3 dBFS. Session 41 scored it as
`fb41` (SEED 4101): it is where a babble gate that gained on every kit-recipe set lost 0.094 F1
(read speech at 5 dB), BENCHMARKS.md.

    APM_KIT=/path/to/shared/eval/apm APM_REAL_SPEECH=/path/to/talkers \\
        scripts/vad_recorded_babble.py WORKDIR SEED
    APM_WORK=WORKDIR /path/to/shared/eval/apm/run.sh --subject NAME 'TEMPLATE' --tasks vad
"""
import json
import os
import sys

import numpy as np


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    work, seed = sys.argv[1], int(sys.argv[2])
    folder = os.environ.get("APM_REAL_SPEECH", "")
    if not os.path.isdir(folder):
        sys.exit("APM_REAL_SPEECH must name a folder of 16 kHz WAV files of recorded talkers")
    sys.path.insert(0, os.environ.get("APM_KIT", os.path.join(os.path.dirname(__file__), "../../shared/eval/apm")))
    os.environ["APM_WORK"] = work
    import gen
    import soundfile as sf

    gen.WORK = work
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = sorted(f for f in os.listdir(folder) if f.endswith(".wav"))

    def babble(n):
        out = np.zeros(n)
        for f in files:
            u, _ = sf.read(os.path.join(folder, f))
            u = u if u.ndim == 1 else u[:, 0]
            u = u / np.sqrt(np.mean(u**2)) * 10 ** ((-20 + rng.uniform(-3, 3)) / 20)
            k = int(rng.integers(len(u)))
            out += np.tile(np.roll(u, k), n // len(u) + 2)[:n]
        return out / np.std(out)

    digits = gen.set_active_dbfs(gen.digit_sequence(rng), -26.0)
    talker = gen.load(os.path.join(gen.DATA, "silero", "test.wav"))
    start = int(rng.integers(0, 25)) * gen.FS
    speech = gen.set_active_dbfs(gen.fade(talker[start:][: 30 * gen.FS]), -26.0)
    names = []
    for src, clean, snrs in [("digits", digits, [10, 5, 0]), ("speech", speech, [10, 5])]:
        lab, _ = gen.vad_labels(clean)
        for snr in snrs:
            name = "vad_%s_rbabble_snr%02d" % (src, snr)
            d = os.path.join(work, name)
            gen.write(d, "clean.wav", clean)
            gen.write(d, "mic.wav", gen.mix_snr(clean, babble(len(clean)), snr))
            with open(os.path.join(d, "labels.csv"), "w") as f:
                f.write("frame,start_s,speech\n")
                for i, v in enumerate(lab):
                    f.write("%d,%.2f,%d\n" % (i, i * 0.01, v))
            with open(os.path.join(d, "meta.json"), "w") as f:
                json.dump({"task": "vad", "source": src, "noise": "rbabble", "snr_db": snr}, f)
            names.append(name)
    with open(os.path.join(work, "scenarios.json"), "w") as f:
        json.dump({"vad": names}, f, indent=1)
    print("made", names)


if __name__ == "__main__":
    main()
