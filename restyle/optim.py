"""The optimisation loop shared by every transfer: L-BFGS or Adam on the pixels of an image.

It owns what every long optimisation needs: counting iterations, reporting each one to a
callback, keeping the best iterate, stopping on a NaN or infinite loss with the last good
iterate, and turning Ctrl-C into a clean stop that keeps the best iterate so far.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from restyle.errors import check_choice

#: Set by the CLI on the first Ctrl-C (see ``restyle.cli``): every optimisation then stops at
#: its next iterate and returns its best one. A flag checked at known points, rather than a
#: KeyboardInterrupt raised wherever the signal lands, which library code may swallow.
STOP = threading.Event()
#: Set when a run's first optimisation starts, or a video's frame loop: from then on the CLI's
#: first Ctrl-C asks the run to stop at its next step (:data:`STOP`), as there is a step that
#: looks. Before it (images being read, masks found) and in commands without steps, Ctrl-C
#: stops at once: "stopping after this step" would promise what nothing keeps.
UNDER_WAY = threading.Event()

__all__ = [
    "HISTORY_SIZE",
    "OPTIMIZERS",
    "STOP",
    "UNDER_WAY",
    "Iterate",
    "LbfgsMemory",
    "Outcome",
    "Record",
    "Schedule",
    "optimize",
]

OPTIMIZERS = ("lbfgs", "adam")
#: L-BFGS's memory: the most curvature pairs it keeps.
HISTORY_SIZE = 100

#: ``loss_fn(image) -> (total, {name: value})``
LossFn = Callable[[Tensor], tuple[Tensor, dict[str, Tensor]]]


@dataclass(frozen=True)
class Record:
    """One iteration in a run's history."""

    scale: int
    size: tuple[int, int]
    iteration: int
    losses: dict[str, float]
    elapsed: float


#: An iteration's cost grows as its pixels to this power: a smaller image uses the cores less
#: well. Measured on a default artistic run (128, 256 and 512 px: 0.074, 0.199 and 0.740 s per
#: iteration) and a photo run (256 and 512 px); with it the time left was within 11% from a
#: tenth of either run on, against up to 31% with the pixels alone (``benchmarks/RESULTS.md``).
WORK_EXPONENT = 0.9


@dataclass(frozen=True)
class Schedule:
    """A run's plan: the iterations at each scale and each scale's pixel count, coarsest first.

    It places an iteration in the whole run (:attr:`steps`, :meth:`steps_before`) and measures
    the run's work in full-size iterations: an iteration costs about in proportion to its pixels
    to the power :data:`WORK_EXPONENT` (a 256-px one 0.29 of a 512-px one), so a count of
    iterations said that a default artistic run was half done when four fifths of its time was
    still to come.

    Args:
        iterations: iterations planned at each scale.
        pixels: each scale's pixel count (height x width).

    Example:
        >>> plan = Schedule(iterations=(40, 20), pixels=(256 * 171, 512 * 342))
        >>> plan.steps, round(plan.total_work, 1), round(plan.work_before(1), 1)
        (60, 31.5, 11.5)
    """

    iterations: tuple[int, ...]
    pixels: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.iterations) != len(self.pixels):
            raise ValueError(f"Schedule: {len(self.iterations)} iteration counts for {len(self.pixels)} scales")
        if min(self.iterations, default=0) < 0 or min(self.pixels, default=1) < 1:
            raise ValueError(f"Schedule: iterations must be >= 0 and pixels >= 1, not {self}")

    @property
    def steps(self) -> int:
        """Iterations planned over the whole run."""
        return sum(self.iterations)

    def steps_before(self, scale: int) -> int:
        """Iterations planned at the scales before ``scale``."""
        return sum(self.iterations[:scale])

    def weight(self, scale: int) -> float:
        """The work of one iteration at ``scale``, in full-size iterations."""
        return (self.pixels[scale] / max(self.pixels)) ** WORK_EXPONENT

    def work_before(self, scale: int) -> float:
        """The work planned at the scales before ``scale``."""
        return sum(n * self.weight(i) for i, n in enumerate(self.iterations[:scale]))

    @property
    def total_work(self) -> float:
        """The work planned over the whole run, in full-size iterations."""
        return self.work_before(len(self.iterations))


