import math

import pytest
import torch

from restyle.optim import Iterate, LbfgsMemory, Schedule, optimize


def quadratic(target):
    def loss_fn(x):
        value = ((x - target) ** 2).sum()
        return value, {"quad": value}

    return loss_fn


def test_lbfgs_and_adam_reach_the_minimum():
    target = torch.rand(1, 3, 4, 4)
    start = torch.zeros(1, 3, 4, 4)
    out = optimize(start, quadratic(target), iterations=10, optimizer="lbfgs")
    assert out.status == "done" and torch.allclose(out.image, target, atol=1e-4)
    out = optimize(start, quadratic(target), iterations=400, optimizer="adam", learning_rate=0.05)
    assert torch.allclose(out.image, target, atol=1e-2)
    assert torch.equal(start, torch.zeros(1, 3, 4, 4))  # the start is not modified


def test_a_schedule_measures_work_in_full_size_iterations():
    plan = Schedule(iterations=(40, 40, 60), pixels=(128 * 86, 256 * 171, 512 * 342))
    assert plan.steps == 140 and [plan.steps_before(i) for i in range(4)] == [0, 40, 80, 140]
    # an iteration's cost: its share of the full size's pixels to the power 0.9 (measured)
    weights = [(128 * 86 / (512 * 342)) ** 0.9, (256 * 171 / (512 * 342)) ** 0.9, 1.0]
    assert [plan.weight(i) for i in range(3)] == pytest.approx(weights)
    assert weights[1] == pytest.approx(0.2872, abs=1e-4)  # a 256-px iteration: 0.29 of a 512-px one
    assert plan.work_before(1) == pytest.approx(40 * weights[0])
    assert plan.total_work == pytest.approx(40 * weights[0] + 40 * weights[1] + 60)  # about 75, not 140
    assert Schedule((), ()).total_work == 0 and Schedule((5,), (9,)).total_work == 5
    for bad in [((1, 2), (4,)), ((-1,), (4,)), ((1,), (0,))]:
        with pytest.raises(ValueError, match="Schedule"):
            Schedule(*bad)
    with pytest.raises(ValueError, match="scale 3 is not one of the schedule's 3"):
        optimize(torch.zeros(1, 3, 2, 2), quadratic(torch.ones(1, 3, 2, 2)), iterations=1, scale=3, schedule=plan)


def test_seconds_left_comes_from_the_work_done():
    def at(elapsed: float, work: float) -> Iterate:
        return Iterate(0, (2, 2), 1, {}, elapsed, work=work, total_work=10.0)

    assert at(4.0, 2.0).seconds_left == 16.0  # 4 s for a fifth of the work: 16 s for the rest
    assert at(9.0, 10.0).seconds_left == 0.0 and at(0.1, 0.0).seconds_left is None
    seen: list[Iterate] = []
    optimize(torch.zeros(1, 3, 4, 4), quadratic(torch.ones(1, 3, 4, 4)), iterations=3, callback=seen.append)
    assert [it.work for it in seen] == [1.0, 2.0, 3.0] and seen[-1].total_work == 3.0  # a run of one call
    assert seen[-1].seconds_left == 0.0 and seen[0].seconds_left == pytest.approx(2 * seen[0].elapsed)


def test_history_and_callback():
    seen: list[Iterate] = []
    out = optimize(
        torch.zeros(1, 3, 2, 2),
        quadratic(torch.ones(1, 3, 2, 2)),
        iterations=5,
        callback=seen.append,
        scale=1,
        schedule=Schedule(iterations=(10, 5, 5), pixels=(1, 4, 16)),
    )
    assert [r.iteration for r in out.history] == [1, 2, 3, 4, 5]
    assert [it.step for it in seen] == [11, 12, 13, 14, 15]
    assert seen[0].scale == 1 and seen[0].scales == 3 and seen[0].steps == 20 and seen[0].size == (2, 2)
    # work in full-size (16-pixel) iterations: 10 at (1/16)^0.9, then these at (1/4)^0.9 each
    coarse, middle = 16**-0.9, 4**-0.9
    assert [it.work for it in seen] == pytest.approx([10 * coarse + k * middle for k in range(1, 6)])
    assert seen[0].total_work == pytest.approx(10 * coarse + 5 * middle + 5)
    assert set(seen[0].losses) == {"quad", "total"}
    assert all(b.elapsed >= a.elapsed for a, b in zip(out.history, out.history[1:]))


