import math

import torch

from restyle.optim import Iterate, optimize


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


def test_history_and_callback():
    seen: list[Iterate] = []
    out = optimize(
        torch.zeros(1, 3, 2, 2),
        quadratic(torch.ones(1, 3, 2, 2)),
        iterations=5,
        callback=seen.append,
        scale=1,
        scales=3,
        step_offset=10,
        steps=20,
    )
    assert [r.iteration for r in out.history] == [1, 2, 3, 4, 5]
    assert [it.step for it in seen] == [11, 12, 13, 14, 15]
    assert seen[0].scale == 1 and seen[0].scales == 3 and seen[0].steps == 20 and seen[0].size == (2, 2)
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
