"""The C allocator keeps freed memory (restyle.allocator), measured by page faults.

Each case runs in its own Python process: the policy is process-wide and cannot be undone.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from restyle.allocator import ENV_KEEP

GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None
pytestmark = pytest.mark.skipif(not GLIBC, reason="the policy applies to glibc's malloc only")

CYCLES = 10
BLOCK_PAGES = 64 * 2**20 // os.sysconf("SC_PAGE_SIZE")  # a 64 MiB tensor
# By default every cycle faults its block in afresh: at least half of that must show. Kept,
# the freed block is reused. The heap settles in the first cycles (with one warm-up cycle,
# up to 3 of 10 cycles faulted in 52 runs; with three, at most 1 in 40), so three warm-up
# cycles, and at most 3 cycles' worth: a run without the policy faults all 10.
AFRESH = CYCLES * BLOCK_PAGES // 2
REUSED = 3 * BLOCK_PAGES

# Allocate, touch and free a 64 MiB tensor CYCLES times after three warm-up cycles; print what
# `setup` returned and the page faults of the measured cycles.
# With `in_thread`, the cycles run in a thread started after `setup` (as the web UI's worker).
SCRIPT = """
import resource, threading, torch
{setup_imports}
applied = {setup}
def cycle():
    torch.empty({floats}).fill_(1.0)
def measure():
    for _ in range({warmup}):
        cycle()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range({cycles}):
        cycle()
    print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
if {in_thread}:
    worker = threading.Thread(target=measure)
    worker.start()
    worker.join()
else:
    measure()
"""


def faults(setup: str, setup_imports: str = "", *, keep: str | None = None, in_thread: bool = False) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != ENV_KEEP}
    if keep is not None:
        env[ENV_KEEP] = keep
    code = SCRIPT.format(
        setup_imports=setup_imports,
        setup=setup,
        floats=16 * 2**20,
        cycles=CYCLES,
        in_thread=in_thread,
        warmup=8 if in_thread else 3,  # a thread's heap settles later (0 faults in 6 runs with 8)
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    applied, count = out.stdout.split()
    return applied, int(count)


@pytest.fixture(scope="module")
def default_faults() -> int:
    _, count = faults("None")
    if count < AFRESH:
        pytest.skip(f"malloc here does not fault large blocks in afresh ({count} faults): nothing to measure")
    return count


def test_freed_blocks_are_reused_without_page_faults(default_faults: int) -> None:
    applied, count = faults("keep_freed_memory()", "from restyle.allocator import keep_freed_memory")
    assert applied == "True"
    assert count <= REUSED  # against default_faults >= AFRESH (the fixture)


def test_a_thread_started_after_the_policy_reuses_freed_blocks_too(default_faults: int) -> None:
    """Without one arena for all threads, a thread's large blocks come from mmap and fault in
    afresh at every cycle, whatever the other settings."""
    assert faults("None", in_thread=True)[1] >= AFRESH
    applied, count = faults("keep_freed_memory()", "from restyle.allocator import keep_freed_memory", in_thread=True)
    assert applied == "True"
    assert count <= REUSED


def test_a_cpu_runtime_applies_the_policy(default_faults: int) -> None:
    applied, count = faults(
        'runtime(device="cpu", precision="float32", seed=0).seed', "from restyle.device import runtime"
    )
    assert applied == "0"
    assert count <= REUSED


def test_the_environment_variable_turns_the_policy_off(default_faults: int) -> None:
    applied, count = faults("keep_freed_memory()", "from restyle.allocator import keep_freed_memory", keep="0")
    assert applied == "False"
    assert count >= AFRESH