def test_nonfinite_loss_stops_with_last_good_iterate():
    calls = []

    def loss_fn(x):
        calls.append(x.detach().clone())
        value = (x**2).sum() if len(calls) < 4 else (x**2).sum() * math.inf
        return value, {"l": value}

    out = optimize(torch.ones(1, 3, 2, 2), loss_fn, iterations=50, optimizer="adam", learning_rate=0.1)
    assert out.status == "nonfinite" and "inf" in out.message and "iteration 4" in out.message
    assert torch.equal(out.image, calls[2])  # the lowest finite iterate (the third)
    assert torch.isfinite(out.image).all()


def test_keyboard_interrupt_keeps_best_iterate():
    target = torch.rand(1, 3, 3, 3)

    def stop(it):
        if it.iteration == 3:
            raise KeyboardInterrupt

    out = optimize(
        torch.zeros(1, 3, 3, 3), quadratic(target), iterations=100, optimizer="adam", learning_rate=0.05, callback=stop
    )
    assert out.status == "interrupted"
    assert len(out.history) == 3
    start_loss = ((target) ** 2).sum()
    assert ((out.image - target) ** 2).sum() < start_loss


def test_returns_lowest_loss_iterate_not_last():
    values = iter([5.0, 1.0, 3.0, 4.0])

    def loss_fn(x):
        v = (x * 0).sum() + next(values)
        return v, {"v": v}

    out = optimize(torch.zeros(1, 3, 2, 2), loss_fn, iterations=4, optimizer="adam", learning_rate=0.1)
    assert [r.losses["total"] for r in out.history] == [5.0, 1.0, 3.0, 4.0]
    assert torch.equal(out.image, torch.zeros(1, 3, 2, 2))  # the 2nd iterate (no gradient: unchanged)


def test_stop_flag_ends_the_run_at_the_next_iterate():
    from restyle.optim import STOP

    target = torch.rand(1, 3, 3, 3)

    def press_ctrl_c(it):
        if it.iteration == 4:
            STOP.set()  # what the CLI's SIGINT handler does

    try:
        out = optimize(torch.zeros(1, 3, 3, 3), quadratic(target), iterations=50, callback=press_ctrl_c)
    finally:
        STOP.clear()
    assert out.status == "interrupted" and len(out.history) == 5
    assert ((out.image - target) ** 2).sum() < (target**2).sum()


def _bumpy(target: torch.Tensor, scales: torch.Tensor):
    """An ill-conditioned, non-quadratic loss with its minimum at ``target``."""

    def loss_fn(x):
        d = x - target
        value = (scales * d**2).sum() + 0.5 * (d**4).sum() + 0.3 * ((d[..., 1:] - d[..., :-1]) ** 2).sum()
        return value, {"v": value}

    return loss_fn


def test_lbfgs_follows_torch_lbfgs_without_line_search():
    torch.manual_seed(0)
    target = torch.rand(1, 3, 4, 5, dtype=torch.float64) * 0.5 + 0.25
    scales = torch.logspace(-1, 1, 60, dtype=torch.float64).reshape(1, 3, 4, 5)
    loss_fn = _bumpy(target, scales)
    start = torch.full((1, 3, 4, 5), 0.5, dtype=torch.float64)
    ours = [r.losses["total"] for r in optimize(start, loss_fn, iterations=15).history]
    # reference: torch's L-BFGS with the same settings and the same [0, 1] projection
    x = start.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=15, max_eval=15, tolerance_grad=-1.0, tolerance_change=-1.0)
    theirs = []

    def closure():
        opt.zero_grad()
        with torch.no_grad():
            x.clamp_(0.0, 1.0)
        value, _ = loss_fn(x)
        theirs.append(float(value.detach()))
        value.backward()
        return value

    opt.step(closure)
    assert len(ours) == 15
    assert ours == pytest.approx(theirs[:15], rel=1e-9)