@dataclass(frozen=True)
class Iterate(Record):
    """What a callback receives after every iteration.

    Attributes:
        scale: index of the pyramid scale (0 = coarsest).
        size: ``(height, width)`` at this scale.
        iteration: iteration number within this scale, from 1.
        losses: the weighted loss terms and their ``total``.
        elapsed: seconds since the run started.
        image: the current iterate, ``(1, 3, H, W)`` in [0, 1] (not a copy: do not modify).
        scales: number of scales in the run; iterations: iterations planned at this scale.
        step, steps: iterations done and planned over the whole run (all scales).
        work, total_work: the same, each iteration weighted by its scale's pixels
            (:class:`Schedule`): what :attr:`seconds_left` is estimated from.
    """

    image: Tensor = field(repr=False, default=None)  # type: ignore[assignment]
    scales: int = 1
    iterations: int = 0
    step: int = 0
    steps: int = 0
    work: float = 0.0
    total_work: float = 0.0

    @property
    def seconds_left(self) -> float | None:
        """The time the run still needs, at the rate its work has gone so far (None before any).
        The work weights (:data:`WORK_EXPONENT`) allow for the coarse scales' lower speed per
        pixel, which made the estimate err long early on when they counted pixels alone."""
        if self.work <= 0:
            return None
        return max(self.elapsed * (self.total_work - self.work) / self.work, 0.0)


@dataclass
class Outcome:
    """How an optimisation ended: ``status`` is ``done``, ``interrupted`` or ``nonfinite``."""

    image: Tensor
    status: str = "done"
    message: str = ""
    history: list[Record] = field(default_factory=list)
    parameters: Tensor | None = None  # the optimised tensor (the image itself unless ``render``)


class _NonFinite(Exception):
    pass


def _check_blocks(blocks: Sequence[int], count: int) -> None:
    """Blocks of the flattened parameters must cover them exactly."""
    if sum(blocks) != count:
        raise ValueError(f"blocks sum to {sum(blocks)}, not to the {count} parameters")


@dataclass
class LbfgsMemory:
    """L-BFGS's curvature pairs, kept between calls of :func:`optimize` on the same pixels.

    A video frame's loss is nearly the previous frame's, so the previous frame's pairs give
    the next frame good steps from its first evaluation on, where a cold L-BFGS spends its
    first evaluation on a tiny gradient step and builds its model from scratch. Pass the same
    object to every call; ``optimize`` reads and updates it. Pairs of another size are dropped.
    Memory: two image-sized vectors per pair (``history_size`` pairs at most).

    Attributes:
        steps, changes: the last steps ``s_i`` and gradient changes ``y_i`` (flattened).
        rho: ``1 / (y_i . s_i)``.
        scale: the initial inverse-Hessian scale ``(y . s) / (y . y)`` of the newest pair: one
            number, or with ``blocks`` one value per parameter, each block's own ratio.
    """

    steps: list[Tensor] = field(default_factory=list)
    changes: list[Tensor] = field(default_factory=list)
    rho: list[float] = field(default_factory=list)
    scale: float | Tensor = 1.0

    def clear(self) -> None:
        self.steps.clear()
        self.changes.clear()
        self.rho.clear()
        self.scale = 1.0

    def push(self, step: Tensor, change: Tensor, size: int, blocks: Sequence[int] | None = None) -> None:
        """Add the pair ``(s, y)`` if it has positive curvature, keeping at most ``size``.

        ``blocks``: sizes of consecutive parameter blocks (summing to the vector's length) that
        each get their own initial inverse-Hessian scale ``(y_b . s_b) / (y_b . y_b)`` (the
        whole vector's where a block's curvature is not positive). Deviation from plain
        L-BFGS, whose one scale suits none of the blocks when their curvatures differ by
        orders of magnitude, as the levels of a :class:`~restyle.pyramid.LevelImage` do."""
        ys = float(change.dot(step))
        if ys <= 1e-10:  # not positive curvature (or no step): skipped, as torch's L-BFGS does
            return
        if len(self.steps) == size:
            del self.steps[0], self.changes[0], self.rho[0]
        self.steps.append(step)
        self.changes.append(change)
        self.rho.append(1.0 / ys)
        whole = ys / float(change.dot(change))
        if blocks is None or len(blocks) < 2:
            self.scale = whole
            return
        _check_blocks(blocks, step.numel())
        s_blocks, y_blocks = step.split(list(blocks)), change.split(list(blocks))
        ratios = [float(s.dot(y)) / max(float(y.dot(y)), 1e-30) for s, y in zip(s_blocks, y_blocks, strict=True)]
        values = torch.tensor([r if r > 0 else whole for r in ratios], dtype=step.dtype, device=step.device)
        self.scale = values.repeat_interleave(torch.tensor(list(blocks), device=step.device))

    def direction(self, grad: Tensor) -> Tensor:
        """``-H grad`` by the two-loop recursion (``-grad`` with no pairs)."""
        q = grad.neg()
        alphas = []
        for s, y, rho in zip(reversed(self.steps), reversed(self.changes), reversed(self.rho), strict=True):
            a = float(s.dot(q)) * rho
            q.add_(y, alpha=-a)
            alphas.append(a)
        r = q.mul_(self.scale)
        for s, y, rho, a in zip(self.steps, self.changes, self.rho, reversed(alphas), strict=True):
            b = float(y.dot(r)) * rho
            r.add_(s, alpha=a - b)
        return r


