#!/opt/lab/bin/python
"""The evaluation kit's VAD set made again with another seed and another stretch of its talker.

Not used by any build or test: a developer runs it by hand to see what the kit's own VAD
recipe gives on material it was not scored on (issue 13 is judged on a set "built the same way
but with other speech"). It imports the kit's `gen.py` unchanged and calls its `gen_vad` with
`gen.SEED` set to SEED (other FSDD digit sequences, levels and noise realisations) and the 16 kHz
talker shifted so that the three "speech" scenarios take its OFFSET..OFFSET+30 s instead of the
kit's 30-60 s. Labels, SNRs, noise makers and file layout are the kit's.

    APM_KIT=/path/to/shared/eval/apm scripts/vad_kit_reseeded.py SEED OFFSET WORKDIR
    APM_WORK=WORKDIR /path/to/shared/eval/apm/run.sh --subject NAME 'TEMPLATE' --refs --tasks vad

Session 25 scored SEED 1/2/3 with OFFSET 0/10/20 (BENCHMARKS.md, "Session 25 ... the VAD on
three sets built exactly as the kit's").
"""
import json
import os
import sys

import numpy as np


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    seed, offset, work = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    if not 0 <= offset <= 30:
        sys.exit("OFFSET must be 0..30 s (the talker is 60 s long)")
    sys.path.insert(0, os.environ.get("APM_KIT", os.path.join(os.path.dirname(__file__), "../../shared/eval/apm")))
    os.environ["APM_WORK"] = work
    import gen

    gen.WORK, gen.SEED = work, seed
    os.makedirs(work, exist_ok=True)
    talker = gen.load(os.path.join(gen.DATA, "silero", "test.wav"))
    # gen_vad cuts talker[30 s : 60 s]; pad the front so that cut is talker[offset : offset + 30 s].
    pad = np.zeros(int(round((30 - offset) * gen.FS)))
    shifted = np.concatenate([pad, talker])[: 60 * gen.FS]
    names = gen.gen_vad(shifted)
    with open(os.path.join(work, "scenarios.json"), "w") as f:
        json.dump({"vad": names}, f, indent=1)


if __name__ == "__main__":
    main()