def test_carried_memory_speeds_up_the_next_similar_problem():
    torch.manual_seed(1)
    scales = torch.logspace(-2, 1, 48).reshape(1, 3, 4, 4)
    first = torch.rand(1, 3, 4, 4) * 0.5 + 0.25
    second = (first + 0.02 * torch.randn(1, 3, 4, 4)).clamp(0.1, 0.9)
    memory = LbfgsMemory()
    # like video frames: the next problem starts from the previous one's result
    start = optimize(torch.full_like(first, 0.5), _bumpy(first, scales), iterations=30, memory=memory).image
    assert 0 < len(memory.steps) <= 30 and memory.scale > 0

    def lowest(out):
        return min(r.losses["total"] for r in out.history)

    warm = lowest(optimize(start, _bumpy(second, scales), iterations=5, memory=memory))
    cold = lowest(optimize(start, _bumpy(second, scales), iterations=5))
    assert warm < 0.5 * cold
    # the memory is updated in place and kept to the history size
    small = LbfgsMemory()
    optimize(start, _bumpy(second, scales), iterations=12, memory=small, history_size=4)
    assert len(small.steps) == len(small.changes) == len(small.rho) == 4


def test_memory_of_another_size_or_without_descent_starts_cold():
    target = torch.rand(1, 3, 3, 3)
    cold = [r.losses["total"] for r in optimize(torch.zeros(1, 3, 3, 3), quadratic(target), iterations=6).history]
    other = LbfgsMemory()
    optimize(torch.zeros(1, 3, 5, 5), quadratic(torch.rand(1, 3, 5, 5)), iterations=6, memory=other)
    sized = [
        r.losses["total"]
        for r in optimize(torch.zeros(1, 3, 3, 3), quadratic(target), iterations=6, memory=other).history
    ]
    assert sized == pytest.approx(cold)
    # a (corrupted) pair with negative curvature makes -H g point uphill: dropped, cold start
    bad = LbfgsMemory(steps=[torch.ones(27)], changes=[-torch.ones(27)], rho=[-1 / 27], scale=-1.0)
    out = optimize(torch.zeros(1, 3, 3, 3), quadratic(target), iterations=6, memory=bad)
    assert [r.losses["total"] for r in out.history] == pytest.approx(cold)
    assert all(float(s.numel()) == 27 for s in bad.steps)


def test_zero_iterations_evaluate_nothing():
    calls = []

    def loss_fn(x):
        calls.append(1)
        return quadratic(torch.ones_like(x))(x)

    start = torch.rand(1, 3, 2, 2)
    out = optimize(start, loss_fn, iterations=0, memory=LbfgsMemory())
    assert calls == [] and out.history == [] and torch.equal(out.image, start)


def test_render_optimises_parameters_and_reports_images():
    # Parameters (a per-channel gain) rendered into an image: the loss, the callback and the
    # outcome see images; the outcome also carries the parameters; nothing is clamped.
    base = torch.rand(1, 3, 4, 5) + 0.5

    def render(gain):
        return base * gain.view(1, 3, 1, 1)

    target = base * torch.tensor([2.0, -1.0, 0.5]).view(1, 3, 1, 1)
    seen: list[Iterate] = []
    out = optimize(torch.ones(3), quadratic(target), iterations=15, render=render, bounds=None, callback=seen.append)
    assert torch.allclose(out.parameters, torch.tensor([2.0, -1.0, 0.5]), atol=1e-4)
    assert torch.equal(out.image, render(out.parameters))
    assert seen[0].size == (4, 5) and seen[-1].image.shape == (1, 3, 4, 5)
    assert out.history[-1].losses["total"] < 1e-6
    clamped = optimize(torch.zeros(1, 3, 2, 2), quadratic(torch.full((1, 3, 2, 2), 2.0)), iterations=5)
    assert float(clamped.image.max()) <= 1.0  # pixels stay in [0, 1] by default


