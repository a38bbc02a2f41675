"""varlearn: learn variational regularizers by bilevel optimization and algorithm unrolling.

The command line's subcommands as functions (the same options, checks and numbers):

    varlearn.theory.optimal(data="iid", n=500, k=10, mu=1, theta=0.5, sigma=0.9,
                            method="unrolled", depth=4, stepsize="learned").risk
    varlearn.theory.cmin(depth=5, stepsize=0.5).cmin
    varlearn.theory.map(x="k=1:500:50", value="bilevel/unrolled:2").grid     # NumPy
    varlearn.train(data="iid", n=20, depth=3, iterations=200).model            # + train_loss, ...
    varlearn.eval(model="model.json"), varlearn.study.denoise(out=...), varlearn.reproduce(out=...)

and the library's objects: DataModel, Family, QuadraticModel (.denoise(X) on frames as rows,
shape (B, n), without copying X), GeneralModel, Operator (varlearn.ops), Regularizer
(varlearn.reg), Chambolle-Pock and the learned primal-dual network (varlearn.dequant), audio
files and framing (varlearn.audio), checkpoints (QuadraticModel.save / .load).

Bad input raises ValueError with the library's message; an internal failure RuntimeError;
Ctrl-C stops a training run at its current (valid) iterate and raises KeyboardInterrupt, whose
.result holds what the run reached. See docs/python.md.
"""

from . import _varlearn
from ._commands import Result, command
from ._varlearn import DataModel, Family, GeneralModel, Operator, QuadraticModel, Regularizer

__version__ = _varlearn.__version__

train = command("train", summary="""Learn the regularizer R (k x n) and the stepsize omega of the quadratic model
(or, with operator= / regularizer=, a general model) by bilevel optimization or unrolling, and
compare its exact population risk with the theory optimum of its class.

Returns train_loss, population_risk, optimal_risk, risk_ratio, stepsize, ... and .model, the
trained QuadraticModel (GeneralModel for the general model).""")
eval = command("eval", summary="Evaluate a trained checkpoint: exact population risk, frame losses.")
reproduce = command("reproduce", summary="""Run the whole study and write the report into out (report.md, one folder per
section). Returns a Result with out and files (relative paths).""")
info = command("info", summary="""The GEMM backend in use, the BLAS library and kernel set this process loaded, the
symmetric eigensolver and OpenMP's thread count (probe=["320x4096x320"] times both GEMM
backends on a shape).""")



def keep_freed_memory():
    """Keep the memory this process frees for reuse, as the command line does at its start:
    glibc's mmap threshold at its 32 MB maximum and its trim threshold at 2 GB, so that a training
    step's large temporaries are not page-faulted and zeroed again at every step (a fifth of a
    fields-of-experts step at n = 320, B = 4096). The resident size then stays at the process's
    peak; results do not change. Not done on import: it is the interpreter's allocator. Does
    nothing where GLIBC_TUNABLES (glibc.malloc.*) or MALLOC_TRIM_THRESHOLD_ / MALLOC_MMAP_THRESHOLD_
    set the tunables, or off glibc. Returns True when applied; info().memory says the same.
    See docs/performance.md, "Freed memory"."""
    applied, _ = _varlearn._keep_freed_memory()
    return applied


from . import audio, dequant, ops, reg, study, theory  # noqa: E402  (after the names they use)

# Not "eval": `from varlearn import *` must not replace the builtin (use varlearn.eval).
__all__ = ["train", "reproduce", "info", "keep_freed_memory", "theory", "study", "ops", "reg", "dequant", "audio", "Result",
           "DataModel", "Family", "QuadraticModel", "GeneralModel", "Operator", "Regularizer", "__version__"]
