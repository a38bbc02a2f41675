#!/usr/bin/env python3
"""Train a nonlinear regularizer (fields of experts, Student-t potential) on speech frames by
unrolling, denoise held-out speech with it and look at its filters.

    PYTHONPATH=build/python python3 examples/speech_regularizer.py [--quick] [--out DIR]

Speech: Debian's codec2-examples (/usr/share/codec2/raw, 8 kHz), or any audio file (--audio).
"""

import argparse
import glob
import os

import numpy as np

import varlearn

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
parser.add_argument("--out", default=".", help="folder of the outputs (filters.png, denoised.wav)")
parser.add_argument("--audio", nargs="*", help="audio files (default: the codec2 corpus)")
args = parser.parse_args()

codec2 = os.environ.get("VARLEARN_CODEC2_DIR", "/usr/share/codec2")
files = args.audio or sorted(glob.glob(os.path.join(codec2, "raw", "*.raw")))
n, sigma = 64, 0.02
if files:
    x = np.concatenate([varlearn.audio.read(f, rate=8000)[0] for f in files[:2 if args.quick else 6]])
else:  # no speech installed: a synthetic voiced signal, so the example still runs
    t = np.arange(80000) / 8000
    x = 0.2 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    print("(no codec2 speech found: a synthetic signal)")
frames = varlearn.audio.frame(x, n, n)                         # rows: (B, n)
frames = frames[np.sqrt(np.mean(frames ** 2, axis=1)) > 0.01]  # drop silence
rng = np.random.default_rng(0)
rng.shuffle(frames)
train, test = frames[:600 if args.quick else 4000], frames[-300:]

run = varlearn.train(regularizer="foe", filters=4 if args.quick else 8, filter_length=7, potential="student",
                     start="adjoint", data="file", clean=train, sigma=sigma, depth=5 if args.quick else 10,
                     iterations=15 if args.quick else 150, seed=1)
print(f"trained: {run.regularizer}, {run.iterations} iterations, status {run.status}, "
      f"train loss {run.train_loss:.3g}, stepsizes {np.round(run.model.stepsizes, 4)}")

noisy = test + sigma * rng.standard_normal(test.shape)
denoised = run.model.denoise(noisy)
snr = lambda est: 10 * np.log10(np.sum(test ** 2) / np.sum((est - test) ** 2))  # noqa: E731
print(f"held-out speech frames: SNR {snr(noisy):.2f} dB noisy -> {snr(denoised):.2f} dB denoised")

# The filters: theta = [filters (J x L, row by row), log-weights beta (J), ...].
reg = run.model.regularizer
j = 4 if args.quick else 8
taps = reg.parameters[: j * 7].reshape(j, 7)
for i, k in enumerate(taps):
    # the response of a filter: which frequencies it penalizes
    response = np.abs(np.fft.rfft(k, 64))
    print(f"filter {i}: taps {np.round(k, 3)}, peak response at {np.argmax(response) * 8000 / 64:.0f} Hz")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    pass
else:
    fig, ax = plt.subplots(figsize=(6, 3))
    for i, k in enumerate(taps):
        ax.plot(np.arange(33) * 8000 / 64, np.abs(np.fft.rfft(k, 64)), label=f"filter {i}")
    ax.set(xlabel="Hz", ylabel="|response|", title="learned fields-of-experts filters")
    fig.savefig(os.path.join(args.out, "filters.png"), dpi=120, bbox_inches="tight")
varlearn.audio.write_wav(os.path.join(args.out, "denoised.wav"), denoised.reshape(-1), 8000)