def test_penalty_on_the_parameters_is_added_and_reported():
    base = torch.ones(1, 3, 2, 2)
    out = optimize(
        torch.zeros(3),
        quadratic(base * 2.0),
        iterations=20,
        render=lambda gain: base * gain.view(1, 3, 1, 1),
        bounds=None,
        penalty=lambda gain: 4.0 * (gain**2).sum(),
    )
    # minimum of 4 * sum((g - 2)^2) + 4 * sum(g^2) over each gain: g = 1
    assert torch.allclose(out.parameters, torch.ones(3), atol=1e-4)
    assert out.history[-1].losses["penalty"] == pytest.approx(12.0, rel=1e-3)


def test_a_step_that_blows_the_loss_up_is_taken_back_and_retried_shorter():
    from restyle.optim import BLOWUP

    torch.manual_seed(3)
    target = torch.rand(1, 3, 4, 4, dtype=torch.float64) * 0.2 + 0.4
    start = torch.full_like(target, 0.5)

    def well(x):  # quadratic near the target, flat far from it (like a clamped image)
        value = (1 - torch.exp(-((x - target) ** 2) / 0.5)).sum()
        return value, {"well": value}

    # Carried pairs with an inverse-Hessian scale 400 times too large (near the target the
    # Hessian is 4 I): the first step overshoots into the flat part, where there is no gradient
    # to come back by. Retried shorter, the run still reaches the bottom.
    s = torch.zeros(48, dtype=torch.float64)
    s[0] = 1e-3
    memory = LbfgsMemory(steps=[s], changes=[4 * s], rho=[1 / float(4 * s.dot(s))], scale=100.0)
    losses = [r.losses["total"] for r in optimize(start, well, iterations=12, memory=memory, bounds=None).history]
    assert losses[1] > BLOWUP * losses[0]  # the overshoot, then the retries
    assert min(losses) < 0.01 * losses[0]


def test_a_concave_start_takes_small_growing_steps_not_a_full_gradient_step():
    # A double well scaled up: at x = 0.1 the loss is concave (f'' < 0), so the first pair has
    # negative curvature and is skipped. A full step along -g from there (torch's choice) would
    # land near x = 4000; small growing steps walk down into the well at x = 1.
    def double_well(x):
        value = 1e4 * ((x**2 - 1) ** 2).sum()
        return value, {"well": value}

    start = torch.full((1, 3, 2, 2), 0.1, dtype=torch.float64)
    run = optimize(start, double_well, iterations=25, bounds=None)
    assert run.status == "done"
    assert float(double_well(run.image)[0]) < 1e-3 * float(double_well(start)[0])
    assert torch.allclose(run.image, torch.ones_like(start), atol=1e-2)


def test_blocks_get_their_own_inverse_hessian_scale():
    # Two blocks whose curvatures differ 1000-fold, each uniform inside. With one scale per
    # block the first pair gives each block its exact inverse Hessian, so the next step is
    # Newton's and lands on the minimum; one shared scale suits neither block.
    curvature = torch.cat([torch.ones(6), torch.full((6,), 1000.0)]).double().view(1, 1, 2, 6)
    target = torch.linspace(-1, 1, 12, dtype=torch.float64).view(1, 1, 2, 6)

    def bowl(x):
        value = 0.5 * (curvature * (x - target) ** 2).sum()
        return value, {"bowl": value}

    start = torch.zeros_like(target)
    blocked = optimize(start, bowl, iterations=3, bounds=None, blocks=[6, 6])
    shared = optimize(start, bowl, iterations=3, bounds=None)
    assert float(bowl(blocked.image)[0]) < 1e-20
    assert float(bowl(shared.image)[0]) > 1e-3
    memory = LbfgsMemory()
    optimize(start, bowl, iterations=3, bounds=None, blocks=[6, 6], memory=memory)
    assert torch.allclose(memory.scale, 1 / curvature.flatten())  # per parameter: its block's 1 / curvature
    with pytest.raises(ValueError, match="blocks sum to 11"):
        optimize(start, bowl, iterations=1, blocks=[6, 5])


def test_one_block_is_plain_lbfgs():
    target = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    start = torch.zeros_like(target)

    def skewed(x):
        value = ((x - target) ** 4).sum() + ((x - target) ** 2).sum()
        return value, {"l": value}

    plain = optimize(start, skewed, iterations=8)
    one = optimize(start, skewed, iterations=8, blocks=[48])
    assert torch.equal(plain.image, one.image)
