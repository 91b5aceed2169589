"""Animated GIFs as clips: their timing from the file's blocks, and their frames as Pillow shows them."""

import warnings

import numpy as np
import pytest
from PIL import Image

from restyle.clip import probe, read_frames
from restyle.errors import RestyleError
from restyle.gif import _clip_frames, frame_delays, shown_delays
from restyle.image import RestyleWarning

from .conftest import animated_gif, run


def _pillow_frames(path):
    with Image.open(path) as gif:
        out = []
        for index in range(gif.n_frames):
            gif.seek(index)
            out.append(np.asarray(gif.convert("RGB")))
        return out


@pytest.mark.parametrize("durations", [[40] * 5, [30, 50, 120, 20, 70]])
def test_frame_delays_are_those_pillow_reads(tmp_path, durations):
    path = animated_gif(tmp_path / "a.gif", count=len(durations), duration=durations, loop=0)
    expected = []
    with Image.open(path) as gif:
        for index in range(gif.n_frames):
            gif.seek(index)
            expected.append(gif.info["duration"] // 10)
    assert frame_delays(path.read_bytes()) == expected == [d // 10 for d in durations]


def test_frames_without_a_timing_block_are_counted_and_none(tmp_path):
    path = animated_gif(tmp_path / "untimed.gif", count=3)  # given no duration, Pillow writes a delay of 0 or none
    delays = frame_delays(path.read_bytes())
    assert len(delays) == 3 and delays[0] is None and set(delays) <= {None, 0}


def test_a_file_cut_short_gives_its_whole_frames(tmp_path):
    data = animated_gif(tmp_path / "a.gif", count=3, duration=40).read_bytes()
    assert frame_delays(data) == [4, 4, 4]
    assert frame_delays(data[: len(data) - 200]) == [4, 4]  # the last frame's data is cut
    cut = tmp_path / "cut.gif"
    cut.write_bytes(data[: len(data) - 200])
    with pytest.warns(RestyleWarning, match="cut.gif: the file ends inside its frame 3 .cut short..; its 2 whole"):
        info = probe(cut)
    assert info.frames == 2 and len(list(read_frames(info, shape=(30, 40)))) == 2
    whole = tmp_path / "no-trailer.gif"
    whole.write_bytes(data[:-1])  # every frame whole, the trailer missing: read quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert probe(whole).frames == 3
    with pytest.raises(RestyleError, match="not a GIF file"):
        frame_delays(b"\x89PNG\r\n\x1a\n" + bytes(20))


def test_shown_delays_follow_the_browsers_rule():
    assert shown_delays([None, 0, 1, 2, 7]) == [10, 10, 10, 2, 7]


def test_clip_frames_are_the_frames_shown_at_each_middle():
    """Against a timeline with one entry per hundredth of a second."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        delays = [int(d) for d in rng.integers(1, 30, rng.integers(1, 12))]
        timeline = [index for index, d in enumerate(delays) for _ in range(d)]
        count, total = len(delays), sum(delays)
        chosen = _clip_frames(delays)
        assert len(chosen) == count  # the average rate: the GIF's length kept
        for k, frame in enumerate(chosen):
            middle = (k + 0.5) * total / count
            assert frame == timeline[int(middle)]
    assert _clip_frames([7, 7, 7, 7]) == [0, 1, 2, 3]


def test_a_timed_gif_is_read_at_its_rate_frame_for_frame(tmp_path):
    path = animated_gif(tmp_path / "a.gif", count=6, duration=40, loop=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # timed: no warning
        info = probe(path)
    assert (info.fps, info.frames, info.size, info.gif, info.audio) == (25.0, 6, (40, 30), True, False)
    frames = list(read_frames(info, shape=(30, 40)))
    assert all(np.array_equal(a, b) for a, b in zip(frames, _pillow_frames(path), strict=True))
    assert [f.shape for f in read_frames(info, shape=(20, 26), start=2, end=4)] == [(20, 26, 3)] * 2


def test_an_untimed_gif_is_read_whole_at_ten_frames_a_second_with_a_warning(tmp_path):
    """ffmpeg's reader gave 1 of these 3 frames, and of 8, 7 (mixed up)."""
    for count in (3, 8):
        path = animated_gif(tmp_path / f"u{count}.gif", count=count)
        with pytest.warns(RestyleWarning) as caught:
            info = probe(path)
        assert (
            str(caught[0].message)
            == f"{path}: its frames have no delay or one under 0.02 s; each is shown for 0.1 s, as browsers show it"
        )
        assert (info.fps, info.frames) == (10.0, count)
        frames = list(read_frames(info, shape=(30, 40)))
        assert all(np.array_equal(a, b) for a, b in zip(frames, _pillow_frames(path), strict=True))
    mixed = animated_gif(tmp_path / "mixed.gif", count=4, duration=[0, 50, 50, 50])
    with pytest.warns(RestyleWarning, match="1 of its 4 frames have no delay or one under 0.02 s"):
        info = probe(mixed)
    assert info.fps == pytest.approx(100 * 4 / (10 + 5 + 5 + 5))


def test_transparency_is_shown_on_white(tmp_path):
    path = tmp_path / "t.gif"
    frames = []
    for shade in (0, 90):
        frame = Image.new("P", (8, 6), 0)
        frame.putpalette([255, 0, 0, shade, shade, shade] + [0] * 762)
        frame.paste(1, (0, 0, 4, 6))  # left half: palette entry 1; right half: entry 0, transparent
        frames.append(frame)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, transparency=0, disposal=2)
    first, second = read_frames(probe(path), shape=(6, 8))
    assert (first[:, 4:] == 255).all() and (first[:, :4] == 0).all()
    assert (second[:, 4:] == 255).all() and (second[:, :4] == 90).all()


def test_a_gif_with_no_whole_frame_is_one_line(capsys, tmp_path):
    path = tmp_path / "empty.gif"
    path.write_bytes(b"GIF89a" + bytes([1, 0, 1, 0, 0, 0, 0]) + b"\x3b")
    style = tmp_path / "style.png"
    Image.new("RGB", (16, 16), (200, 40, 40)).save(style)
    code, _, err = run(capsys, "video", path, style, "-o", tmp_path / "o.mp4", "--quiet")
    assert code == 1 and err == f"restyle: error: {path}: a GIF with no whole frame\n"
    assert not (tmp_path / "o.mp4").exists()


def test_an_untimed_gif_becomes_a_video_of_all_its_frames(capsys, tmp_path):
    path = animated_gif(tmp_path / "anim.gif", count=5, size=(48, 32))
    style = tmp_path / "style.png"
    Image.new("RGB", (16, 16), (200, 40, 40)).save(style)
    out = tmp_path / "o.mp4"
    fast = ["--mode", "photo", "--preset", "fast", "--size", "32", "--device", "cpu", "--quiet"]
    code, _, err = run(capsys, "video", path, style, "-o", out, *fast)
    assert code == 0, err
    assert "its frames have no delay or one under 0.02 s; each is shown for 0.1 s" in err
    info = probe(out)
    assert info.fps == 10.0 and len(list(read_frames(info, shape=(32, 48)))) == 5
