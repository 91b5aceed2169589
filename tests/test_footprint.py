import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from restyle import footprint
from restyle.cli import main
from restyle.errors import RestyleError
from restyle.footprint import (
    GIB,
    art_bytes,
    available_bytes,
    check_memory,
    largest_size,
    lbfgs_pairs,
    photo_bytes,
    smoothing_bytes,
)

CPU = torch.device("cpu")
PAGE = os.sysconf("SC_PAGE_SIZE")


def fake_root(tmp_path: Path, *, available_kib: int, resident_pages: int, cgroup: dict[str, str] | None = None) -> Path:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/meminfo").write_text(
        f"MemTotal:       24683792 kB\nMemFree:         1000000 kB\nMemAvailable:   {available_kib} kB\n"
    )
    (tmp_path / "proc/self/statm").write_text(f"900000 {resident_pages} 1000 10 0 5000 0\n")
    for name, text in (cgroup or {}).items():
        path = tmp_path / "sys/fs/cgroup" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_available_is_what_the_process_holds_plus_what_the_system_can_give(tmp_path):
    root = fake_root(tmp_path, available_kib=8 * 2**20, resident_pages=1000)
    assert available_bytes(root) == 1000 * PAGE + 8 * GIB


def test_a_cgroup_v2_limit_caps_it_and_its_droppable_cache_counts_as_free(tmp_path):
    cgroup = {
        "memory.max": f"{4 * GIB}\n",
        "memory.current": f"{3 * GIB}\n",
        "memory.stat": f"anon 1\ninactive_file {GIB // 2}\n",
    }
    root = fake_root(tmp_path, available_kib=8 * 2**20, resident_pages=1000, cgroup=cgroup)
    assert available_bytes(root) == 1000 * PAGE + GIB + GIB // 2


def test_a_cgroup_without_a_limit_changes_nothing(tmp_path):
    cgroup = {"memory.max": "max\n", "memory.current": f"{3 * GIB}\n"}
    root = fake_root(tmp_path, available_kib=2**20, resident_pages=10, cgroup=cgroup)
    assert available_bytes(root) == 10 * PAGE + GIB


def test_a_cgroup_v1_limit_caps_it_and_v1s_no_limit_is_ignored(tmp_path):
    limited = {
        "memory/memory.limit_in_bytes": f"{2 * GIB}\n",
        "memory/memory.usage_in_bytes": f"{GIB}\n",
        "memory/memory.stat": "cache 5\ntotal_inactive_file 1024\n",
    }
    root = fake_root(tmp_path / "a", available_kib=8 * 2**20, resident_pages=0, cgroup=limited)
    assert available_bytes(root) == GIB + 1024
    unlimited = {"memory/memory.limit_in_bytes": "9223372036854771712\n", "memory/memory.usage_in_bytes": f"{GIB}\n"}
    root = fake_root(tmp_path / "b", available_kib=2**20, resident_pages=0, cgroup=unlimited)
    assert available_bytes(root) == GIB


def test_without_meminfo_the_memory_is_unknown(tmp_path):
    assert available_bytes(tmp_path) is None


@pytest.mark.parametrize("available", [0, 1, 99, 100, 101, 10_000, 123_456])
def test_largest_size_is_the_last_size_that_fits(available):
    def needed(side):
        return 3 * side * side + 7

    expected = max((s for s in range(1, 1001) if needed(s) <= available), default=None)
    assert largest_size(needed, available, 1000, smallest=1) == expected


def test_a_run_that_fits_passes_and_one_that_does_not_names_the_size_that_fits():
    def needed(side):
        return side * side * 1024

    check_memory(needed, 1000, device=CPU, what="a run", available=1000 * 1000 * 1024)
    with pytest.raises(RestyleError) as caught:
        check_memory(needed, 1000, device=CPU, what="an art run", available=500 * 500 * 1024)
    message = str(caught.value)
    assert message.startswith("an art run at --size 1000 needs about 1.0 GiB of memory")
    assert "use --size 500 or less" in message and "RESTYLE_MEMORY_CHECK=0" in message and "\n" not in message


