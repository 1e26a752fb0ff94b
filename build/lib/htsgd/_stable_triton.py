"""A fused Triton kernel for symmetric alpha-stable samples on CUDA (float32).

Used by :func:`htsgd.stable.sample` for symmetric draws (beta = 0, alpha not 1 or 2)
on a CUDA device in float32, when Triton is importable; everything else takes the
torch path, which remains the reference implementation (the tests check that both
give the same law, and that the kernel's arithmetic matches the core every torch path
uses, ``htsgd._stable_core.symmetric_cms_inplace``, evaluated in float64 on the same (V, W)
decoded from the same random bits). The kernel follows the core's policy for the
uniforms (see ``htsgd._stable_core.angle_and_exponential``): its angles are the core's float32
grid of midpoints ``pi (2j + 1) / 2**25`` and its W lies in the core's range
``[2**-24, log(2**24)]``. Introduced in the chapter *Stable distributions*.

Why a kernel: the Chambers-Mallows-Stuck formula is about ten elementwise
operations; in eager torch each one reads and writes the whole array, so a plain
torch sampler is memory-bound at about 20x ``torch.randn``. One kernel draws the
random bits with Philox in registers, evaluates CMS, and writes each sample once.

How it stays cheap and accurate in float32 (the target is 2x ``torch.randn``; the
kernel is bound by arithmetic, so every instruction counts):

* Random bits: three Philox4x32-10 calls give twelve 32-bit words, cut into eight
  samples of 48 bits (24 for the angle, 23 for the exponential variable).
* The angle is ``V = pi t`` with ``|t| = (2j + 1) / 2**25`` from 23 random bits ``j``
  and one sign bit: ``t`` lies strictly inside (-1/2, 1/2) and ``1/2 - |t|`` is exact,
  so ``cos V = sin(pi (1/2 - |t|))`` keeps full relative accuracy next to the poles,
  where the heavy tail comes from. Floats are assembled from the bits directly (an
  int-to-float conversion shares the slow pipe with the transcendental functions).
* Every sine argument is already reduced to ``[0, pi/2]``, so a degree-9 minimax
  polynomial replaces libdevice's ``sinf``/``cosf`` and their general range reduction.
* ``W = -log(1 - U) ~ Exp(1)`` with ``U = (2m + 1) / 2**24`` from 23 bits, strictly
  inside (0, 1); for ``U <= 1/16`` a short series keeps the relative accuracy of small
  ``W`` (for alpha < 1 small ``W`` makes the largest samples).
* Every other logarithm only enters the exponent ``p`` of ``X = sin(alpha V) 2**p``,
  where an absolute error becomes a relative error of the sample: the hardware's
  ``lg2.approx``/``ex2.approx`` (absolute error about 2**-22) are accurate enough.
  Against float64 on the same bits the samples agree to a relative 1e-5 or better
  (a few 1e-6, mostly float32 rounding of an exponent that reaches 70 at alpha = 0.5).
* Draws beyond the float32 range (possible for alpha below about 0.4) saturate at the
  largest float32 instead of becoming infinite.

Reproducibility: the kernel's Philox seed is drawn from the caller's
``torch.Generator`` on the device (no host round trip), so the same generator state
gives the same samples, and the generator advances as with any other draw.
"""

from __future__ import annotations

import torch

try:  # Triton ships with CUDA builds of torch; CPU-only installs do without it.
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised on machines without Triton
    triton = None
    tl = None

__all__ = ["available", "symmetric_stable", "cms_from_bits"]

#: Launch configuration: Philox counters per program and warps (chosen by timing variants on an H100).
BLOCK = 256
NUM_WARPS = 4
#: Philox rounds: 10, the Random123 and cuRAND default.
ROUNDS = 10
#: Samples per group of three Philox calls (twelve 32-bit words, 48 bits per sample).
SAMPLES_PER_GROUP = 8


