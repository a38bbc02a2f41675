"""The speech studies (`varlearn study ...`): each writes its results into the folder `out`
(all or nothing), prints its summary as the command does, and returns a Result with `out`,
`files` (relative paths) and `results` (the folder's results.json). Long: minutes with the
defaults; quick=True for a fast look."""

from ._commands import command

denoise = command("study", "denoise", summary="Denoising study on recorded speech, with a rank analysis.")
dequant = command("study", "dequant", summary="Dequantization study: Chambolle-Pock vs the learned primal-dual network.")
restore = command("study", "restore", summary="Restoration study (denoising, packet-loss inpainting), bilevel vs unrolled.")

__all__ = ["denoise", "dequant", "restore"]
