"""A fused Triton kernel for symmetric alpha-stable samples on CUDA (float32).

Used by :func:`htsgd.stable.sample` for symmetric draws (beta = 0, alpha not 1 or 2)
on a CUDA device in float32, when Triton is importable; everything else takes the
torch path, which remains the reference implementation (the tests check that both
give the same law). Introduced in the chapter *Stable distributions*.

Why a kernel: the Chambers-Mallows-Stuck formula is about ten elementwise
operations; in eager torch each one reads and writes the whole array, so a plain
torch sampler is memory-bound at about 20x ``torch.randn``. One kernel draws two
Philox uniforms per sample in registers, evaluates CMS in log form, and writes each
sample once.

Reproducibility: the kernel's Philox seed is drawn from the caller's
``torch.Generator`` on the device (no host round trip), so the same generator state
gives the same samples, and the generator advances as with any other draw.
"""

from __future__ import annotations

import math

import torch

try:  # Triton ships with CUDA builds of torch; CPU-only installs do without it.
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised on machines without Triton
    triton = None
    tl = None

__all__ = ["available", "symmetric_stable"]

_BLOCK = 1024


def available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether the fused kernel can serve a draw on ``device`` in ``dtype``."""
    return triton is not None and device.type == "cuda" and dtype == torch.float32


if triton is not None:

    @triton.jit
    def _cms(u1, u2, alpha, one_minus_alpha, inv_alpha, k, lim, tiny):
        """Symmetric CMS in log form from two uniforms (see htsgd.stable._symmetric_cms_inplace)."""
        v = (u1 - 0.5) * 3.141592653589793
        v = tl.minimum(tl.maximum(v, -lim), lim)  # away from the poles of 1/cos
        log_w = tl.log(-tl.log(tl.maximum(u2, tiny)))  # W = -log U ~ Exp(1)
        power = k * (tl.log(tl.cos(one_minus_alpha * v)) - log_w) - inv_alpha * tl.log(tl.cos(v))
        return tl.sin(alpha * v) * tl.exp(power)

    @triton.jit
    def _symmetric_stable_kernel(
        out_ptr, seed_ptr, n, half, alpha, one_minus_alpha, inv_alpha, k, scale, shift, lim, tiny,
        BLOCK: tl.constexpr,
    ):
        # One Philox call gives four uniforms: two samples per offset, written to the first
        # and second halves of the output.
        pid = tl.program_id(0)
        offsets = pid * BLOCK + tl.arange(0, BLOCK)
        seed = tl.load(seed_ptr)
        u1, u2, u3, u4 = tl.rand4x(seed, offsets)
        x1 = _cms(u1, u2, alpha, one_minus_alpha, inv_alpha, k, lim, tiny)
        x2 = _cms(u3, u4, alpha, one_minus_alpha, inv_alpha, k, lim, tiny)
        tl.store(out_ptr + offsets, x1 * scale + shift, mask=offsets < half)
        tl.store(out_ptr + half + offsets, x2 * scale + shift, mask=half + offsets < n)


def symmetric_stable(
    alpha: float, shape: tuple[int, ...], generator: torch.Generator, device: torch.device,
    scale: float = 1.0, shift: float = 0.0,
) -> torch.Tensor:
    """``scale * SaS(alpha, 1) + shift`` of shape ``shape`` on a CUDA device, float32.

    Arguments are validated by the caller (:func:`htsgd.stable.sample`); alpha must
    lie in (0, 2) without 1.
    """
    out = torch.empty(shape, device=device, dtype=torch.float32)
    n = out.numel()
    if n == 0:
        return out
    # One int64 seed from the caller's generator, kept on the device.
    seed = torch.randint(0, 2**31 - 1, (1,), generator=generator, device=device, dtype=torch.int64)
    lim = (math.pi / 2) * (1 - torch.finfo(torch.float32).eps)
    half = (n + 1) // 2
    grid = (triton.cdiv(half, _BLOCK),)
    _symmetric_stable_kernel[grid](
        out, seed, n, half, alpha, 1 - alpha, 1 / alpha, (1 - alpha) / alpha, scale, shift, lim,
        torch.finfo(torch.float32).tiny, BLOCK=_BLOCK,
    )
    return out