def available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether the fused kernel can serve a draw on ``device`` in ``dtype``."""
    return triton is not None and device.type == "cuda" and dtype == torch.float32


if triton is not None:

    @triton.jit
    def _sinpi(y):
        """sin(pi y) for y in [0, 1/2]: a degree-9 odd minimax polynomial.

        Relative error 5.3e-9, below float32 rounding (coefficients fitted in float64
        against mpmath by Lawson's iteration on Chebyshev nodes).
        """
        y2 = y * y
        p = 0.07756038695413417
        p = p * y2 - 0.598242126397944
        p = p * y2 + 2.550069726331208
        p = p * y2 - 5.167709684798712
        p = p * y2 + 3.1415926368953877
        return y * p

    @triton.jit
    def _log2_approx(x):
        # The hardware's lg2.approx: absolute error about 2**-22, which is all the exponent needs.
        return tl.inline_asm_elementwise("lg2.approx.f32 $0, $1;", "=f,f", [x], dtype=tl.float32, is_pure=True, pack=1)

    @triton.jit
    def _exp2_approx(x):
        # The hardware's ex2.approx: relative error about 2**-22.
        return tl.inline_asm_elementwise("ex2.approx.f32 $0, $1;", "=f,f", [x], dtype=tl.float32, is_pure=True, pack=1)

    @triton.jit
    def _cms_from_bits(angle_word, exp_word, alpha, abs_one_minus_alpha, k, inv_alpha, scale, shift):
        """scale * SaS(alpha, 1) + shift from two uint32 words (see the module docstring).

        The angle takes bits 8 (sign) and 9-31 of ``angle_word``; W takes bits 9-31 of ``exp_word``.
        Floats are assembled from the bits (no int-to-float conversions, which share the
        slow pipe with the transcendental functions).
        """
        # |t| = |V| / pi = (2j + 1) / 2**25 for the 23-bit j: an exact float in (0, 1/2).
        half_to_one = ((angle_word >> 9) | 0x3F000000).to(tl.float32, bitcast=True)  # 1/2 + j / 2**24
        at = (half_to_one - 0.5) + 2.9802322387695312e-08
        negative = (angle_word & 0x100) != 0
        cos_v = _sinpi(0.5 - at)  # 1/2 - |t| is exact: full relative accuracy at the poles
        a = alpha * at  # sin(alpha |V|) = sin(pi a), a in (0, 1): reflect into [0, 1/2]
        sin_av = _sinpi(tl.where(a > 0.5, 1.0 - a, a))
        sin_av = tl.where(negative, -sin_av, sin_av)
        cos_1av = _sinpi(0.5 - abs_one_minus_alpha * at)  # cos((1 - alpha) V)
        # U = (2m + 1) / 2**24 for the 23-bit m, exact in (0, 1); W = -log(1 - U) ~ Exp(1).
        one_to_two = ((exp_word >> 9) | 0x3F800000).to(tl.float32, bitcast=True)  # 1 + m / 2**23
        u = (one_to_two - 1.0) + 5.960464477539063e-08
        # W = -log(1 - u): for u > 1/16 lg2.approx of the exact 1 - u (|log2| > 0.09, so its
        # absolute error is a small relative one); below, the series to u**7 (error < 5e-10), so
        # that small W, which makes the largest samples when alpha < 1, keeps its accuracy.
        q = 1.0 / 7.0
        q = q * u + 1.0 / 6.0
        q = q * u + 1.0 / 5.0
        q = q * u + 1.0 / 4.0
        q = q * u + 1.0 / 3.0
        q = q * u + 0.5
        q = q * u + 1.0
        w = tl.where(u > 0.0625, -0.6931471805599453 * _log2_approx(1.0 - u), u * q)
        # X = sin(alpha V) * 2**p with p = log2 of cos(V)**(-1/alpha) (cos((1 - alpha) V) / W)**k.
        p = k * (_log2_approx(cos_1av) - _log2_approx(w)) - inv_alpha * _log2_approx(cos_v)
        x = (sin_av * _exp2_approx(p)) * scale + shift
        # For small alpha a few draws exceed the float32 range: saturate, never inf.
        return tl.minimum(tl.maximum(x, -3.4028234663852886e38), 3.4028234663852886e38)

    @triton.jit
    def _store_pair(out_ptr, o, seg, n, first: tl.constexpr, w0, w1, w2, alpha, am, k, ia, scale, shift):
        """Two samples from three words: the third word's low byte and the others' make a fourth word."""
        lo = (w0 & 0xFF) | ((w1 & 0xFF) << 8) | ((w2 & 0xFF) << 16)
        x = _cms_from_bits(w0, w1, alpha, am, k, ia, scale, shift)
        y = _cms_from_bits(w2, lo << 8, alpha, am, k, ia, scale, shift)
        i = first * seg + o
        tl.store(out_ptr + i, x, mask=(o < seg) & (i < n))
        j = (first + 1) * seg + o
        tl.store(out_ptr + j, y, mask=(o < seg) & (j < n))

    @triton.jit
    def _symmetric_stable_kernel(
        out_ptr, seed_ptr, n, seg, alpha, am, k, ia, scale, shift, BLOCK: tl.constexpr, ROUNDS: tl.constexpr,
    ):
        # Each counter o makes 8 samples from three Philox calls (48 bits per sample), written to
        # out[s * seg + o] for s = 0..7: every store is coalesced.
        o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        seed = tl.load(seed_ptr)
        a0, a1, a2, a3 = tl.randint4x(seed, 3 * o, ROUNDS)
        b0, b1, b2, b3 = tl.randint4x(seed, 3 * o + 1, ROUNDS)
        c0, c1, c2, c3 = tl.randint4x(seed, 3 * o + 2, ROUNDS)
        _store_pair(out_ptr, o, seg, n, 0, a0, a1, a2, alpha, am, k, ia, scale, shift)
        _store_pair(out_ptr, o, seg, n, 2, a3, b0, b1, alpha, am, k, ia, scale, shift)
        _store_pair(out_ptr, o, seg, n, 4, b2, b3, c0, alpha, am, k, ia, scale, shift)
        _store_pair(out_ptr, o, seg, n, 6, c1, c2, c3, alpha, am, k, ia, scale, shift)

    @triton.jit
    def _cms_bits_kernel(b1_ptr, b2_ptr, out_ptr, n, alpha, am, k, ia, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        b1 = tl.load(b1_ptr + offsets, mask=mask, other=0).to(tl.uint32, bitcast=True)
        b2 = tl.load(b2_ptr + offsets, mask=mask, other=0).to(tl.uint32, bitcast=True)
        tl.store(out_ptr + offsets, _cms_from_bits(b1, b2, alpha, am, k, ia, 1.0, 0.0), mask=mask)


def _law_arguments(alpha: float) -> tuple[float, float, float, float]:
    return alpha, abs(1 - alpha), (1 - alpha) / alpha, 1 / alpha


def symmetric_stable(
    alpha: float, shape: tuple[int, ...], generator: torch.Generator, device: torch.device,
    scale: float = 1.0, shift: float = 0.0,
) -> torch.Tensor:
    """``scale * SaS(alpha, 1) + shift`` of shape ``shape`` on a CUDA device, float32.

    Arguments are validated by the caller (:func:`htsgd.stable.sample`); alpha must
    lie in (0, 2) without 1.
    """
    out = torch.empty(shape, device=device, dtype=torch.float32)
    flat = out.view(-1)
    # int32 indexing inside the kernel: launch on slices of at most 2**30 samples.
    for start in range(0, flat.numel(), 2**30):
        part = flat[start : start + 2**30]
        n = part.numel()
        # One seed per launch from the caller's generator, kept on the device.
        seed = torch.randint(0, 2**31 - 1, (1,), generator=generator, device=device, dtype=torch.int64)
        seg = triton.cdiv(n, SAMPLES_PER_GROUP)
        _symmetric_stable_kernel[(triton.cdiv(seg, BLOCK),)](
            part, seed, n, seg, *_law_arguments(alpha), scale, shift, BLOCK=BLOCK, ROUNDS=ROUNDS, num_warps=NUM_WARPS,
        )
    return out


def cms_from_bits(alpha: float, bits1: torch.Tensor, bits2: torch.Tensor) -> torch.Tensor:
    """The kernel's arithmetic applied to given random words (int32 CUDA tensors), for tests.

    ``bits1`` gives the angle and ``bits2`` the exponential variable, exactly as inside
    :func:`symmetric_stable`, so the kernel's float32 arithmetic can be compared with a
    float64 evaluation of the same formula.
    """
    out = torch.empty(bits1.shape, device=bits1.device, dtype=torch.float32)
    n = out.numel()
    _cms_bits_kernel[(triton.cdiv(n, 1024),)](bits1, bits2, out, n, *_law_arguments(alpha), BLOCK=1024)
    return out
