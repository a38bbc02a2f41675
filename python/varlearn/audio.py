"""Audio: files (libsndfile: WAV, FLAC, Ogg, raw 16-bit), framing and overlap-add.
Samples are float64 in [-1, 1]; frames are rows, shape (B, n)."""

from . import _varlearn


def read(path, rate=0, mixdown=True, raw_rate=8000):
    """(samples, rate) of an audio file; rate > 0 resamples to it; mixdown averages channels;
    raw files (.raw, 16-bit) are read at raw_rate."""
    return _varlearn._read_audio(path, int(rate), bool(mixdown), int(raw_rate))


def write_wav(path, samples, rate):
    """Writes samples (1-D) as a 16-bit WAV file, atomically; returns the number of clipped samples."""
    return _varlearn._write_wav(path, samples, int(rate))


def frame(x, n, hop, pad=False):
    """Frames of n samples every hop samples, as rows (B, n); pad=True adds a last zero-padded frame."""
    return _varlearn._frame(x, int(n), int(hop), bool(pad))


def overlap_add(frames, hop, length, window="hann"):
    """The signal of `length` samples from overlapping frames (rows), weighted by the window."""
    return _varlearn._overlap_add(frames, int(hop), int(length), window)


__all__ = ["read", "write_wav", "frame", "overlap_add"]