def test_when_nothing_fits_the_message_says_to_free_memory():
    with pytest.raises(RestyleError, match="free some memory"):
        check_memory(lambda side: GIB, 100, device=CPU, what="a run", available=GIB // 2)


def test_the_check_is_skipped_off_the_cpu_when_memory_is_unknown_and_when_turned_off(monkeypatch):
    def needed(side):
        return 100 * GIB

    check_memory(needed, 100, device=torch.device("cuda"), what="a run", available=GIB)
    monkeypatch.setattr(footprint, "available_bytes", lambda: None)
    check_memory(needed, 100, device=CPU, what="a run")
    monkeypatch.setattr(footprint, "available_bytes", lambda: GIB)
    with pytest.raises(RestyleError):
        check_memory(needed, 100, device=CPU, what="a run")
    monkeypatch.setenv("RESTYLE_MEMORY_CHECK", "0")
    check_memory(needed, 100, device=CPU, what="a run")


def test_the_estimates_grow_with_what_a_run_holds():
    pixels = 512 * 339
    default = art_bytes(pixels, pairs=62)
    assert art_bytes(4 * pixels, pairs=62) > 3.5 * (default - footprint.BASE)
    assert art_bytes(pixels, pairs=100) > default > art_bytes(pixels, pairs=2)
    assert art_bytes(pixels, pairs=62, float32=True) > default
    assert art_bytes(pixels, pairs=62, parameters_per_pixel=3.0) < default
    # the style's pass is the peak
    assert art_bytes(64 * 64, pairs=62, style_pixels=4096 * 4096) > art_bytes(64 * 64, pairs=62)
    assert lbfgs_pairs("lbfgs", 5) == 5 and lbfgs_pairs("lbfgs", 500, history_size=50) == 50
    assert photo_bytes(pixels, pixels, grid=False, pairs=100) > photo_bytes(pixels, pixels)
    assert photo_bytes(0, 4 * pixels) > photo_bytes(0, pixels)  # the fast preset: smoothing only
    assert photo_bytes(pixels, pixels, original_pixels=50_000_000) > photo_bytes(pixels, pixels)


def test_a_childs_peak_is_its_own_not_its_parents():
    # getrusage's ru_maxrss in a child started by subprocess reports the parent's peak if that
    # is larger (kept across exec): a CI run once measured pytest's 2.3 GiB as an art run's peak
    held = np.full(3 * 2**30 // 2 // 8, 2.0)  # 1.5 GiB, every page touched
    code = (
        "import resource; from restyle.footprint import peak_resident_bytes; "
        "print(peak_resident_bytes(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    own, inherited = map(int, done.stdout.split())
    assert inherited >= held.nbytes > 2 * own > 0


PEAK_SCRIPT = """
import json, sys
from restyle.artistic import stylize
from restyle.footprint import peak_resident_bytes
from restyle.photo import stylize_photo
from restyle.image import load_image
mode, size = sys.argv[1], int(sys.argv[2])
content, style = load_image("sample:astronaut"), load_image("sample:ihc")
if mode == "art":
    r = stylize(content, style, size=size, iterations=2, coarse_iterations=2, seed=0, device="cpu")
else:
    r = stylize_photo(content, style, size=size, preset="fast", seed=0, device="cpu")
print(json.dumps({"peak": peak_resident_bytes(), "shape": list(r.image.shape[-2:])}))
"""


@pytest.mark.parametrize(
    ("mode", "size", "estimate"),
    [
        ("art", 768, lambda h, w: art_bytes(h * w, style_pixels=h * w, pairs=2)),
        ("photo", 1536, lambda h, w: photo_bytes(0, h * w, style_pixels=512 * 512)),
    ],
)
def test_the_estimate_is_close_to_a_fresh_processs_peak(mode, size, estimate):
    """A regression that makes a run hold much more (or the model much less) fails here."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, mode, str(size)], capture_output=True, text=True, check=True, timeout=300
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    height, width = measured["shape"]
    ratio = estimate(height, width) / measured["peak"]
    # The art case measured 1.07-1.12 alone (eight runs), and 1.23 once inside a full test run: the peak
    # resident size of a process varies with what the machine reclaims meanwhile (2026-12-06).
    assert 0.8 < ratio < 1.3, f"estimate / peak = {ratio:.2f}"


@pytest.mark.parametrize("command", [["art"], ["photo", "--preset", "fast"]])
def test_the_cli_stops_a_run_that_cannot_fit_before_any_work_and_writes_nothing(
    command, capsys, monkeypatch, tmp_path, content_png, style_png
):
    monkeypatch.setattr(footprint, "available_bytes", lambda: GIB // 10)
    out = tmp_path / "out.png"
    code = main(
        [command[0], str(content_png), str(style_png), "-o", str(out), "--size", "64", "--device", "cpu", *command[1:]]
    )
    _, err = capsys.readouterr()
    assert code == 1 and not out.exists()
    assert err.startswith(
        f"restyle: error: a{'n' if command[0] == 'art' else ''} {command[0]} run at --size 64 needs about"
    )
    assert err.count("\n") == 1


def test_without_an_option_the_message_asks_for_a_smaller_image():
    with pytest.raises(RestyleError) as caught:
        check_memory(lambda side: side * side * 1024, 1000, device=CPU, what="--method x", option=None, available=2**28)
    assert str(caught.value).startswith("--method x needs about 1.0 GiB of memory, and 0.2 GiB is available; ")
    assert "use an image of at most 512 px on its long side" in str(caught.value)


def test_smooth_stops_before_the_work_on_an_image_too_large_for_the_memory(capsys, monkeypatch, tmp_path, content_png):
    monkeypatch.setattr(footprint, "available_bytes", lambda: smoothing_bytes("matting", 40 * 30))
    out = tmp_path / "out.png"
    args = ["smooth", str(content_png), "--content", str(content_png), "-o", str(out)]
    assert main([*args, "--method", "matting"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("restyle: error: --method matting on a 64x48 image needs about") and err.count("\n") == 1
    assert "use an image of at most 40 px on its long side" in err and not out.exists()
    assert main([*args, "--method", "bilateral"]) == 0  # a cheaper method fits