def optimize(
    image: Tensor,
    loss_fn: LossFn,
    *,
    iterations: int,
    optimizer: str = "lbfgs",
    learning_rate: float = 0.02,
    history_size: int = HISTORY_SIZE,
    memory: LbfgsMemory | None = None,
    blocks: Sequence[int] | None = None,
    bounds: tuple[float, float] | None = (0.0, 1.0),
    render: Callable[[Tensor], Tensor] | None = None,
    penalty: Callable[[Tensor], Tensor] | None = None,
    scale: int = 0,
    schedule: Schedule | None = None,
    start_time: float | None = None,
    callback: Callable[[Iterate], None] | None = None,
) -> Outcome:
    """Minimise ``loss_fn`` over the pixels of ``image``, or over parameters that ``render``
    turns into an image.

    Returns the iterate with the lowest loss (L-BFGS without a line search, as in neural-style
    and DPST, is not monotone). On a NaN/inf loss the run stops with the last finite iterate;
    on KeyboardInterrupt it stops with the best iterate so far. Neither raises.

    Args:
        image: the start, ``(1, 3, H, W)``, or the start parameters with ``render``; not modified.
        loss_fn: maps the iterate's image to ``(total, parts)``.
        iterations: number of loss evaluations (one per L-BFGS iteration: no line search).
        optimizer: ``lbfgs`` or ``adam``; either way each iterate is clamped to ``bounds``
            before it is evaluated (a projected method).
        learning_rate: Adam's step size on the [0, 1] scale (L-BFGS uses 1).
        history_size: L-BFGS memory.
        memory: L-BFGS pairs to start from and to leave for the next call (see
            :class:`LbfgsMemory`); None starts cold and keeps nothing.
        blocks: sizes of consecutive blocks of the flattened parameters that L-BFGS scales
            separately (see :meth:`LbfgsMemory.push`), e.g. ``LevelImage.level_sizes``.
        bounds: each iterate is clamped to this range (None: unconstrained).
        render: maps the parameters to the image that ``loss_fn`` scores and the callback and
            the outcome receive (e.g. a :class:`~restyle.bilateral.BilateralGrid`); pair it
            with ``bounds=None`` unless the parameters are pixels.
        penalty: a term on the parameters themselves, added to the loss (reported as
            ``penalty``).
        scale, schedule, start_time, callback: reported in each :class:`Iterate`: this call is
            scale ``scale`` of the run that ``schedule`` plans (None: a run of this call
            alone), which started at ``start_time`` (``time.perf_counter()``; None: now).
    """
    check_choice(optimizer, OPTIMIZERS, "--optimizer")
    if blocks is not None:
        _check_blocks(blocks, image.numel())
    UNDER_WAY.set()
    start_time = time.perf_counter() if start_time is None else start_time
    if schedule is None:
        schedule, scale = Schedule((iterations,), (1,)), 0  # one scale: its pixel count does not matter
    elif not 0 <= scale < len(schedule.iterations):
        raise ValueError(f"optimize: scale {scale} is not one of the schedule's {len(schedule.iterations)}")
    # where this call stands in the run: computed once, not at every evaluation
    step_offset, work_offset, weight = schedule.steps_before(scale), schedule.work_before(scale), schedule.weight(scale)
    steps, total_work, scales = schedule.steps, schedule.total_work, len(schedule.iterations)
    x = image.detach().clone().requires_grad_(True)
    best = image.detach().clone()
    best_loss = math.inf
    outcome = Outcome(image=best)
    count = 0

    def evaluate() -> Tensor:
        nonlocal best, best_loss, count
        if bounds is not None:
            with torch.no_grad():
                # Keep the iterate a valid image: the delivered result is clamped anyway, and letting
                # pixels leave [0, 1] makes the optimiser chase losses no saved image can have.
                # (Gatys et al. and DPST optimise unconstrained and clip at the end.)
                x.clamp_(*bounds)
        shown = x if render is None else render(x)
        total, parts = loss_fn(shown)
        if penalty is not None:
            parts = {**parts, "penalty": penalty(x)}
            total = total + parts["penalty"]
        value = float(total.detach())
        if not math.isfinite(value):
            bad = ", ".join(name for name, v in parts.items() if not math.isfinite(float(v.detach()))) or "total"
            raise _NonFinite(f"the loss became {value} ({bad}) at iteration {count + 1}")
        if value < best_loss:
            best_loss = value
            best = x.detach().clone()
        count += 1
        losses = {name: float(v.detach()) for name, v in parts.items()}
        losses["total"] = value
        size = (int(shown.shape[-2]), int(shown.shape[-1]))
        record = Record(scale, size, count, losses, time.perf_counter() - start_time)
        outcome.history.append(record)
        if STOP.is_set():  # a Ctrl-C seen by the CLI's signal handler: stop at this iterate
            raise KeyboardInterrupt
        if callback is not None:
            callback(
                Iterate(
                    **vars(record),
                    image=shown.detach(),
                    scales=scales,
                    iterations=iterations,
                    step=step_offset + count,
                    steps=steps,
                    work=work_offset + count * weight,
                    total_work=total_work,
                )
            )
        return total

    def gradient() -> tuple[float, Tensor]:
        x.grad = None
        total = evaluate()
        total.backward()
        return float(total.detach()), x.grad.detach().reshape(-1).clone()

    try:
        if optimizer == "lbfgs":
            _lbfgs(
                x,
                gradient,
                lambda: count < iterations,
                memory if memory is not None else LbfgsMemory(),
                history_size,
                blocks,
            )
        else:
            opt = torch.optim.Adam([x], lr=learning_rate)
            while count < iterations:
                opt.zero_grad(set_to_none=True)
                total = evaluate()
                total.backward()
                opt.step()
    except _NonFinite as exc:
        outcome.status = "nonfinite"
        outcome.message = f"{exc}; stopped and kept the last good iterate"
    except KeyboardInterrupt:
        outcome.status = "interrupted"
        outcome.message = "interrupted; kept the best iterate so far"
    outcome.parameters = best
    if render is None:
        outcome.image = best
    else:
        with torch.no_grad():
            outcome.image = render(best).detach()
    return outcome


