#!/opt/lab/bin/python
"""The suppressor at other rates on a kit-style NS set (issue 13: voice processing at every rate
a leg has). Not used by any build or test; a developer runs it by hand beside the kit.

For each ns_* scenario of SET: the noisy file is brought to RATE with the CLI's own `resample`,
`process --ns` runs at that rate, and its output and the noisy input at RATE are brought back to
16 kHz through the same resampler; the figure is the kit's PESQ-WB of the output minus that of
the round-tripped noisy input (so the band limit of 8 kHz costs neither side), mean over the
scenarios, for each binary given.

    APM_KIT=../shared/eval/apm scripts/ns_rates.py /opt/labwork/apm 8000 BIN1 [BIN2 ...]

Session 28's figures: BENCHMARKS.md, voice processing, "Session 28 (… the lead): NS".
"""
import os
import subprocess
import sys
import tempfile
from multiprocessing import Pool

sys.path.insert(0, os.environ.get("APM_KIT", "/work/shared/eval/apm"))
import score  # noqa: E402  (the kit's scorer)


def job(args):
    """One binary on one scenario: the PESQ-WB gain at the set's rate."""
    binary, sc, set_dir, rate, tmp = args
    d, t = os.path.join(set_dir, sc), os.path.join(tmp, os.path.basename(binary) + sc)

    def run(*argv):
        subprocess.run([binary, *argv], check=True, capture_output=True)

    run("resample", "--in", d + "/noisy.wav", "--rate", str(rate), "--out", t + "_in.wav")
    run("process", "--mic", t + "_in.wav", "--ns", "--out", t + "_o.wav")
    run("resample", "--in", t + "_o.wav", "--rate", "16000", "--out", t + "_o16.wav")
    run("resample", "--in", t + "_in.wav", "--rate", "16000", "--out", t + "_n16.wav")
    out = score.score_ns(d, t + "_o16.wav")
    clean = score.rd(d + "/clean.wav")
    noisy = score.fit(score.rd(t + "_n16.wav"), len(clean))
    return binary, out["pesq_wb"] - score.pesq_wb(clean, noisy)


def main():
    set_dir, rate, binaries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    scen = [d for d in sorted(os.listdir(set_dir)) if d.startswith("ns_")]
    tmp = tempfile.mkdtemp(prefix="ns_rates")
    with Pool(2) as p:
        res = p.map(job, [(b, sc, set_dir, rate, tmp) for b in binaries for sc in scen])
    for b in binaries:
        v = [g for name, g in res if name == b]
        print("%s rate %d %s: PESQ-WB gain %+.3f over %d scenarios" % (set_dir, rate, b, sum(v) / len(v), len(v)))


if __name__ == "__main__":
    main()
