#!/opt/lab/bin/python
"""The jitter buffer's held-out set for issue 12, built with the evaluation kit's generator.

Not used by any build or test: a developer runs it by hand beside the kit, so the jitter
buffer is scored on network traces and speech it was never tuned on. It imports the kit's
`gen.py` unchanged and changes only the seeds (scenario i uses 1000 + i, or JB_SEED0 + i: the
sets "seeds 2000+" and "seeds 3000+" in BENCHMARKS.md) and the long speech
sources (the kit's talker and the bundled 8 kHz one, which the kit's `setup.sh` does not copy:
put `shared/audio/speech_en_8k.wav` at `/opt/labdata/silero/aepyx_8k.wav` first).

    JB_KIT=/path/to/shared/eval/jitter JB_WORK=/opt/labwork/jitter_heldout scripts/jitter_heldout.py
    JB_WORK=/opt/labwork/jitter_heldout /path/to/shared/eval/jitter/run.sh --refs   # and --subject ...

`run.sh`/`run.py` find the `scenarios.json` written here and do not regenerate. Session 13
remade it this way and the references reproduced every earlier held-out figure to the digit
(BENCHMARKS.md, "Held-out set").
"""
import os
import sys

sys.path.insert(0, os.environ.get("JB_KIT", "/work/shared/eval/jitter"))
import gen  # noqa: E402  (the kit's generator, unchanged)

gen.SEED0 = int(os.environ.get("JB_SEED0", "1000"))
gen.long_sources = lambda: [
    os.path.join(gen.DATA, "silero", "test.wav"),
    os.path.join(gen.DATA, "silero", "aepyx_8k.wav"),
]
gen.main()