#: A step that multiplies the loss by more than this is taken back and retried shorter.
BLOWUP = 2.0
#: How much shorter each retry is, and how many retries a step gets.
BACKTRACK, RETRIES = 0.1, 3
#: How much longer each further step without curvature pairs is.
GROWTH = 10.0


def _lbfgs(
    x: Tensor,
    gradient: Callable[[], tuple[float, Tensor]],
    budget_left: Callable[[], bool],
    memory: LbfgsMemory,
    history: int,
    blocks: Sequence[int] | None = None,
) -> None:
    """L-BFGS without a line search, as neural-style and DPST run it (and as torch's
    ``LBFGS(lr=1)`` without ``line_search_fn``): step ``t * d`` with ``d = -H g``; a step
    taken with no curvature pairs (a cold start) is scaled to ``min(1, 1 / |g|_1)``, every
    other one is 1. Our own loop rather than torch's so that the pairs can be carried between
    calls.

    Two safeguards that neither has. While there are no curvature pairs (the style loss can be
    concave where a run starts, and pairs of negative curvature are skipped) steps stay small:
    ``min(1, GROWTH^j / |g|_1)`` for the ``j``-th such step in a row, where torch takes a full
    step along ``-g`` once its first pair is skipped. And a step after which the loss is more
    than :data:`BLOWUP` times what it was is taken back and retried :data:`BACKTRACK` times as
    long (at most :data:`RETRIES` times; every try counts as an iteration). Without them the
    multi-resolution parameterisation on DPST pair 8 (its first pair skipped) jumped to a loss
    177 times higher at the third iteration and never came back."""
    if not budget_left():
        return
    if memory.steps:
        kept = memory.steps[0]
        if (kept.numel(), kept.dtype, kept.device) != (x.numel(), x.dtype, x.device):
            memory.clear()  # pairs of another image size (or dtype, device) say nothing here
    loss, grad = gradient()
    pairless = 0  # steps taken in a row without curvature pairs
    while budget_left():
        direction = memory.direction(grad)
        if float(grad.dot(direction)) >= 0.0:  # carried pairs that give no descent here: start cold
            memory.clear()
            direction = grad.neg()
        # Without pairs the direction is the bare gradient, whatever its scale: a small step,
        # growing while pairs stay missing. At a stationary point the step is zero and the
        # budget is still spent, as torch does: callers count on ``iterations`` evaluations.
        if memory.steps:
            step, pairless = 1.0, 0
        else:
            step = min(1.0, GROWTH**pairless / max(float(grad.abs().sum()), 1e-30))
            pairless += 1
        before = x.detach().clone()
        for attempt in range(RETRIES + 1):
            with torch.no_grad():
                x.add_(direction.view_as(x), alpha=step)
            new_loss, new_grad = gradient()
            if new_loss <= BLOWUP * loss or attempt == RETRIES or not budget_left():
                break
            with torch.no_grad():
                x.copy_(before)
            step *= BACKTRACK
        memory.push(direction.mul_(step), new_grad - grad, history, blocks)
        loss, grad = new_loss, new_grad
