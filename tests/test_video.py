"""Video: reading, writing with audio, temporal stabilisation, resuming, and bad input."""

import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
import time
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, JpegImagePlugin

import restyle.clip
import restyle.video
from restyle import __version__
from restyle.cli import _FrameBar
from restyle.clip import check_video_side, frame_shape, frame_to_tensor, probe, read_frames, write_video
from restyle.errors import RestyleError
from restyle.image import RestyleWarning, load_image, read_metadata, to_uint8
from restyle.metrics import temporal_error
from restyle.video import FrameProgress, _frame_options, _temporal_target, stylize_video

from .conftest import (
    animated_gif,
    claim_in_another_process,
    encode_hdr,
    on_terminal,
    run,
    smooth_image,
    stripes_image,
    video_range_codes,
)


def ffmpeg(*args: str, input: bytes | None = None) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], input=input, check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    with_audio = folder / "audio.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=0.8",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=0.8",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(with_audio),
    )  # fmt: skip
    silent = folder / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=80x60:rate=12:duration=0.5", "-pix_fmt", "yuv420p", str(silent))
    style = folder / "style.png"
    Image.fromarray(stripes_image(64, 64)).save(style)
    return {"audio": with_audio, "silent": silent, "style": style}


FAST = ["--mode", "photo", "--preset", "fast", "--size", "64", "--device", "cpu", "--quiet"]


def test_probe_and_read(clips):
    info = probe(clips["audio"])
    assert info.fps == 10 and info.size == (96, 64) and info.audio and not info.is_folder
    shape = frame_shape(info, 63)
    assert shape == (42, 62)  # long side 63 -> 63x42, made even for H.264
    frames = list(read_frames(info, shape=shape, start=2, end=5))
    assert len(frames) == 3 and frames[0].shape == (42, 62, 3) and frames[0].dtype == np.uint8
    assert not probe(clips["silent"]).audio


def test_reading_leaves_no_pipe_or_process_behind(clips, tmp_path):
    """Read to the end (ffmpeg ends by itself), stopped early (ffmpeg still running) and probed,
    a tiny clip too (ffmpeg ends before the probe is done): imageio-ffmpeg's reader left ffmpeg's
    pipes to the garbage collector in the first and last cases."""
    import gc
    import warnings

    tiny = tmp_path / "tiny.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=16x16:rate=5:duration=0.6", "-pix_fmt", "yuv420p", str(tiny))
    info = probe(clips["audio"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        everything = list(read_frames(info, shape=(42, 64)))
        early = read_frames(info, shape=(42, 64))
        first = next(early)
        early.close()
        probe(clips["silent"])
        for _ in range(5):  # whether ffmpeg has ended by then is a race, which it wins almost always
            probe(tiny)
        gc.collect()
    assert len(everything) == 8 and np.array_equal(first, everything[0])
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]


@pytest.fixture
def ffmpeg_checked_afresh():
    """:func:`restyle.clip._check_ffmpeg` runs once a process: run it again, and after the test
    once more for the ffmpeg the other tests use."""
    restyle.clip._check_ffmpeg.cache_clear()
    yield
    restyle.clip._check_ffmpeg.cache_clear()


@pytest.mark.parametrize("kind", ["missing", "not executable"])
def test_an_ffmpeg_that_cannot_run_is_a_one_line_error_naming_it(
    capsys, tmp_path, clips, monkeypatch, ffmpeg_checked_afresh, kind
):
    exe = tmp_path / "bin" / "ffmpeg"
    if kind == "not executable":
        exe.parent.mkdir()
        exe.write_text("not a program")
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))  # as a user points imageio-ffmpeg at their own
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, *FAST)
    reason = {"missing": "No such file or directory", "not executable": "Permission denied"}[kind]
    fix = "set by $IMAGEIO_FFMPEG_EXE, unset it to use imageio-ffmpeg's own"
    assert (
        code == 1 and err.strip() == f"restyle: error: ffmpeg {exe} cannot run: {reason}; {fix}"
    )  # not the clip's fault
    assert not out.exists()
    with pytest.raises(RestyleError, match=f"^ffmpeg {re.escape(str(exe))} cannot run"):
        read_metadata(clips["silent"])  # restyle info on a video


@pytest.mark.parametrize(
    ("version", "warned"),
    [("7.0.2-static", True), ("n9.0.2-17-g2a571b6068-20260930", False), ("N-118000-gabc123", False)],
)
def test_an_ffmpeg_older_than_the_oldest_checked_is_warned_about_once(
    tmp_path, clips, monkeypatch, ffmpeg_checked_afresh, version, warned
):
    import imageio_ffmpeg

    real = imageio_ffmpeg.get_ffmpeg_exe()
    exe = tmp_path / "ffmpeg"  # ffmpeg itself, but for the version it gives
    exe.write_text(
        f'#!/bin/sh\nif [ "$1" = -version ]; then echo "ffmpeg version {version} Copyright (c) 2000-2026"; exit 0; fi\n'
        f'exec "{real}" "$@"\n'
    )
    exe.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_metadata(clips["silent"]) == {}
        assert read_metadata(clips["silent"]) == {}  # checked once a process
    said = [str(w.message) for w in caught if issubclass(w.category, RestyleWarning)]
    if warned:  # a git build's version ("N-118000-g...") has no number to compare, and passes
        assert len(said) == 1 and said[0].startswith(f"ffmpeg {version} ({exe}; set by $IMAGEIO_FFMPEG_EXE")
        assert said[0].endswith("is older than 9, the oldest restyle video is checked with: raw streams and "
                                "variable-rate clips may be timed wrongly")  # fmt: skip
    else:
        assert said == []


def test_a_clip_that_cannot_be_decoded_is_a_one_line_error(tmp_path, clips):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clips["silent"].read_bytes())
    info = probe(broken)
    broken.write_bytes(b"not a video any more")  # changed between the probe and the read
    with pytest.raises(RestyleError, match=r"broken.mp4: decoding failed \(.*(Invalid data|moov).*\)$"):
        list(read_frames(info, shape=(60, 80)))


@pytest.mark.parametrize("module", ["imageio_ffmpeg", "cv2"])
def test_without_the_video_extra_video_work_is_a_one_line_error_naming_the_install(
    capsys, tmp_path, clips, monkeypatch, module
):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it fails
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, *FAST)
    package = {"imageio_ffmpeg": "imageio-ffmpeg", "cv2": "opencv-python-headless"}[module]
    assert code == 1 and err.strip() == f"restyle: error: video needs {package}: pip install 'restyle[video]'"
    assert not out.exists() and list(tmp_path.iterdir()) == []
    if module == "cv2":  # restyle info on a video reads its tag with ffmpeg alone
        info = probe(clips["silent"])
        frames = [np.zeros((16, 16, 3), np.uint8)] * 2
        write_video(frames, out, info, 0, 2, (16, 16), metadata={"mode": "art", "seed": 3})
        code, stdout, err = run(capsys, "info", out)
        assert code == 0 and json.loads(stdout) == {"mode": "art", "seed": 3}, err
    else:
        with pytest.raises(RestyleError, match=r"video needs imageio-ffmpeg: pip install 'restyle\[video\]'$"):
            read_metadata(clips["silent"])


def test_a_raw_stream_keeps_its_own_frame_rate_and_every_frame(tmp_path, capsys, clips):
    """A raw H.264 or HEVC stream has no container: ffmpeg's header says 25 fps, and no
    duration. Read at 25 fps, a 30-fps stream lost one frame in six and its length was 0."""
    for name, rate, seconds, codec in (("cam.h264", "30", 1, "libx264"), ("ntsc.hevc", "30000/1001", 2, "libx265")):
        raw = tmp_path / name
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=96x64:rate={rate}:duration={seconds}", "-pix_fmt", "yuv420p",
               "-c:v", codec, "-x265-params", "log-level=error", "-f", raw.suffix[1:], str(raw))  # fmt: skip
        info = probe(raw)
        assert info.fps == pytest.approx(float(Fraction(rate)), rel=1e-9) and info.frames == round(info.fps * seconds)
    info = probe(tmp_path / "cam.h264")
    assert len(list(read_frames(info, shape=(64, 96)))) == 30
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", info.path, clips["style"], "-o", out, *FAST)
    assert code == 0, err
    written = probe(out)
    assert written.fps == 30 and len(list(read_frames(written, shape=(42, 64)))) == 30


def test_an_anamorphic_clip_is_read_and_written_as_players_show_it(tmp_path, capsys, clips):
    """A clip whose pixels are not square (a DVD's, HDV's) was read at its coded size and written
    with square pixels: squeezed. It is read at its display aspect, as ffmpeg's own
    ``scale=iw*sar:ih`` gives it, and turned phone clips are stretched along the right side."""
    coded = tmp_path / "coded.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=144x96:rate=10:duration=0.5", "-pix_fmt", "yuv420p", str(coded))
    wide = tmp_path / "dvd.mp4"
    ffmpeg("-i", str(coded), "-vf", "setsar=32/27", "-pix_fmt", "yuv420p", str(wide))  # 16:9 shown
    info = probe(wide)
    assert info.size == (171, 96)
    shown = tmp_path / "shown.mp4"  # ffmpeg's own square-pixel version, losslessly
    ffmpeg("-i", str(wide), "-vf", "scale=iw*sar:ih:flags=area,setsar=1", "-c:v", "libx264rgb", "-qp", "0", str(shown))
    ours = next(read_frames(info, shape=(96, 170))).astype(float)
    reference = next(read_frames(probe(shown), shape=(96, 170))).astype(float)
    assert np.abs(ours - reference).mean() < 5  # scaled in other steps; cropped or padded, it is over 30
    turned = tmp_path / "turned.mp4"  # the same, recorded on its side
    ffmpeg("-display_rotation", "90", "-i", str(wide), "-c", "copy", str(turned))
    assert probe(turned).size == (96, 171)
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", wide, clips["style"], "-o", out, *FAST, "--size", "128")
    assert code == 0, err
    assert probe(out).size == (128, 72)  # 16:9 in square pixels


def test_an_interlaced_clip_is_deinterlaced_to_one_moment_per_frame(tmp_path):
    """Each frame of an interlaced clip holds two fields a moment apart; read as it was, a frame
    was the blend of both moments. Deinterlaced, it shows the first field's moment."""
    motion = tmp_path / "motion50.mp4"  # progressive, 50 frames a second: the fields' moments
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=192x128:rate=50:duration=0.4", "-vf", "scroll=h=0.005",
           "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", str(motion))  # fmt: skip
    interlaced = tmp_path / "interlaced.mp4"  # 25 frames a second, each of two of those moments
    ffmpeg("-i", str(motion), "-vf", "interlace=scan=tff,setfield=tff", "-c:v", "libx264", "-qp", "0",
           "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme", "-x264-params", "tff=1", str(interlaced))  # fmt: skip
    info = probe(interlaced)
    assert info.interlaced and info.fps == 25 and not probe(motion).interlaced
    got = np.stack(list(read_frames(info, shape=(64, 96)))).astype(float)
    moments = np.stack(list(read_frames(probe(motion), shape=(64, 96)))).astype(float)
    first, second = moments[0::2][: len(got)], moments[1::2][: len(got)]
    assert len(got) == 10
    # a blend of both moments is as far from either; a deinterlaced frame is near the first
    near, far = np.abs(got - first).mean(), np.abs(got - second).mean()
    assert near < 0.8 * far, (near, far)  # 0.60 here; 0.96 when read as it was


def test_cli_photo_fast_keeps_fps_frames_and_audio(capsys, tmp_path, clips):
    out = tmp_path / "out.mp4"
    code, stdout, err = run(capsys, "video", clips["audio"], clips["style"], "-o", out, *FAST)
    assert code == 0, err
    assert stdout.strip() == str(out)
    info = probe(out)
    assert info.fps == 10 and info.audio and info.size == (64, 42)
    assert len(list(read_frames(info, shape=(42, 64)))) == 8
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert not (tmp_path / "out.mp4.work").exists()  # the frames are removed once the video is written
    meta = read_metadata(out)  # the parameters, in the container's comment tag
    assert meta["mode"] == "photo" and meta["preset"] == "fast" and meta["size"] == 64 and meta["frames"] == "0:8"
    assert meta["style"] == str(clips["style"].resolve()) and meta["restyle_version"] == __version__


def test_a_style_given_in_memory_is_known_by_its_pixels(tmp_path, clips, capsys):
    """The Python API takes the style as an array too: the work folder knows it by a digest of
    its pixels (the same array continues a stopped run; another is told apart), and the output
    leaves its name for ``restyle info --command`` to fill."""
    style = stripes_image(64, 64)
    options = {"mode": "photo", "preset": "fast", "size": 64, "device": "cpu", "frames": "0:3", "keep_frames": True}
    out = stylize_video(clips["audio"], style, output=tmp_path / "out.mp4", **options)
    meta = read_metadata(out)
    assert meta["style"] == "<in memory>" and len(meta["style_pixels"]) == 16
    resumed = []
    log = {"callback": lambda p: p.stage == "stylise" and resumed.append(p.resumed)}
    stylize_video(clips["audio"], style.copy(), output=tmp_path / "out.mp4", **options, **log)
    assert resumed == [True] * 3  # the same pixels: the finished frames are taken
    other = np.ascontiguousarray(style[::-1])
    with pytest.raises(RestyleError, match="holds frames made with other settings"):  # another style
        stylize_video(clips["audio"], other, output=tmp_path / "out.mp4", **options)
    code, stdout, stderr = run(capsys, "info", "--command", out)
    assert code == 0 and stdout.split()[2:4] == [str(clips["audio"].resolve()), "STYLE"], stdout
    assert "put your files in place of STYLE" in stderr


def test_full_resolution_carries_each_frame_up_to_the_source(capsys, tmp_path, clips):
    from restyle.smoothing import guided_upsample

    options = {"mode": "photo", "preset": "fast", "size": 64, "keep_frames": True, "device": "cpu"}
    small = stylize_video(clips["audio"], clips["style"], output=tmp_path / "small", **options)
    resumed = []
    full = stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "full", work_dir=str(tmp_path / "small.work"),
        full_resolution=True, callback=lambda p: p.stage == "stylise" and resumed.append(p.resumed), **options,
    )  # fmt: skip
    assert resumed == [True] * 8  # the frames stylised before are carried up, not redone
    assert read_metadata(full / "000003.png")["full_resolution"] is True  # each frame carries the parameters
    info = probe(clips["audio"])
    # the guide and the frame it was stylised from, their 8-bit steps smoothed in YUV as the run
    # does (the guide's at the work size, followed at its own)
    sources = list(read_frames(info, shape=(64, 96), dequantise=True, smooth_shape=(42, 64)))
    contents = list(read_frames(info, shape=(42, 64), dequantise=True))
    for index in (0, 7):
        ours = np.asarray(Image.open(full / f"{index:06d}.png"))
        stylised = load_image(tmp_path / "small.work" / f"{index:06d}.png")  # kept at 16 bits
        delivered = np.asarray(Image.open(small / f"{index:06d}.png"))
        assert np.array_equal(delivered, to_uint8(stylised[0]).permute(1, 2, 0).numpy())
        expected = guided_upsample(stylised, *(frame_to_tensor(f) for f in (contents[index], sources[index])))
        assert ours.shape == (64, 96, 3)
        assert np.abs(ours.astype(int) - to_uint8(expected[0]).permute(1, 2, 0).numpy()).max() <= 1
    code, _, err = run(
        capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *FAST, "--full-resolution"
    )
    assert code == 0, err
    out = probe(tmp_path / "o.mp4")
    assert out.size == (96, 64) and out.audio and len(list(read_frames(out, shape=(64, 96)))) == 8
    code, stdout, _ = run(capsys, "info", tmp_path / "o.mp4")
    assert code == 0 and '"full_resolution": true' in stdout


@pytest.mark.parametrize("clip", ["silent", "audio"])  # "audio": the video stream is copied when the audio is added
def test_a_written_video_is_bt709_and_tagged_so(tmp_path, clips, clip):
    """Players take an untagged HD video as BT.709; ffmpeg's default conversion is BT.601."""
    import imageio_ffmpeg

    from restyle.clip import write_video

    info = probe(clips[clip])
    colours = np.zeros((60, 80, 3), np.uint8)
    colours[:, :26], colours[:, 26:52], colours[:, 52:] = (200, 40, 40), (40, 180, 60), (50, 60, 210)
    out = tmp_path / "o.mp4"
    write_video([colours] * 4, out, info, 0, 4, (80, 60))
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    described = subprocess.run([exe, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "yuv420p(tv, bt709" in described, described
    for matrix in ("", ":in_color_matrix=bt709"):  # as tagged (our reader), and as a player assuming BT.709
        command = [exe, "-v", "error", "-i", str(out), "-vf", f"scale=80:60{matrix}", "-frames:v", "1"]
        decoded = subprocess.run(
            [*command, "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], capture_output=True, check=True
        ).stdout
        frame = np.frombuffer(decoded, np.uint8).reshape(60, 80, 3)
        for column in (13, 39, 66):
            assert np.abs(frame[30, column].astype(int) - colours[30, column]).max() <= 4, (matrix, frame[30, column])
    ours = next(read_frames(probe(out), shape=(60, 80)))
    assert np.abs(ours[30, 39].astype(int) - colours[30, 39]).max() <= 4


@pytest.mark.parametrize(
    ("size", "encoded_by", "tags", "read_by"),
    [
        ("1280x720", "bt709", False, "bt709"),  # untagged HD: as players take it
        ("320x240", "bt601", False, None),  # untagged SD: BT.601, ffmpeg's and players' default
        ("1280x720", "bt601", True, None),  # tagged: by its tags
    ],
)
def test_an_untagged_hd_clip_is_read_as_players_show_it(tmp_path, size, encoded_by, tags, read_by):
    width, height = map(int, size.split("x"))
    colours = np.zeros((height, width, 3), np.uint8)
    third = width // 3
    colours[:, :third], colours[:, third : 2 * third], colours[:, 2 * third :] = (
        (200, 40, 40),
        (40, 180, 60),
        (50, 60, 210),
    )
    Image.fromarray(colours).save(tmp_path / "frame.png")
    matrix = "bt709" if encoded_by == "bt709" else "bt601"
    untag = "" if tags else ",setparams=colorspace=unknown:range=unknown"  # the scale filter tags what it does
    clip = tmp_path / "clip.mp4"
    ffmpeg(
        "-loop", "1", "-i", str(tmp_path / "frame.png"), "-frames:v", "2", "-vf",
        f"scale=out_color_matrix={matrix},format=yuv420p{untag}", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-crf", "10", str(clip),
    )  # fmt: skip
    info = probe(clip)
    assert info.matrix == read_by
    frame = next(read_frames(info, shape=(height, width)))
    for column in (third // 2, width // 2, width - third // 2):
        assert np.abs(frame[height // 2, column].astype(int) - colours[height // 2, column]).max() <= 4, column


@pytest.mark.parametrize(("curve", "trc"), [("hlg", "arib-std-b67"), ("pq", "smpte2084")])
def test_an_hdr_clip_is_read_as_an_sdr_screen_shows_it(tmp_path, clips, curve, trc):
    # an SDR picture encoded as HDR by the tests' own encoder (BT.2100's equations), as a phone
    # records it: 10-bit BT.2020, tagged with its curve; read back, it is the SDR picture again
    height, width = 32, 48
    sdr = np.repeat(np.repeat(np.random.default_rng(0).uniform(0.2, 0.9, (4, 6, 3)), 8, 0), 8, 1)
    codes = video_range_codes(encode_hdr(sdr, curve), (0.2627, 0.0593), 10)
    hdr = tmp_path / "hdr.mkv"
    tags = f"setparams=color_primaries=bt2020:color_trc={trc}:colorspace=bt2020nc:range=tv"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv444p10le", "-s", f"{width}x{height}", "-r", "10", "-i", "-",
        "-vf", tags, "-c:v", "libx264", "-qp", "0", str(hdr),
        input=codes * 3,
    )  # fmt: skip
    with pytest.warns(RestyleWarning, match=f"an HDR clip \\({curve.upper()}\\); it is read as an SDR screen shows it"):
        info = probe(hdr)
    frames = list(read_frames(info, shape=(height, width)))
    assert info.deep and frames[0].dtype == np.uint16  # converted at 16 bits, not rounded to 8
    errors = np.abs(frames[0] / 65535.0 - sdr) * 255  # in 8-bit levels
    # the rounding to 10-bit codes alone: HLG 0.22 mean, 0.79 largest; PQ, which spends half its
    # codes above SDR white, 0.44 and 2.08 (unrounded, restyle's conversion is within 0.02)
    mean, largest = (0.3, 1.0) if curve == "hlg" else (0.5, 2.2)
    assert len(frames) == 3 and errors.mean() < mean and errors.max() < largest
    # its codes smoothed first (the fast preset's video), then converted by restyle, not ffmpeg
    assert info.yuv == ("bt2020nc", False, 10)
    smoothed = next(read_frames(info, shape=(height, width), dequantise=True))
    errors = np.abs(smoothed / 65535.0 - sdr) * 255
    assert smoothed.dtype == np.uint16 and errors.mean() < mean
    # where neighbouring blocks' codes differ by one, they move up to 3/4 of a code towards each
    # other: in PQ, up to 0.8 of an SDR level more
    assert errors.max() < largest + (0.2 if curve == "hlg" else 0.8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe(clips["audio"])  # SDR: no warning


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v"])
def test_every_offered_video_type_is_written_with_its_audio(tmp_path, clips, suffix):
    """Every type ``check_video_suffix`` accepts; a .webm was refused by ffmpeg (H.264 and AAC
    in WebM) and reported as a video with 0 frames."""
    from restyle.clip import VIDEO_SUFFIXES, write_video

    assert suffix in VIDEO_SUFFIXES
    info = probe(clips["audio"])
    frames = list(read_frames(info, shape=(64, 96)))
    out = tmp_path / f"o{suffix}"
    write_video(frames, out, info, 0, len(frames), (96, 64), metadata={"seed": 3})
    written = probe(out)
    back = list(read_frames(written, shape=(64, 96)))
    assert written.audio and len(back) >= len(frames) - 1  # the audio may trim the last frame
    assert np.abs(back[3].astype(int) - frames[3]).mean() < 6
    assert read_metadata(out) == {"seed": 3}


def test_video_metadata_round_trips_characters_ffmpeg_escapes(tmp_path, clips):
    from restyle.clip import read_video_metadata, write_video

    info = probe(clips["silent"])
    frames = list(read_frames(info, shape=(60, 80)))
    meta = {"style": "C:\\my; style=#1.png", "size": 64, "weights": [1.5, 2]}
    write_video(frames, tmp_path / "o.mkv", info, 0, len(frames), (80, 60), metadata=meta)
    assert read_video_metadata(tmp_path / "o.mkv") == meta == read_metadata(tmp_path / "o.mkv")
    write_video(frames, tmp_path / "plain.mp4", info, 0, len(frames), (80, 60))
    assert read_metadata(tmp_path / "plain.mp4") == {}


def test_an_animated_gif_loops_keeps_its_parameters_and_does_not_flicker(tmp_path, clips):
    """A GIF for sharing: it loops, at the clip's rate, with the parameters in a comment block
    (ffmpeg's writer stores none). Ordered dithering puts the same pattern on the same colours in
    every frame: a still scene whose frames differ by a level of noise stays nearly still (9% of
    its pixels change from frame to frame here; with ffmpeg's default error diffusion, 30%)."""
    from restyle.clip import VideoInfo, write_video

    rng = np.random.default_rng(0)
    still = np.asarray(Image.fromarray(smooth_image(60, 80)))  # smooth gradients: dithered
    frames = [np.clip(still.astype(int) + rng.integers(-1, 2, still.shape), 0, 255).astype(np.uint8) for _ in range(6)]
    info = VideoInfo(tmp_path / "src", 12.5, (80, 60), len(frames), False, False)
    out = tmp_path / "o.gif"
    meta = {"style": "C:\\my; style=#1.png", "size": 64}
    write_video(iter(frames), out, info, 0, len(frames), (80, 60), metadata=meta)
    assert read_metadata(out) == meta
    with Image.open(out) as gif:
        assert gif.n_frames == 6 and gif.info["loop"] == 0 and gif.info["duration"] == 80  # 12.5 fps
        shown = []
        for index in range(gif.n_frames):
            gif.seek(index)
            shown.append(np.asarray(gif.convert("RGB")).astype(int))
    assert all(np.abs(frame - still).mean() < 8 for frame in shown)  # 256 colours for many hues: 6.9
    changed = [(np.abs(b - a).max(axis=2) > 0).mean() for a, b in itertools.pairwise(shown)]
    assert max(changed) < 0.15, changed


def test_a_gif_from_a_clip_with_sound_says_it_is_left_out(capsys, tmp_path, clips):
    out = tmp_path / "o.gif"
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", out, "--frames", "0:2", *FAST)
    assert code == 0 and err == f"restyle: warning: {out}: a GIF holds no sound; the clip's audio is left out\n"
    assert probe(out).frames == 2 and not probe(out).audio
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, "--bit-depth", "10", *FAST)
    assert code == 1 and "a .gif video holds 8 bits per channel here; use .mp4, .mkv, .mov, .webm for 10" in err


def test_a_gif_too_large_to_make_its_palette_is_refused_before_any_work(capsys, tmp_path, clips, monkeypatch):
    import restyle.clip

    monkeypatch.setattr(restyle.clip, "GIF_MAX_BYTES", 5 * 64 * 48 * 3)  # 5 frames at 64 x 48
    out = tmp_path / "o.gif"
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, "--frames", "0:6", *FAST)
    assert code == 1 and err.count("\n") == 1, err
    assert "6 frames at 64x48 would take 0.0 GiB; give at most 5 frames (--frames), a smaller --size" in err
    assert not out.exists() and not (tmp_path / "o.gif.work").exists()
    assert run(capsys, "video", clips["silent"], clips["style"], "-o", out, "--frames", "0:5", *FAST)[0] == 0


def test_a_gif_of_a_60_fps_clip_keeps_every_other_frame_so_browsers_play_it_at_its_speed(tmp_path):
    """ffmpeg writes 60 fps as delays of 0.01 and 0.02 s; browsers show the 0.01-s ones for 0.1 s."""
    from restyle.clip import VideoInfo, check_gif_frames, write_video
    from restyle.gif import frame_delays

    frames = [np.full((32, 48, 3), 20 * i, dtype=np.uint8) for i in range(12)]
    info = VideoInfo(tmp_path / "src", 60.0, (48, 32), len(frames), False, False)
    out = tmp_path / "o.gif"
    with pytest.warns(RestyleWarning) as caught:
        write_video(iter(frames), out, info, 0, len(frames), (48, 32))
    assert [str(w.message) for w in caught] == [
        f"{out}: browsers play a GIF at up to 50 frames per second; one frame in 2 of the 60-fps clip is kept (30 fps)"
    ]
    delays = frame_delays(out.read_bytes())
    assert len(delays) == 6 and set(delays) == {3, 4} and sum(delays) == 20  # 0.2 s, as the clip
    shown = list(read_frames(probe(out), shape=(32, 48)))
    assert [int(f.mean().round()) for f in shown] == [40 * i for i in range(6)]  # frames 0, 2, 4, ...
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 50 fps is played as it is: no warning
        write_video(iter(frames), tmp_path / "fifty.gif", dataclasses.replace(info, fps=50.0), 0, 12, (48, 32))
    assert frame_delays((tmp_path / "fifty.gif").read_bytes()) == [2] * 12
    limit = restyle.clip.GIF_MAX_BYTES // (48 * 32 * 3)
    check_gif_frames(out, 2 * limit, (48, 32), 60.0)  # half of them are kept: they fit
    with pytest.raises(RestyleError, match=f"give at most {2 * limit} frames"):
        check_gif_frames(out, 2 * limit + 1, (48, 32), 60.0)


@pytest.mark.parametrize("clip", ["silent", "audio"])
def test_an_encoder_that_writes_nothing_is_an_error_not_an_empty_video(tmp_path, clips, monkeypatch, clip):
    """On a full disk ffmpeg wrote an empty MP4 and exited cleanly; the audio step then said the
    audio could not be copied and the empty file became the result."""
    import imageio_ffmpeg

    from restyle.clip import write_video

    info = probe(clips[clip])
    frames = list(read_frames(info, shape=(60, 80)))
    real = imageio_ffmpeg.write_frames

    def truncating(path, *args, **kwargs):  # encodes as usual, then the file is cut to nothing
        gen = real(path, *args, **kwargs)
        gen.send(None)
        try:
            while True:
                gen.send((yield))
        except GeneratorExit:
            gen.close()
            Path(path).write_bytes(b"")

    monkeypatch.setattr(imageio_ffmpeg, "write_frames", truncating)
    out = tmp_path / "o.mp4"
    with pytest.raises(
        RestyleError, match=rf"o.mp4: encoding failed \(the written video has 0 of {len(frames)} frames;"
    ):
        write_video(frames, out, info, 0, len(frames), (80, 60))
    assert list(tmp_path.iterdir()) == []


def test_frame_bar_counts_the_frames_read_then_those_stylised(capsys):
    bar = _FrameBar(quiet=False)
    assert "reading frames" in capsys.readouterr().err  # shown at once
    image = torch.zeros(1, 3, 4, 4)
    for index in range(3):  # the estimate is 5; three frames are read
        bar(FrameProgress(index, max(5, index + 2), False, 0.1, 0.1 * (index + 1), 0.3, image, stage="read"))
    assert (bar.bar.n, bar.bar.total) == (3, 5)
    read_at = bar.bar.start_t
    capsys.readouterr()
    bar(FrameProgress(2, 3, False, 0.0, 0.3, 0.0, image, stage="read"))  # all read: the count
    assert (bar.bar.n, bar.bar.total) == (0, None) and bar.bar.start_t >= read_at  # its clock again
    started = bar.bar.start_t
    shown = [line.strip() for line in capsys.readouterr().err.split("\r") if line.strip()]
    # straight to the stylising: never "reading frames: 0/5", the old bar emptied, in between
    assert shown and all(line.startswith("first frame, stylised in full: 0frame") for line in shown), shown
    bar(FrameProgress(index=0, total=3, resumed=False, seconds=2.5, elapsed=2.5, eta=5.0, image=image))
    bar(FrameProgress(index=1, total=3, resumed=True, seconds=0.0, elapsed=2.6, eta=2.5, image=image))
    assert (bar.bar.n, bar.bar.total, bar.bar.start_t) == (2, 3, started)  # timed from the first frame
    bar.close()
    err = capsys.readouterr().err
    assert "2/3" in err and "resumed" in err and "first frame" not in err.splitlines()[-1]
    quiet = _FrameBar(quiet=True)
    quiet(FrameProgress(0, 3, False, 0.1, 0.1, 0.2, image, stage="read"))
    quiet(FrameProgress(index=0, total=3, resumed=False, seconds=1.0, elapsed=1.0, eta=2.0, image=image))
    quiet.close()
    assert capsys.readouterr().err == ""


def test_the_frames_are_reported_as_they_are_read(tmp_path, clips):
    reports = []
    stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "o.mp4", mode="photo", preset="fast", size=48,
        frames="2:7", device="cpu", callback=reports.append,
    )  # fmt: skip
    read = [p for p in reports if p.stage == "read"]
    stylised = [p for p in reports if p.stage == "stylise"]
    assert reports == read + stylised  # all read before the first is stylised
    assert [p.index for p in read] == [0, 1, 2, 3, 4, 4]  # then once more, with the count
    assert [p.index + 1 == p.total for p in read] == [False] * 5 + [True]  # the end only at the end
    assert read[-1].total == 5 and [p.index for p in stylised] == [0, 1, 2, 3, 4]
    assert tuple(read[0].image.shape) == (1, 3, 32, 48) and all(p.eta >= 0 for p in read)
    assert not (tmp_path / "o.mp4.work").exists()


def test_silent_clip_and_frame_range(capsys, tmp_path, clips):
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, "--frames", "1:4", *FAST)
    assert code == 0, err
    info = probe(out)
    assert not info.audio and info.fps == 12
    assert len(list(read_frames(info, shape=frame_shape(info, 64)))) == 3


def test_a_small_style_is_warned_about_once_per_clip(capsys, tmp_path, clips):
    small = tmp_path / "small.png"
    Image.fromarray(stripes_image(24, 24)).save(small)
    art = ["--mode", "art", "--size", "64", "--iterations", "1", "--frame-iterations", "1", "--quiet"]
    code, _, err = run(capsys, "video", clips["silent"], small, "-o", tmp_path / "o.mp4", "--frames", "0:3", *art)
    assert code == 0 and err.count("\n") == 1, err
    assert err.startswith("restyle: warning: the style is 24x24, enlarged 2.7 times to 64 px: its brush strokes")
    # photo mode takes the style's colours at its own size: nothing to warn about
    code, _, err = run(capsys, "video", clips["silent"], small, "-o", tmp_path / "p.mp4", "--frames", "0:2", *FAST)
    assert code == 0 and err == "", err


def test_info_command_makes_the_same_video_again(capsys, tmp_path, clips):
    import shlex

    out = tmp_path / "out.mp4"
    argv = ["video", clips["silent"], clips["style"], "-o", out, "--frames", "1:3", "--temporal-weight", "2", *FAST]
    assert run(capsys, *argv)[0] == 0
    code, stdout, err = run(capsys, "info", "--command", out)
    assert code == 0 and err == "", err
    words = shlex.split(stdout)
    assert words[:5] == ["restyle", "video", str(clips["silent"]), str(clips["style"]), "-o"]
    assert words[5] == str(tmp_path / "out-again.mp4") and "--temporal-weight" in words
    assert run(capsys, *words[1:], "--quiet")[0] == 0
    again = tmp_path / "out-again.mp4"
    assert read_metadata(again) == read_metadata(out)
    shape = frame_shape(probe(out), 64)
    first, second = (list(read_frames(probe(path), shape=shape)) for path in (out, again))
    assert len(first) == 2 and all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    # a frame of a folder output: the command writes another folder
    assert (
        run(capsys, "video", clips["silent"], clips["style"], "-o", tmp_path / "frames", "--frames", "0:1", *FAST)[0]
        == 0
    )
    words = shlex.split(run(capsys, "info", "--command", tmp_path / "frames" / "000000.png")[1])
    assert words[words.index("-o") + 1] == str(tmp_path / "frames-again")


def test_a_built_in_style_is_recorded_by_its_name(capsys, tmp_path, clips):
    """``sample:coffee`` was recorded as a path in the current folder (/here/sample:coffee), so
    ``info --command`` named a file that does not exist."""
    import shlex

    out = tmp_path / "o.mp4"
    assert run(capsys, "video", clips["silent"], "sample:coffee", "-o", out, "--frames", "0:1", *FAST)[0] == 0
    assert read_metadata(out)["style"] == "sample:coffee"
    code, stdout, err = run(capsys, "info", "--command", out)
    assert code == 0 and err == "" and shlex.split(stdout)[3] == "sample:coffee", (stdout, err)


def test_variable_frame_rate_is_resampled_keeping_duration(capsys, tmp_path, clips):
    # frames 0-3 at 0.1 s steps, then a 0.5 s gap, then 4-9 at 0.1 s steps: 10 frames over 1.5 s
    vfr = tmp_path / "vfr.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=1",
        "-vf", "setpts='(N+if(gte(N,4),5,0))/10/TB'", "-fps_mode", "vfr",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(vfr),
    )  # fmt: skip
    info = probe(vfr)
    assert info.fps == pytest.approx(10 / 1.5, abs=0.01) and info.frames == 10
    frames = list(read_frames(info, shape=(64, 96)))
    assert len(frames) == info.frames  # one frame per 1/fps of the clip's duration, no extras
    changed = [np.abs(b.astype(int) - a).mean() > 0 for a, b in itertools.pairwise(frames)]
    assert not all(changed)  # the gap is filled by repeating a frame
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", vfr, clips["style"], "-o", out, *FAST)
    assert code == 0, err
    result = probe(out)
    assert result.frames == 10 and result.fps == info.fps  # the clip's duration (1.5 s) is kept


def test_temporal_stabilisation_reduces_flicker(tmp_path, clips):
    contents = [
        torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255
        for f in read_frames(probe(clips["audio"]), shape=(42, 64))
    ]
    errors = {}
    for weight in (0.0, 4.0):
        folder = tmp_path / f"w{int(weight)}"
        stylize_video(
            clips["audio"], clips["style"], output=folder, mode="photo", preset="fast", size=64,
            temporal_weight=weight, device="cpu",
        )  # fmt: skip
        stylised = [load_image(p) for p in sorted(folder.glob("*.png"))]
        assert len(stylised) == 8
        errors[weight] = float(np.mean(temporal_error(contents, stylised)))
    assert errors[4.0] < 0.5 * errors[0.0], errors


def test_temporal_target_takes_each_pixel_from_the_nearest_trusted_frame():
    h, w = 6, 8
    done = {j: torch.full((1, 3, h, w), float(j)) for j in range(12)}

    def flow(a, b):
        f = torch.zeros(1, 2, h, w)
        if (a, b) == (10, 11):  # disagrees with the backward flow (zero) on the left half: occluded there
            f[:, 0, :, : w // 2] = 3.0
        return f

    start, term = _temporal_target(11, done, 1, flow=flow, long_term=True, weight=5.0)
    assert torch.equal(start, done[10])  # the start is always the nearest frame
    expected = torch.full((1, 3, h, w), 10.0)
    expected[..., : w // 2] = 1.0  # frame 11 - 10 fills in where frame 10 cannot be trusted
    torch.testing.assert_close(term.target, expected)
    torch.testing.assert_close(term.certainty, torch.ones(1, 1, h, w))
    assert term.weight == 5.0
    # short-term only: frame 10 alone, untrusted on the left half
    _, term = _temporal_target(11, done, 1, flow=flow, long_term=False, weight=5.0)
    assert term.certainty[..., : w // 2].eq(0).all() and term.certainty[..., w // 2 :].eq(1).all()
    # a backward pass looks at the later frame; nothing to warp from when it is not done
    start, _ = _temporal_target(3, done, -1, flow=flow, long_term=False, weight=1.0)
    assert torch.equal(start, done[4])
    assert _temporal_target(11, {9: done[9]}, 1, flow=flow, long_term=True, weight=1.0) is None


def test_frame_options_first_frame_in_full_later_frames_short():
    common = dict(
        size=64, seed=3, device="cpu", iterations=None, frame_iterations=7, style_weight=None, dequantise=False
    )
    first = _frame_options(mode="art", preset="fast", first=True, content_weight=2.0, **common)
    assert first == {"size": 64, "seed": 3, "device": "cpu", "content_weight": 2.0}
    later = _frame_options(mode="art", preset="fast", first=False, content_weight=None, **common)
    assert later["iterations"] == 7 and later["pyramid"] is False
    photo = _frame_options(mode="photo", preset="default", first=False, content_weight=None, **common)
    assert photo["preset"] == "default" and photo["iterations"] == 7 and "pyramid" not in photo
    assert photo["dequantise"] is False  # the video's choice, passed on to every frame
    fast = _frame_options(mode="photo", preset="fast", first=True, content_weight=None, **common)
    assert fast["smoothing"] == "none" and "iterations" not in fast
    # the fast preset optimises nothing: neither weights nor iterations reach it (each frame warned)
    weighted = _frame_options(mode="photo", preset="fast", first=False, content_weight=2.0, **common)
    assert weighted == {
        "size": 64, "seed": 3, "device": "cpu", "dequantise": False, "preset": "fast", "smoothing": "none"
    }  # fmt: skip


def test_cli_photo_fast_warns_once_of_options_it_ignores(capsys, tmp_path, clips):
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, *FAST, "--style-weight", "5")
    assert code == 0, err
    assert err.count("warning") == 1
    assert "restyle: warning: --style-weight has no effect with preset fast: it runs no optimisation" in err


def test_art_mode_uses_the_warped_previous_frame(tmp_path, clips, monkeypatch):
    import restyle.artistic

    calls = []
    real = restyle.artistic.stylize

    def spy(content, style, **kwargs):
        calls.append(kwargs)
        return real(content, style, **kwargs)

    monkeypatch.setattr(restyle.artistic, "stylize", spy)
    stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "o", mode="art", size=48, frames="0:3",
        iterations=2, frame_iterations=1, device="cpu",
    )  # fmt: skip
    assert len(calls) == 3
    assert calls[0]["_temporal"] is None and calls[0]["iterations"] == 2
    start, term = calls[1]["_temporal"]
    assert calls[1]["iterations"] == 1 and calls[1]["pyramid"] is False
    assert term.weight == 1e3 and term.target.shape == start.shape and 0 < term.certainty.mean() <= 1
    assert len(list((tmp_path / "o").glob("*.png"))) == 3
    # one L-BFGS memory goes through all frames (the first frame's full-size scale seeds it)
    memory = calls[0]["_memory"]
    assert memory is not None and all(c["_memory"] is memory for c in calls) and memory.steps
    # the per-frame baseline keeps its frames independent: no memory
    calls.clear()
    stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "b", mode="art", size=48, frames="0:2",
        iterations=2, temporal_weight=0, device="cpu",
    )  # fmt: skip
    assert [c["_memory"] for c in calls] == [None, None]


def test_photo_default_frames_skip_the_pyramid_and_share_memory(tmp_path, clips, monkeypatch):
    import restyle.photo

    results = []
    real = restyle.photo.stylize_photo

    def spy(content, style, **kwargs):
        result = real(content, style, **kwargs)
        results.append((kwargs, result))
        return result

    monkeypatch.setattr(restyle.photo, "stylize_photo", spy)
    quick = dataclasses.replace(restyle.photo.PRESETS["default"], coarse_iterations=2)
    monkeypatch.setitem(restyle.photo.PRESETS, "default", quick)
    stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "o", mode="photo", preset="default", size=256,
        frames="0:2", iterations=2, frame_iterations=3, device="cpu",
    )  # fmt: skip
    (first_kwargs, first), (later_kwargs, later) = results
    assert len({r.scale for r in first.history}) > 1  # the first frame: coarse-to-fine
    assert [r.iteration for r in later.history] == [1, 2, 3] and {r.scale for r in later.history} == {0}
    assert later.history[0].size == first.history[-1].size  # at the full working size
    assert first_kwargs["_memory"] is later_kwargs["_memory"] and later_kwargs["_memory"].steps


def test_long_term_and_multi_pass_run(tmp_path, clips):
    out = stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "o", mode="photo", preset="fast", size=48,
        long_term=True, passes=2, keep_frames=True, device="cpu",
    )  # fmt: skip
    assert len(list(out.glob("*.png"))) == 8
    assert len(list((tmp_path / "o.work").glob("pass1_*.png"))) == 8


def test_folder_of_frames_in_and_out(tmp_path, clips):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, f in enumerate(read_frames(probe(clips["audio"]), shape=(40, 60), end=4)):
        Image.fromarray(f).save(frames / f"f{i:03d}.png")
    out = stylize_video(
        frames, clips["style"], output=tmp_path / "out.mp4", mode="photo", preset="fast", size=60, fps=8, device="cpu"
    )
    info = probe(out)
    assert info.fps == 8 and info.size == (60, 40) and not info.audio


def test_a_folder_of_frames_over_max_pixels_is_read_downscaled_as_an_image_would_be(capsys, tmp_path, clips):
    """A timelapse of 61-MP photos (9504x6336) failed at its first frame: "over the --max-pixels
    limit of 50.0 MP; pass a larger --max-pixels", a flag restyle video did not have, though a
    video file of that size was read and an image of it is downscaled to --size. Here with 96x64
    frames (6144 pixels) and a --max-pixels below them."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, f in enumerate(read_frames(probe(clips["audio"]), shape=(64, 96), end=3)):
        Image.fromarray(f).save(frames / f"f{i:03d}.png")
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", frames, clips["style"], "-o", out, *FAST, "--max-pixels", "5000")
    assert code == 0, err  # within 4 times the limit, and --size 64 asks for smaller frames: read
    assert probe(out).size == (64, 42) and read_metadata(out)["max_pixels"] == 5000
    assert "--max-pixels 5000" in run(capsys, "info", "--command", out)[1]
    large_style = tmp_path / "large_style.png"
    Image.fromarray(stripes_image(160, 160)).save(large_style)  # 25600 pixels
    bigger = tmp_path / "bigger.mp4"
    trust = "the --max-pixels limit of {} pixels; pass a larger --max-pixels if you trust this file"
    for style, argv, error in [
        (  # more than 4 times over
            clips["style"],
            ["--max-pixels", "1500", "--size", "32"],
            f"the frames of {frames}: 96x64 (6144 pixels) is over " + trust.format(1500),
        ),
        (  # frames as large as asked for, not smaller
            clips["style"],
            ["--max-pixels", "5000", "--size", "96"],
            "the frames: --size 96 would make it 96x64 (6144 pixels), over the --max-pixels limit of 5000 pixels; "
            "use a smaller --size",
        ),
        (large_style, ["--max-pixels", "5000"], f"{large_style}: 160x160 (25600 pixels) is over " + trust.format(5000)),
        (  # the output at the frames' own size: nothing brings them down
            clips["style"],
            ["--max-pixels", "5000", "--full-resolution"],
            f"--full-resolution: the frames of {frames}: 96x64 (6144 pixels) is over " + trust.format(5000),
        ),
    ]:
        code, _, err = run(capsys, "video", frames, style, "-o", bigger, *FAST, *argv)
        assert (code, err) == (1, f"restyle: error: {error}\n")
    assert not bigger.exists()


def test_a_folder_of_large_jpeg_frames_is_decoded_at_a_reduced_scale_alike(tmp_path, monkeypatch):
    """A timelapse's camera JPEGs were decoded whole and then brought down to --size: a 24-MP
    frame took 0.48 s where libjpeg's scaled decoding takes 0.04 s."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        picture = Image.fromarray(smooth_image(60, 80, seed=i)).resize((640, 480), Image.BICUBIC)
        picture.save(frames / f"f{i}.jpg", quality=95)
    shape = (48, 64)
    asked = []
    jpeg = JpegImagePlugin.JpegImageFile
    draft = jpeg.draft
    monkeypatch.setattr(jpeg, "draft", lambda img, *a: asked.append(a) or draft(img, *a))
    fast = list(read_frames(probe(frames), shape=shape))
    assert asked == [("RGB", (160, 120))] * 2  # decoded at 1/4: 1/8 (80x60) would fall below 64
    for i, frame in enumerate(fast):
        whole = torch.nn.functional.interpolate(
            load_image(frames / f"f{i}.jpg"), size=shape, mode="bilinear", antialias=True
        )
        assert np.abs(frame.astype(int) - to_uint8(whole[0]).permute(1, 2, 0).numpy()).mean() < 1


def test_a_folder_of_frames_is_read_in_the_order_of_their_numbers(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for number in (1, 2, 9, 10, 11):  # no leading zeros: by name alone, frame10 comes before frame2
        Image.new("RGB", (32, 24), (number * 20, 0, 0)).save(frames / f"frame{number}.png")
    reds = [int(f[0, 0, 0]) for f in read_frames(probe(frames), shape=(24, 32))]
    assert reds == [20, 40, 180, 200, 220]


def test_a_folder_of_turned_photos_is_read_upright(tmp_path, clips):
    frames = tmp_path / "frames"
    frames.mkdir()
    stored = np.zeros((24, 32, 3), np.uint8)
    stored[:, :16] = 255  # stored landscape, the left half white; upright (EXIF 6): portrait, the top half white
    for index in range(3):
        img = Image.fromarray(stored)
        exif = img.getexif()
        exif[0x0112] = 6
        img.save(frames / f"{index}.jpg", exif=exif, quality=95)
    info = probe(frames)
    assert info.size == (24, 32)  # (width, height): portrait, as load_image reads each frame
    out = stylize_video(
        frames, clips["style"], output=tmp_path / "o", mode="photo", preset="fast", size=32, device="cpu"
    )
    first = np.asarray(Image.open(sorted(out.glob("*.png"))[0]))
    assert first.shape == (32, 24, 3)


def test_frames_of_another_aspect_ratio_get_one_warning(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.new("RGB", (64, 48)).save(frames / "1.png")
    Image.new("RGB", (32, 24)).save(frames / "2.png")  # smaller, the same 4:3: resized, no warning
    for number in (3, 4):
        Image.new("RGB", (48, 64)).save(frames / f"{number}.png")  # portrait among landscape frames
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert probe(frames).size == (64, 48)
    assert [str(w.message) for w in caught] == [
        f"the frame {frames / '3.png'} is 48x64 but the first frame is 64x48: a different aspect ratio; stretching it"
    ]


def test_a_frame_that_is_not_an_image_fails_before_any_work(capsys, tmp_path, clips):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0.png").write_bytes(b"not an image")
    Image.new("RGB", (64, 48)).save(frames / "1.png")
    code, _, err = run(capsys, "video", frames, clips["style"], "-o", tmp_path / "o.mp4", *FAST)
    assert code == 1 and err == f"restyle: error: {frames / '0.png'}: not an image, or a format restyle cannot read\n"


def test_resume_after_ctrl_c(capsys, tmp_path, clips, monkeypatch):
    import restyle.photo

    real = restyle.photo.stylize_photo
    count = {"n": 0}

    def interrupt_third(*args, **kwargs):
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(restyle.photo, "stylize_photo", interrupt_third)
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", out, *FAST)
    assert code == 130
    assert err.endswith(f"interrupted; 2 finished frames are kept in {out}.work: run the same command to continue\n")
    assert not out.exists()
    assert len(list((tmp_path / "out.mp4.work").glob("0*.png"))) == 2
    monkeypatch.setattr(restyle.photo, "stylize_photo", real)
    resumed = []
    stylize_video(
        clips["audio"], clips["style"], output=out, mode="photo", preset="fast", size=64, device="cpu",
        callback=lambda p: p.stage == "stylise" and resumed.append(p.resumed),
    )  # fmt: skip
    assert resumed == [True, True] + [False] * 6
    assert probe(out).fps == 10
    assert not (tmp_path / "out.mp4.work").exists()  # written: the frames are no longer needed


def test_kept_frames_extend_the_clip_and_only_our_files_are_removed(tmp_path, clips):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("the user's own file")
    (work / "123.png").write_bytes(b"not a frame of ours")
    options = {"mode": "photo", "preset": "fast", "size": 48, "work_dir": str(work), "device": "cpu"}
    stylize_video(clips["audio"], clips["style"], output=tmp_path / "a.mp4", frames="0:3", keep_frames=True, **options)
    assert len(list(work.glob("00*.png"))) == 3 and (work / "settings.json").exists()
    resumed = []
    out = stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "b.mp4", frames="0:5",
        callback=lambda p: p.stage == "stylise" and resumed.append(p.resumed), **options,
    )  # fmt: skip
    assert resumed == [True] * 3 + [False] * 2  # the kept frames were reused, not redone
    assert len(list(read_frames(probe(out), shape=(32, 48)))) == 5
    assert sorted(p.name for p in work.iterdir()) == ["123.png", "notes.txt"]  # ours removed, the rest kept


@pytest.mark.parametrize("mode", ["art", "photo"])
def test_an_odd_size_is_rounded_down_to_even_frames(capsys, tmp_path, clips, mode):
    # --size 63 on an 80x60 clip: the frames are 62x46, not 63x47 (H.264 needs even sides); each
    # frame is stylised at the frames' own size, so its result matches the flow between frames
    # (a 63x47 result did not)
    out = tmp_path / f"{mode}.mp4"
    opts = ["--mode", mode, "--size", "63", "--frames", "0:3", "--device", "cpu", "--quiet"]
    if mode == "art":
        opts += ["--iterations", "2", "--frame-iterations", "1"]
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, *opts)
    assert code == 0, err
    assert probe(out).size == (62, 46) and len(list(read_frames(probe(out), shape=(46, 62)))) == 3


def test_a_work_frame_of_another_size_is_redone(tmp_path, clips):
    # a work folder left by an older restyle with the same settings but frames of another size
    options = {"mode": "photo", "preset": "fast", "size": 48, "frames": "0:3", "device": "cpu"}
    work = tmp_path / "o.mp4.work"
    stylize_video(clips["silent"], clips["style"], output=tmp_path / "o.mp4", keep_frames=True, **options)
    Image.new("RGB", (49, 37)).save(work / "000001.png")
    resumed = []
    out = stylize_video(
        clips["silent"], clips["style"], output=tmp_path / "o.mp4", callback=lambda p: p.stage == "stylise" and resumed.append(p.resumed),
        **options,
    )  # fmt: skip
    assert resumed == [True, False, True]
    assert probe(out).size == (48, 36)


def test_other_settings_in_the_work_folder_are_refused(tmp_path, clips):
    out = tmp_path / "o"
    stylize_video(
        clips["silent"], clips["style"], output=out, mode="photo", size=48, frames="0:2", keep_frames=True,
        device="cpu",
    )  # fmt: skip
    with pytest.raises(RestyleError, match="other settings"):
        stylize_video(clips["silent"], clips["style"], output=out, mode="photo", size=64, frames="0:2", device="cpu")


def test_full_disk_keeps_finished_frames(tmp_path, clips, monkeypatch):
    real = restyle.video.atomic_write
    calls = {"n": 0}

    def fail_on_third_frame(path, write):
        if path.suffix == ".png":
            calls["n"] += 1
            if calls["n"] == 3:
                raise RestyleError(f"{path}: cannot write: No space left on device")
        return real(path, write)

    monkeypatch.setattr(restyle.video, "atomic_write", fail_on_third_frame)
    with pytest.raises(RestyleError, match="No space left on device; the frames finished so far are kept"):
        stylize_video(clips["audio"], clips["style"], output=tmp_path / "o.mp4", mode="photo", size=48, device="cpu")
    assert len(list((tmp_path / "o.mp4.work").glob("0*.png"))) == 2
    assert not (tmp_path / "o.mp4").exists()


def test_large_source_is_downscaled_with_a_warning(tmp_path, clips, monkeypatch):
    monkeypatch.setattr(restyle.video, "LARGE_SOURCE_PIXELS", 100)
    with pytest.warns(RestyleWarning, match="downscaled"):
        stylize_video(
            clips["silent"], clips["style"], output=tmp_path / "o", mode="photo", size=32, frames="0:1", device="cpu"
        )


def _jpeg(path):
    Image.fromarray(np.full((24, 32, 3), 90, np.uint8)).save(path)
    return path


_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="24"><rect width="32" height="24"/></svg>'


def _picture(path, image):
    """``image`` converted by ffmpeg to the picture format ``path`` names."""
    ffmpeg("-i", str(image), str(path))
    return path


def test_a_raw_stream_without_a_duration_is_still_a_clip(tmp_path, clips):
    """A raw H.264 stream has no duration, as a picture ffmpeg reads has none: only the
    picture formats are taken for stills."""
    raw = tmp_path / "camera.h264"
    ffmpeg("-i", str(clips["audio"]), "-an", "-c:v", "libx264", str(raw))
    info = probe(raw)  # not refused
    assert info.fps == 10 and info.frames == 8  # its own rate, not the 25 fps of ffmpeg's header
    assert len(list(read_frames(info, shape=(42, 64)))) == 8  # at 25 fps, each frame came two or three times


def _audio_only(path):
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-c:a", "aac", str(path))
    return path


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda t, c: t / "missing.mp4", [], "no such file"),
        (lambda t, c: "https://example.com/clip.mp4", [], "https://example.com/clip.mp4: a web address; restyle reads"),
        (lambda t, c: _write(t / "junk.mp4", b"\x00junk" * 100), [], "not a readable video"),
        (lambda t, c: _write(t / "cut.mp4", c["audio"].read_bytes()[:600]), [], "video"),
        (lambda t, c: _audio_only(t / "sound.m4a"), [], "sound.m4a: holds no video stream (only audio or data)"),
        (lambda t, c: c["audio"], ["--frames", "50:60"], "--frames 50:60 starts after the clip's end (about "),
        (lambda t, c: c["audio"], ["--frames", "60"], "give START:END, such as :60 for the first 60 frames or 60:"),
        (lambda t, c: c["style"], [], "a still image, not a clip; restyle art or restyle photo stylises one"),
        (lambda t, c: _jpeg(t / "photo.jpg"), [], "photo.jpg: a still image, not a clip"),
        (lambda t, c: "sample:astronaut", [], "sample:astronaut: a still image, not a clip"),
        (lambda t, c: _write(t / "IMG_1.CR2", b"II*\x00junk"), [], "IMG_1.CR2: a still image, not a clip"),
        # pictures ffmpeg reads and Pillow does not: each was stylised as a clip of one frame
        (lambda t, c: _write(t / "logo.svg", _SVG), [], "logo.svg: a still image, not a clip"),
        (lambda t, c: _picture(t / "scan.dpx", c["style"]), [], "scan.dpx: a still image, not a clip"),
        (lambda t, c: _picture(t / "render.exr", c["style"]), [], "render.exr: a still image, not a clip"),
        # was stylised as a clip of one frame, after a warning on its timing
        (lambda t, c: animated_gif(t / "one.gif", count=1), [], "one.gif: a GIF of one frame is a still image, not a"),
        (lambda t, c: c["audio"], ["--frames", "5:2"], "START < END"),
        (lambda t, c: c["audio"], ["--frames", "a:b"], "START:END"),
        (lambda t, c: c["audio"], ["--mode", "photo", "--passes", "0"], "at least 1"),
        (lambda t, c: c["audio"], ["--temporal-weight", "-1"], "--temporal-weight must be"),
        (lambda t, c: c["audio"], ["--fps", "0"], "--fps must be a positive number"),
        # ffmpeg cannot write these rates: "encoding failed", after the frames were stylised
        (lambda t, c: t / "frames", ["--fps", "1e-5"], "--fps must be between 0.001 and 1,000,000, not 1e-05"),
        (lambda t, c: t / "frames", ["--fps", "1e300"], "--fps must be between 0.001 and 1,000,000, not 1e+300"),
        (lambda t, c: c["audio"], ["--seed", "-3"], "--seed must be between 0"),  # found at the first frame
        (lambda t, c: c["audio"], ["--size", "100000"], "the frames: --size 100000 would make it 100000x"),
        (lambda t, c: c["audio"], ["--size", "23"], "the frame at --size 23 is too small: 22x14; the deepest"),
        (lambda t, c: c["audio"], ["--size", "23"], "16 px on each side (--size 24 is large enough)"),
        (lambda t, c: t / "empty", ["--fps", "nan"], "--fps must be a positive number"),
        (lambda t, c: t / "empty", [], "holds no images"),
        (lambda t, c: c["audio"], ["--mode", "art", "--full-resolution"], "--full-resolution is for --mode photo"),
    ],
)
def test_bad_input_is_one_line(capsys, tmp_path, clips, make, extra, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "frames").mkdir()
    for index in range(2):
        Image.fromarray(stripes_image(32, 48)).save(tmp_path / "frames" / f"f{index}.png")
    source = make(tmp_path, clips)
    code, _, err = run(capsys, "video", source, clips["style"], "-o", tmp_path / "o.mp4", *FAST, *extra)
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("restyle: error: ") and message in err, err
    assert not (tmp_path / "o.mp4").exists()
    assert not (tmp_path / "o.mp4.work").exists()  # no frame was finished: no work folder left


def test_a_work_dir_that_is_the_output_is_refused(capsys, tmp_path, clips):
    out = tmp_path / "frames"
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", out, "--work-dir", out, *FAST)
    assert code == 1 and err.count("\n") == 1 and "is the output itself; give another --work-dir" in err, err
    assert not out.exists()


def test_an_output_that_is_the_input_is_refused(capsys, tmp_path, clips):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, f in enumerate(read_frames(probe(clips["audio"]), shape=(40, 60), end=2)):
        Image.fromarray(f).save(frames / f"f{i:03d}.png")
    for source, out in ((frames, frames), (clips["audio"], clips["audio"])):
        before = sorted(p.name for p in frames.iterdir()), clips["audio"].read_bytes()
        code, _, err = run(capsys, "video", source, clips["style"], "-o", out, *FAST)
        assert code == 1 and err.count("\n") == 1 and "is an input of this run" in err, err
        assert (sorted(p.name for p in frames.iterdir()), clips["audio"].read_bytes()) == before


def test_a_read_only_output_video_is_refused_before_work(capsys, tmp_path, clips, monkeypatch):
    monkeypatch.setattr(restyle.video, "read_frames", lambda *a, **k: pytest.fail("read frames anyway"))
    out = tmp_path / "kept.mp4"
    out.write_bytes(b"an earlier video")
    out.chmod(0o444)
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", out, *FAST)
    assert code == 1 and err.count("\n") == 1 and f"{out}: the file is read-only; give another output" in err, err
    assert out.read_bytes() == b"an earlier video" and sorted(p.name for p in tmp_path.iterdir()) == ["kept.mp4"]


def test_a_replaced_video_keeps_its_permissions_and_links(tmp_path, clips):
    from restyle.clip import write_video

    info = probe(clips["silent"])
    frames = list(read_frames(info, shape=(48, 64), end=2))
    out = tmp_path / "o.mp4"
    out.write_bytes(b"an earlier video")
    out.chmod(0o600)
    write_video(frames, out, info, 0, len(frames), (64, 48))
    assert (out.stat().st_mode & 0o777) == 0o600 and probe(out).frames >= 1
    link = tmp_path / "latest.mp4"
    link.symlink_to("o.mp4")
    out.write_bytes(b"an earlier video")
    write_video(frames, link, info, 0, len(frames), (64, 48))  # the link stays; its file is written
    assert (
        link.is_symlink()
        and probe(out).frames >= 1
        and sorted(p.name for p in tmp_path.iterdir())
        == [
            "latest.mp4",
            "o.mp4",
        ]
    )


def test_a_work_folder_without_frames_takes_new_settings(capsys, tmp_path, clips):
    work = tmp_path / "o.mp4.work"
    work.mkdir()
    (work / "settings.json").write_text('{"from": "a run stopped before its first frame"}')
    code, _, err = run(
        capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *FAST, "--frames", "0:2",
        "--keep-frames",
    )  # fmt: skip
    assert code == 0, err
    assert len(list(work.glob("0*.png"))) == 2 and "a run stopped" not in (work / "settings.json").read_text()
    (work / "settings.json").write_text('{"other": "settings"}')  # now with frames: refused
    code, _, err = run(
        capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *FAST, "--frames", "0:2"
    )
    assert code == 1 and "holds frames made with other settings" in err


def test_a_work_folder_in_use_by_another_run_is_refused_and_left_alone(capsys, tmp_path, clips):
    """Two runs with the same output worked in one folder: the second took over the first's
    settings (or was told its frames were "made with other settings"), and one of them failed
    ("a finished frame has gone missing") when the other removed the folder. The second is now
    refused at once, and the first's folder is left as it was."""
    work = tmp_path / "o.mp4.work"
    work.mkdir()
    (work / "settings.json").write_text('{"from": "the run at work"}')
    child, answer = claim_in_another_process(work, hold_for=120)
    try:
        assert answer == "held"
        code, out, err = run(
            capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *FAST, "--frames", "0:2"
        )
        assert code == 1 and out == ""
        assert err == (
            f"restyle: error: the work folder {work} is in use by another restyle run; let that run finish, "
            "or give this one another output or --work-dir\n"
        )
        assert (work / "settings.json").read_text() == '{"from": "the run at work"}'
        assert not list(work.glob("*.png")) and not (tmp_path / "o.mp4").exists()
    finally:
        child.kill()
        child.wait(30)
    code, out, err = run(  # the holder gone: its folder (no frames yet) is taken over
        capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *FAST, "--frames", "0:2"
    )
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]  # folder and lock file removed


def test_frames_wider_than_h264_encodes_are_refused_before_any_work(capsys, tmp_path, clips):
    """libx264 takes at most 16384 pixels a side: wider frames were all stylised, then the
    encoding failed ("the written video has 0 of 2 frames; ... MB free on its disk")."""
    frames = tmp_path / "panorama"
    frames.mkdir()
    for index in range(2):
        Image.new("RGB", (16_386, 1024), "grey").save(frames / f"f{index}.png")
    for output, argv, cause in [
        (tmp_path / "o.mp4", ["--size", "16386"], "--size 16386"),
        (tmp_path / "o.mkv", ["--full-resolution", "--size", "1024"], f"--full-resolution: the size of {frames}"),
    ]:
        started = time.perf_counter()
        code, _, err = run(capsys, "video", frames, clips["style"], "-o", output, *FAST, *argv)
        assert (code, err.splitlines()[-1]) == (
            1,
            f"restyle: error: {output}: H.264 holds at most 16384 pixels a side, and these frames have 16386 "
            f"({cause}); write .webm, or a folder of PNG frames",
        )
        assert time.perf_counter() - started < 10 and not output.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["panorama"]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"size": 512}, ". It is downscaled to --size 512"),
        ({"size": 3842}, ""),  # not downscaled: enlarged, if anything
        ({"size": 512, "full_resolution": True, "mode": "photo"}, ""),  # delivered at its own size
    ],
)
def test_a_large_source_is_said_to_be_downscaled_only_where_it_is(tmp_path, monkeypatch, clips, options, said):
    import restyle.video

    frames = tmp_path / "uhd"
    frames.mkdir()
    Image.new("RGB", (3841, 2161), "grey").save(frames / "f0.png")

    def stop_here(*args, **kwargs):  # the warning is given; no work needed after it
        raise RestyleError("stop here")

    monkeypatch.setattr(restyle.video, "load_style", stop_here)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(RestyleError, match="stop here"):
        warnings.simplefilter("always")
        stylize_video(frames, clips["style"], output=tmp_path / "o.mp4", device="cpu", **options)
    assert [str(w.message) for w in caught] == [f"the video is 3841x2161; decoding it is slow{said}"]


def test_a_folder_of_large_jpegs_brought_down_is_not_said_to_be_slow(tmp_path, monkeypatch, clips):
    """They are decoded at a reduced scale (read_frames): 0.04 s for a 24-MP frame."""
    import restyle.video

    def stop_here(*args, **kwargs):  # the warning is given or not by now; no work needed after it
        raise RestyleError("stop here")

    monkeypatch.setattr(restyle.video, "load_style", stop_here)
    for width, height in [(3842, 2162), (3841, 2161)]:  # over UHD, even and odd
        frames = tmp_path / f"{width}"
        frames.mkdir()
        Image.new("RGB", (width, height), "grey").save(frames / "f0.jpg")
        slow = f"the video is {width}x{height}; decoding it is slow. It is downscaled to --size "
        # decoded at half size for 1000-px frames, whole for 1200, and whole when a half's last
        # row and column would stand for one pixel
        for size, said in [(1000, [] if width % 2 == 0 else [f"{slow}1000"]), (1200, [f"{slow}1200"])]:
            with warnings.catch_warnings(record=True) as caught, pytest.raises(RestyleError, match="stop here"):
                warnings.simplefilter("always")
                stylize_video(frames, clips["style"], output=tmp_path / "o.mp4", size=size, device="cpu")
            assert [str(w.message) for w in caught] == said


def test_only_h264_is_held_to_its_side():
    for output, bits in [("o.webm", 8), ("o.gif", 8), ("o.mp4", 10), ("o.mkv", 10), ("o.mov", 10), ("frames.mp4", 8)]:
        if output == "frames.mp4":  # at the limit
            check_video_side(Path(output), (64, 16_384), bits, cause="")
        else:  # VP9, GIF, HEVC and ProRes take longer sides
            check_video_side(Path(output), (64, 16_386), bits, cause="")
    for output in ("o.mp4", "o.m4v", "o.mov", "o.mkv", "o.avi"):
        with pytest.raises(RestyleError, match="H.264 holds at most 16384 pixels a side"):
            check_video_side(Path(output), (16_386, 64), 8, cause="")


def test_a_clip_from_a_pipe_is_refused_with_what_to_do(capsys, tmp_path, clips):
    """``restyle video <(cat clip.mp4) ...`` reached ffmpeg, which runs apart and cannot see
    the shell's pipe: "not a readable video (Error opening input files: No such file or
    directory)". A named pipe with no writer yet made ffmpeg wait for ever. The clip is read
    several times, so a pipe cannot serve; the message says so."""
    read, write = os.pipe()
    try:
        code, _, err = run(capsys, "video", f"/dev/fd/{read}", clips["style"], "-o", tmp_path / "o.mp4", *FAST)
    finally:
        os.close(read)
        os.close(write)
    assert code == 1 and on_terminal(err) == [
        f"restyle: error: /dev/fd/{read}: a pipe, not a file; restyle video reads a clip several times (and in "
        "ffmpeg, which cannot see this one), so save it to a file first"
    ]
    assert not (tmp_path / "o.mp4").exists()


def test_bad_output(capsys, tmp_path, clips):
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.avi2", *FAST)
    assert code == 1 and "unsupported video type" in err
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "nope" / "o.mp4", *FAST)
    assert code == 1 and "does not exist" in err
    # /proc refuses new files even to root (who ignores folder permissions)
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", "/proc/o.mp4", *FAST)
    assert code == 1 and "not writable" in err, err
    # an existing folder is checked itself, not its parent (/ is writable, /proc is not)
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", "/proc", *FAST)
    assert code == 1 and "output folder /proc is not writable" in err, err
    (tmp_path / "frames").write_bytes(b"")
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "frames", *FAST)
    assert code == 1 and "is a file, not a folder" in err, err


def test_unknown_preset_fails_before_any_work(tmp_path, clips):
    with pytest.raises(RestyleError, match="unknown --preset 'slow': use one of default, dpst, fast"):
        stylize_video(clips["audio"], clips["style"], output=tmp_path / "o.mp4", mode="photo", preset="slow")
    assert list(tmp_path.iterdir()) == []


def _write(path, data):
    path.write_bytes(data)
    return path


def test_an_error_before_the_first_frame_leaves_no_empty_progress_bar(capsys, clips, tmp_path):
    loud = [a for a in FAST if a != "--quiet"]
    code, _, err = run(
        capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *loud, "--frames", "20:30"
    )
    assert code == 1
    assert on_terminal(err) == [
        f"restyle: error: {clips['audio']}: --frames 20:30 starts after the clip's end (about 8 frames long)"
    ], err
    assert "reading frames" in err  # the bar was on screen, and was cleared


def test_ctrl_c_during_the_first_frame_says_that_nothing_is_kept(capsys, tmp_path, clips, monkeypatch):
    import restyle.photo

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(restyle.photo, "stylize_photo", interrupt)
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *FAST)
    assert code == 130
    assert err == "restyle: interrupted; no frame was finished: run the same command to continue\n"
    assert list(tmp_path.iterdir()) == []  # nor a work folder left


def test_work_frames_counts_only_frames(tmp_path):
    from restyle.video import work_frames

    assert work_frames(tmp_path / "none") == 0
    for name in ("000000.png", "pass1_000000.png", "cover.png", "000001.png.tmp"):
        (tmp_path / name).write_bytes(b"")
    assert work_frames(tmp_path) == 2


def _decode_rgb48(path, width, height):
    """The first frame of a video as ffmpeg decodes it to 16-bit RGB, and ffmpeg's description."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    described = subprocess.run([exe, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    command = [exe, "-v", "error", "-i", str(path), "-frames:v", "1", "-pix_fmt", "rgb48le", "-f", "rawvideo", "-"]
    raw = subprocess.run(command, capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<u2").reshape(height, width, 3), described


@pytest.mark.parametrize(
    ("suffix", "described"),
    [
        (".mp4", "hevc (Main 10) (hvc1"),
        (".mkv", "hevc (Main 10)"),
        (".mov", "prores (HQ)"),
        (".webm", "vp9 (Profile 2)"),
    ],
)
def test_a_ten_bit_video_keeps_four_times_the_levels(tmp_path, clips, suffix, described):
    from restyle.clip import read_video_metadata, write_video

    # a dark ramp, where 8 bits band: 0 to 1/4 of full scale across 320 columns
    ramp = np.broadcast_to(np.linspace(0, 0.25, 320)[None, :, None], (48, 320, 3))
    info = probe(clips["silent"])
    levels = {}
    for bits, frame in ((8, np.round(ramp * 255).astype(np.uint8)), (10, np.round(ramp * 65535).astype(np.uint16))):
        out = tmp_path / f"o{bits}{suffix}"
        write_video([frame] * 3, out, info, 0, 3, (320, 48), metadata={"bit_depth": bits}, bits=bits)
        decoded, description = _decode_rgb48(out, 320, 48)
        levels[bits] = len(np.unique(decoded[24, 8:-8, 1]))
        assert np.abs(decoded[24, 8:-8, 1] / 65535 - ramp[24, 8:-8, 1]).max() < 0.02  # the same picture
    assert described in description and "10le(tv, bt709" in description, description
    assert read_video_metadata(out) == {"bit_depth": 10}
    assert levels[10] >= 3.5 * levels[8], levels  # 10-bit video holds 4 times the codes of 8-bit


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".webm"])
def test_a_ten_bit_video_holds_the_codes_of_the_standard(tmp_path, clips, suffix):
    from restyle.clip import write_video

    # black, quarter, half, three-quarter grey and white: video-range luma 64, 283, 502, 721, 940
    # (ffmpeg converting 16-bit RGB itself wrote 64, 284, 504, 724, 943)
    levels = np.array([0, 0.25, 0.5, 0.75, 1.0])
    frame = np.round(np.repeat(np.repeat(levels, 16)[None, :, None], 16, 0).repeat(3, 2) * 65535).astype(np.uint16)
    out = tmp_path / f"grey{suffix}"
    write_video([frame] * 2, out, probe(clips["silent"]), 0, 2, (80, 16), bits=10)
    exe = __import__("imageio_ffmpeg").get_ffmpeg_exe()
    command = [exe, "-v", "error", "-i", str(out), "-frames:v", "1", "-pix_fmt", "yuv444p10le", "-f", "rawvideo", "-"]
    codes = np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, "<u2").reshape(3, 16, 80)
    assert np.abs(codes[0, 8, 8::16].astype(int) - [64, 283, 502, 721, 940]).max() <= (1 if suffix == ".webm" else 0)
    assert np.abs(codes[1:].astype(int) - 512).max() <= 1  # no colour


def test_video_bit_depth_errors(tmp_path, clips):
    from restyle.clip import check_video_bits, write_video

    for suffix in (".avi", ".m4v"):  # ffmpeg's iPod muxer takes H.264 only
        with pytest.raises(
            RestyleError, match=rf"o\{suffix}: a \{suffix} video holds 8 bits per channel here; use \.mp4, "
        ):
            check_video_bits(tmp_path / f"o{suffix}", 10)
    with pytest.raises(RestyleError, match="holds 8 or 10 bits per channel here, not 16; use 10, or a folder"):
        check_video_bits(tmp_path / "o.mp4", 16)
    with pytest.raises(RestyleError, match=r"a \.gif video holds 8 bits per channel here; use .* or a folder for 16"):
        check_video_bits(tmp_path / "o.gif", 16)  # not "use 10": a GIF has none
    check_video_bits(tmp_path / "o.avi", 8)
    with pytest.raises(ValueError, match="10-bit frames must be uint16, not uint8"):
        write_video([np.zeros((8, 8, 3), np.uint8)], tmp_path / "o.mp4", probe(clips["silent"]), 0, 1, (8, 8), bits=10)
    assert not list(tmp_path.iterdir())  # nothing half-written
    for out, bits, message in [
        (tmp_path / "frames", 10, "PNG frames hold 8 or 16 bits per channel, not 10; use 16"),
        (tmp_path / "o.avi", 10, "a .avi video holds 8 bits"),
        (tmp_path / "o.mov", 16, "not 16; use 10, or a folder for 16-bit PNG frames"),
    ]:
        with pytest.raises(RestyleError, match=re.escape(message)):
            stylize_video(clips["audio"], clips["style"], output=out, mode="photo", size=32, bit_depth=bits)
    assert not list(tmp_path.iterdir())  # refused before any work


def test_cli_writes_ten_bit_video_and_sixteen_bit_frames(capsys, tmp_path, clips):
    out = tmp_path / "o.mov"
    code, _, err = run(capsys, "video", clips["audio"], clips["style"], "-o", out, *FAST, "--bit-depth", "10")
    assert code == 0, err
    decoded, description = _decode_rgb48(out, 64, 42)
    assert "prores (HQ)" in description and "yuv422p10le" in description and probe(out).audio
    assert read_metadata(out)["bit_depth"] == 10
    frames = tmp_path / "frames"
    code, _, err = run(
        capsys, "video", clips["audio"], clips["style"], "-o", frames, *FAST, "--bit-depth", "16", "--frames", "0:2"
    )
    assert code == 0, err
    first = frames / "000000.png"
    assert first.read_bytes()[24] == 16  # the IHDR's bit depth
    assert read_metadata(first)["bit_depth"] == 16
    deep = load_image(first)
    assert len(torch.unique(deep)) > 256  # more levels than 8 bits hold
    # the same frame in the 10-bit video, but for YUV's rounding and 4:2:2 chroma (which blurs colour edges)
    assert torch.nn.functional.l1_loss(torch.from_numpy(decoded / 65535.0).permute(2, 0, 1)[None].float(), deep) < 0.03


def test_work_frames_are_sixteen_bit_and_old_eight_bit_ones_resume(tmp_path, clips):
    options = {"mode": "photo", "preset": "fast", "size": 64, "device": "cpu", "frames": "0:3"}
    out = tmp_path / "frames"
    stylize_video(clips["audio"], clips["style"], output=out, keep_frames=True, **options)
    work = tmp_path / "frames.work"
    assert all(p.read_bytes()[24] == 16 for p in work.glob("0*.png"))
    for path in work.glob("0*.png"):  # as an older restyle left them: 8-bit PNGs
        eight = np.asarray(Image.open(out / path.name).convert("RGB"))
        Image.fromarray(eight).save(path)
    resumed = []
    stylize_video(
        clips["audio"], clips["style"], output=tmp_path / "again", work_dir=str(work),
        callback=lambda p: p.stage == "stylise" and resumed.append(p.resumed), **options,
    )  # fmt: skip
    assert resumed == [True] * 3
    for index in range(3):
        name = f"{index:06d}.png"
        assert np.array_equal(np.asarray(Image.open(tmp_path / "again" / name)), np.asarray(Image.open(out / name)))


@pytest.mark.parametrize("stop", [KeyboardInterrupt, ValueError])
def test_a_video_stopped_while_written_leaves_no_file(tmp_path, clips, stop):
    from restyle.clip import write_video

    def frames():
        yield np.zeros((48, 64, 3), np.uint8)
        yield np.zeros((48, 64, 3), np.uint8)
        raise stop  # Ctrl-C while a frame is carried up to the source's size, say

    with pytest.raises(stop):
        write_video(frames(), tmp_path / "o.mp4", probe(clips["silent"]), 0, 3, (64, 48))
    assert list(tmp_path.iterdir()) == []


def test_a_ten_bit_clip_is_read_at_sixteen_bits(tmp_path, clips):
    # a dark ramp encoded losslessly in 10 bits: 8 bits would band it into a quarter of the codes
    ramp = np.broadcast_to(np.linspace(0.05, 0.3, 256)[None, :, None], (16, 256, 3))
    clip = tmp_path / "ten.mkv"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv444p10le", "-s", "256x16", "-r", "10", "-colorspace", "bt709",
        "-color_range", "tv", "-i", "-", "-c:v", "libx264", "-qp", "0",
        str(clip), input=video_range_codes(ramp, (0.2126, 0.0722), 10) * 2,
    )  # fmt: skip
    info = probe(clip)
    assert info.deep and not info.hdr
    frame = next(read_frames(info, shape=(16, 256)))
    assert frame.dtype == np.uint16
    assert np.abs(frame / 65535.0 - ramp).max() < 1.5 / 1023  # 10-bit YUV codes, not 8-bit RGB levels
    assert len(np.unique(frame[8, :, 1])) > 200  # 256 columns, 4 per 8-bit level: 64 at 8 bits
    assert torch.allclose(frame_to_tensor(frame), torch.from_numpy(frame / 65535.0).permute(2, 0, 1)[None].float())
    eight = probe(clips["silent"])
    assert not eight.deep and next(read_frames(eight, shape=(64, 96))).dtype == np.uint8


def test_a_folder_of_sixteen_bit_frames_is_read_at_sixteen_bits(tmp_path):
    from restyle.image import save_image

    ramp = torch.linspace(0.1, 0.2, 100).view(1, 1, 1, 100).expand(1, 3, 8, 100)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(2):
        save_image(ramp, folder / f"f{index}.png", bits=16)
    info = probe(folder)
    assert info.deep
    frames = list(read_frames(info, shape=(8, 100)))
    assert frames[0].dtype == np.uint16 and len(np.unique(frames[0][4, :, 0])) == 100  # 26 at 8 bits
    assert torch.allclose(frame_to_tensor(frames[1]), ramp, atol=1 / 65535)


@pytest.mark.parametrize(
    ("pix_fmt", "deep"),
    [
        ("yuv420p10le(tv, bt709, progressive)", True),
        ("p010le", True),
        ("gbrp12le", True),
        ("rgb48le", True),
        ("yuv444p16be", True),
        ("yuv420p(tv, bt709)", False),
        ("yuvj420p(pc)", False),
        ("nv12", False),
        ("rgb565le", False),
        ("gray", False),
    ],
)
def test_deep_pixel_formats(pix_fmt, deep):
    from restyle.clip import _is_deep

    assert _is_deep(pix_fmt) == deep


def test_a_frame_whose_loss_became_nan_is_named_in_a_warning(capsys, tmp_path, clips, monkeypatch):
    import restyle.photo

    real = restyle.photo.stylize_photo
    calls = {"n": 0}

    def nan_on_the_third(*args, **kwargs):
        calls["n"] += 1
        result = real(*args, **kwargs)
        if calls["n"] == 3:  # as optimize reports a NaN loss: the last good iterate, and why it stopped
            return dataclasses.replace(
                result, status="nonfinite", message="the loss became nan; stopped and kept the last good iterate"
            )
        return result

    monkeypatch.setattr(restyle.photo, "stylize_photo", nan_on_the_third)
    code, _, err = run(
        capsys, "video", clips["audio"], clips["style"], "-o", tmp_path / "o.mp4", *FAST, "--frames", "2:6"
    )
    assert code == 0
    assert err == "restyle: warning: frame 4: the loss became nan; stopped and kept the last good iterate\n"
    assert probe(tmp_path / "o.mp4").frames == 4


def test_an_encoder_that_stops_is_a_one_line_error(tmp_path, clips, monkeypatch):
    import restyle.clip

    # an encoder ffmpeg cannot run on these frames, as libx265 in an M4V was (it takes H.264 only)
    monkeypatch.setitem(restyle.clip._ENCODERS_10, ".m4v", restyle.clip._ENCODERS_10[".mp4"])
    frames = [np.zeros((480, 640, 3), np.uint16)] * 5  # more than a pipe holds: ffmpeg's exit breaks it
    with pytest.raises(RestyleError) as raised:
        restyle.clip.write_video(frames, tmp_path / "o.m4v", probe(clips["silent"]), 0, 5, (640, 480), bits=10)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'o.m4v'}: encoding failed (") and "\n" not in message, message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing", [False, True])
def test_a_frame_folder_is_written_whole_or_not_at_all(tmp_path, existing):
    from restyle.clip import write_frame_folder

    out = tmp_path / "frames"
    if existing:  # a folder of the user's: its own files stay
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    before = sorted(p.name for p in out.iterdir()) if existing else None

    def stopped():
        yield np.zeros((8, 8, 3), np.uint8)
        yield np.zeros((8, 8, 3), np.uint8)
        raise KeyboardInterrupt  # Ctrl-C while a frame is carried up to the source's size, say

    with pytest.raises(KeyboardInterrupt):
        write_frame_folder(stopped(), out, metadata={"seed": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == (["frames"] if existing else [])  # nothing hidden left
    assert (sorted(p.name for p in out.iterdir()) if existing else None) == before
    write_frame_folder([np.full((8, 8, 3), 9, np.uint8)] * 3, out, metadata={"seed": 1})
    assert sorted(p.name for p in out.iterdir()) == ["000000.png", "000001.png", "000002.png"] + (
        ["notes.txt"] if existing else []
    )
    assert read_metadata(out / "000002.png") == {"seed": 1} and [p.name for p in tmp_path.iterdir()] == ["frames"]


@pytest.mark.parametrize(("long_term", "reach"), [(False, 1), (True, 5)])
def test_only_the_frames_within_reach_are_held(tmp_path, monkeypatch, long_term, reach):
    """Memory must not grow with the clip: a 14-s clip held every frame (as floats, with its
    flows and results) and peaked at 4.5 GB; the finished frames a later one may warp are
    held, and an earlier pass's are read back from the work folder."""
    import gc

    from restyle.video import _stylise_passes, _WorkFolder

    monkeypatch.setattr(restyle.video, "LONG_TERM_OFFSETS", (1, 3, 5))  # Ruder's 1, 10, 20, 40, shortened
    total, shape = 14, (1, 3, 17, 23)  # a shape no other tensor here has
    contents = [torch.full(shape, 0.25) for _ in range(total)]
    held = []

    def run(content, first, temporal, number):
        return content + 0.5  # a result: 0.75, told apart from the contents (0.25)

    def count(progress):
        gc.collect()
        tensors = [o for o in gc.get_objects() if type(o) is torch.Tensor and o.shape == shape]
        held.append(sum(1 for o in tensors if o.max() > 0.5))

    def flow(a, b):
        return torch.zeros(1, 2, *shape[-2:])

    with _WorkFolder(tmp_path / "work", {"test": 1}) as work:
        _stylise_passes(work, contents, 0, 2, run, flow, long_term=long_term, weight=1.0, callback=count)
    assert len(held) == 2 * total
    # the results within reach, and a few of this frame's own: its result, start and temporal target
    assert max(held) <= reach + 4 < total, held
    assert all(work.load(t, 1, shape[-2:]) is not None for t in range(total))  # both passes on disk


def test_a_full_disk_while_the_clip_is_decoded_is_a_one_line_error(tmp_path, clips, monkeypatch):
    import errno
    import io
    from types import SimpleNamespace

    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(restyle.video, "tempfile", SimpleNamespace(TemporaryFile=lambda **kwargs: Full()))
    out = tmp_path / "o.mp4"
    with pytest.raises(
        RestyleError, match=r"o\.mp4\.work: cannot keep the clip's frames there: No space left on device$"
    ):
        stylize_video(clips["audio"], clips["style"], output=out, mode="photo", size=32, device="cpu")
    assert list(tmp_path.iterdir()) == []  # the work folder it made is gone too


@pytest.mark.parametrize(
    ("options", "size", "coding"),
    [
        (["-pix_fmt", "yuv444p", "-colorspace", "bt709", "-color_range", "tv"], "96x64", ("bt709", False, 8)),
        (["-pix_fmt", "yuv444p"], "96x64", ("smpte170m", False, 8)),  # untagged SD: ffmpeg's BT.601
        (["-pix_fmt", "yuv444p"], "1280x720", ("bt709", False, 8)),  # untagged HD: BT.709, as players
        (["-pix_fmt", "yuvj444p"], "96x64", ("smpte170m", True, 8)),
        (["-pix_fmt", "yuv444p", "-colorspace", "bt2020nc", "-color_range", "tv"], "96x64", ("bt2020nc", False, 8)),
    ],
)
def test_yuv_codes_become_the_rgb_ffmpeg_gives(tmp_path, options, size, coding):
    import imageio_ffmpeg

    from restyle.clip import _decoded
    from restyle.yuv import yuv_to_rgb

    clip = tmp_path / "clip.mkv"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate=5:duration=0.2",
        "-c:v",
        "libx264",
        "-qp",
        "0",
        *options,
        str(clip),
    )
    info = probe(clip)
    assert info.yuv == coding
    width, height = info.size
    codes = np.frombuffer(next(_decoded(info, width=width, height=height, as_yuv=True)), np.uint8)
    ours = yuv_to_rgb(
        torch.from_numpy(codes.reshape(3, height, width).astype(np.float64)), coding[0], full_range=coding[1]
    )
    # ffmpeg's own conversion of 4:4:4 codes at their size (the one it gets right; restyle reads
    # clips with its own), by the matrix restyle chose: a wrong one (BT.601 for BT.709) is off
    # by 3.5 levels on average on this picture
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(clip), "-frames:v", "1"]
    command += ["-vf", f"scale=in_color_matrix={coding[0]}", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]
    reference = np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, np.uint8)
    difference = np.abs(ours[0].permute(1, 2, 0).numpy() * 255 - reference.reshape(height, width, 3))
    assert difference.mean() < 0.3 and difference.max() <= 0.75  # rounding to 8 bits: up to 0.5


def test_a_subsampled_clip_is_read_in_its_true_colours(tmp_path):
    # a 4:2:0 clip of flat patches: mid-grey, luma 126, and (180, 100, 150), whose BT.709 colours
    # are (128.08,) * 3 and (230.40, 185.21, 131.81) by the standard's equations. ffmpeg's own
    # conversion, scaling, gave (126,) * 3 and (228, 183, 130)
    height, width = 64, 96
    luma = np.where(np.arange(width) < width // 2, 126, 180)[None, :].repeat(height, 0).astype(np.uint8)
    blue = np.where(np.arange(width // 2) < width // 4, 128, 100)[None, :].repeat(height // 2, 0).astype(np.uint8)
    red = np.where(np.arange(width // 2) < width // 4, 128, 150)[None, :].repeat(height // 2, 0).astype(np.uint8)
    clip = tmp_path / "patches.mkv"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", "10", "-colorspace", "bt709",
        "-color_range", "tv", "-i", "-", "-c:v", "libx264", "-qp", "0", str(clip),
        input=(luma.tobytes() + blue.tobytes() + red.tobytes()) * 2,
    )  # fmt: skip
    info = probe(clip)
    for shape in ((height, width), (height // 2, width // 2), (height * 2, width * 2)):
        frame = next(read_frames(info, shape=shape))
        assert frame.dtype == np.uint8  # an 8-bit clip, read without smoothing: 8 bits
        rows, columns = shape[0] // 2, shape[1] // 4
        assert np.abs(frame[rows, columns] - 128.08).max() < 0.6, shape
        assert np.abs(frame[rows, 3 * columns] - [230.40, 185.21, 131.81]).max() < 0.6, shape


@pytest.mark.parametrize("space", ["bt709", "bt2020nc"])
def test_ten_bit_yuv_codes_become_the_rgb_of_the_standards(tmp_path, space):
    # video range; full range is checked against H.273 in the next test (ffmpeg's own 10-bit
    # full-range conversions disagree with each other: gains of 1.003 into 8 bits, 0.999 into 16)
    import imageio_ffmpeg

    from restyle.clip import _decoded
    from restyle.yuv import yuv_to_rgb

    clip = tmp_path / "clip.mkv"
    tags = ["-colorspace", space, "-color_range", "tv"]
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=5:duration=0.2", "-c:v", "libx264", "-qp", "0",
           "-pix_fmt", "yuv444p10le", *tags, str(clip))  # fmt: skip
    info = probe(clip)
    assert info.deep and info.yuv == (space, False, 10)
    codes = np.frombuffer(next(_decoded(info, width=96, height=64, as_yuv=True)), "<u2").reshape(3, 64, 96)
    assert codes.max() > 255  # 10-bit codes, not 8
    ours = yuv_to_rgb(torch.from_numpy(codes.astype(np.float64)), space, bits=10)
    # ffmpeg's 8-bit conversion of the same codes (its 16-bit one is half a level dark: a gain
    # of 0.9961 on Y, which yuv_to_rgb's docstring names)
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(clip), "-frames:v", "1"]
    rgb = subprocess.run([*command, "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], capture_output=True, check=True)
    reference = np.frombuffer(rgb.stdout, np.uint8).reshape(64, 96, 3).astype(np.float64)
    difference = np.abs(ours[0].permute(1, 2, 0).numpy() * 255 - reference)
    assert difference.mean() < 0.3 and difference.max() <= 0.75  # rounding to 8 bits: up to 0.5


def test_deeper_yuv_codes_are_the_same_colours_scaled():
    from restyle.yuv import yuv_to_rgb

    # black, white and two colours as 8-bit video-range codes (Y, Cb, Cr)
    codes = torch.tensor([[16.0, 235, 126, 81], [128, 128, 140, 90], [128, 128, 100, 200]], dtype=torch.float64)
    codes = codes[..., None]
    eight = yuv_to_rgb(codes, "bt709")
    assert eight[0, :, 0, 0].tolist() == [0, 0, 0] and eight[0, :, 1, 0].tolist() == pytest.approx([1, 1, 1])
    for bits in (10, 12, 16):  # video range: the same codes times 2 ** (bits - 8)
        assert torch.allclose(yuv_to_rgb(codes * 2 ** (bits - 8), "bt709", bits=bits), eight, atol=1e-12)
    # full range (ITU-T H.273): 0 and the top code are black and white at every depth, and
    # chroma 2 ** (bits - 1) is no colour
    for bits in (8, 10):
        top, middle = 2**bits - 1, 2 ** (bits - 1)
        grey = torch.tensor([[0.0, top, 300], [middle] * 3, [middle] * 3], dtype=torch.float64)[..., None]
        rgb = yuv_to_rgb(grey, "bt2020nc", full_range=True, bits=bits)[0, :, :, 0]
        assert rgb[:, :2].T.tolist() == [[0, 0, 0], [1, 1, 1]] and torch.allclose(rgb[:, 2], rgb[0, 2])


def sky_clip(path: Path, *options: str) -> torch.Tensor:
    """A gentle sky gradient as 8-bit BT.709 YUV codes (8 luma steps over 128 rows), encoded
    without a conversion: the staircase as a camera's encoder leaves it. Returns the smooth
    gradient the codes were rounded from, in RGB, ``(1, 3, 128, 64)``."""
    from restyle.yuv import yuv_to_rgb

    rows = torch.linspace(0, 1, 128, dtype=torch.float64)[:, None].expand(128, 64)
    codes = torch.stack([40 + 8 * rows, 140 + 4 * rows, 121 - 3 * rows])
    frames = codes.round().to(torch.uint8).numpy().tobytes() * 3
    ffmpeg(
        # the codes' own range and matrix: as output options, ffmpeg would convert them to those
        "-f", "rawvideo", "-pix_fmt", "yuv444p", "-s", "64x128", "-r", "10", "-colorspace", "bt709",
        "-color_range", "tv", "-i", "-", "-c:v", "libx264", *options, str(path), input=frames,
    )  # fmt: skip
    return yuv_to_rgb(codes, "bt709")


def test_a_videos_steps_are_smoothed_in_its_yuv_codes(tmp_path):
    clip = tmp_path / "sky.mkv"
    truth = sky_clip(clip, "-qp", "0")
    info = probe(clip)
    as_read = next(read_frames(info, shape=(128, 64), dequantise=False))
    smoothed = next(read_frames(info, shape=(128, 64), dequantise=True))
    assert as_read.dtype == np.uint8 and smoothed.dtype == np.uint16

    def error(frame):  # from the truth, in levels
        return float((frame_to_tensor(frame).double() - truth).pow(2).mean().sqrt()) * 255

    def largest_step(frame):  # between rows
        return float((frame_to_tensor(frame)[0].diff(dim=1) * 255).abs().max())

    assert error(smoothed) < error(as_read) / 2
    # converted to RGB first, a step of one code was a step of up to 3 levels; no longer
    assert largest_step(as_read) >= 2 and largest_step(smoothed) < 0.5


def test_a_ten_bit_videos_steps_are_smoothed_in_its_codes(tmp_path):
    from restyle.clip import _decoded
    from restyle.yuv import yuv_to_rgb

    # a dark sky gradient as 10-bit BT.709 codes, 6 luma steps over 128 rows, stored losslessly
    rows = torch.linspace(0, 1, 128, dtype=torch.float64)[:, None].expand(128, 64)
    truth = torch.stack([160 + 6 * rows, 560 + 3 * rows, 484 - 2 * rows])
    clip = tmp_path / "sky10.mkv"
    ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv444p10le", "-s", "64x128", "-r", "10", "-colorspace", "bt709",
        "-color_range", "tv", "-i", "-", "-c:v", "libx264", "-qp", "0", str(clip),
        input=truth.round().numpy().astype("<u2").tobytes() * 2,
    )  # fmt: skip
    info = probe(clip)
    assert info.yuv == ("bt709", False, 10)
    codes = np.frombuffer(next(_decoded(info, width=64, height=128, as_yuv=True)), "<u2").reshape(3, 128, 64)
    assert np.array_equal(codes, truth.round().numpy())  # the staircase, as stored
    as_read = yuv_to_rgb(torch.from_numpy(codes.astype(np.float64)), "bt709", bits=10)
    smoothed = frame_to_tensor(next(read_frames(info, shape=(128, 64), dequantise=True))).double()
    target = yuv_to_rgb(truth, "bt709", bits=10)

    def error(frame):  # from the gradient, in 8-bit levels
        return float((frame - target).pow(2).mean().sqrt()) * 255

    def largest_step(frame):  # between rows
        return float((frame[0].diff(dim=1) * 255).abs().max())

    assert error(smoothed) < error(as_read) / 2
    assert largest_step(as_read) > 0.25 and largest_step(smoothed) < 0.1  # a code is 0.29 level


def test_large_frames_are_smoothed_at_the_work_size_and_followed():
    from restyle.clip import _smoothed
    from restyle.dequantise import dequantise

    # 10-bit codes of a gentle sky, 720 rows of 2 columns' worth: 12 codes from top to bottom
    rows = torch.linspace(0, 1, 720, dtype=torch.float64)[:, None].expand(720, 64)
    truth = torch.stack([300 + 12 * rows, 520 + 6 * rows, 500 - 4 * rows])[None] / 1023
    stored = ((truth * 1023).round() / 1023).float()
    followed = _smoothed(stored, levels=1023, shape=(180, 16))
    assert float((followed - stored).abs().max()) * 1023 <= 0.75 + 1e-4  # within its interval

    def error(x):  # from the gradient, in codes
        return float((x.double() - truth).pow(2).mean().sqrt()) * 1023

    assert error(followed) < error(stored) / 3
    # at or above the image's own size: the windows at full size
    assert torch.equal(_smoothed(stored, levels=1023, shape=(720, 64)), dequantise(stored, levels=1023))
    assert torch.equal(_smoothed(stored, levels=1023, shape=None), dequantise(stored, levels=1023))


def test_rgb_frames_are_read_as_they_are(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(stripes_image(32, 48)).save(folder / "0001.png")
    info = probe(folder)
    assert info.yuv is None
    assert np.array_equal(
        next(read_frames(info, shape=(32, 48), dequantise=True)), next(read_frames(info, shape=(32, 48)))
    )


def test_a_stylised_video_sky_bands_less_when_dequantised(tmp_path):
    clip = tmp_path / "sky.mkv"
    sky_clip(clip, "-crf", "18")
    t = np.linspace(0.05, 0.95, 96)[:, None, None] * np.ones((1, 64, 1))
    style = tmp_path / "dusk.png"
    Image.fromarray((np.concatenate([t, t * 0.6, 1 - t], axis=2) * 255).round().astype(np.uint8)).save(style)
    options = {"mode": "photo", "preset": "fast", "size": 128, "bit_depth": 16, "device": "cpu"}

    def largest_jump(folder):  # between rows of the column mean, in levels
        column = load_image(folder / "000002.png")[0].mean(dim=2) * 255
        return float((column[:, 1:] - column[:, :-1]).abs().max())

    banded = largest_jump(stylize_video(clip, style, output=tmp_path / "banded", dequantise=False, **options))
    smooth = largest_jump(stylize_video(clip, style, output=tmp_path / "smooth", **options))  # on by default
    assert banded > 5 and smooth < banded / 3


def test_full_resolution_frames_of_a_folder_band_less_when_dequantised(tmp_path):
    # 8-bit RGB frames of a dark sky (16 levels over 256 rows), carried up from a 64-row work size
    folder = tmp_path / "frames"
    folder.mkdir()
    rows = np.linspace(0.1, 0.16, 256)[:, None, None] * np.ones((1, 128, 1))
    sky = (np.concatenate([rows * 0.6, rows * 0.8, rows * 1.4], axis=2) * 255).round().astype(np.uint8)
    for index in range(2):
        Image.fromarray(sky).save(folder / f"{index:04d}.png")
    t = np.linspace(0.05, 0.95, 96)[:, None, None] * np.ones((1, 64, 1))
    style = tmp_path / "dusk.png"
    Image.fromarray((np.concatenate([t, t * 0.6, 1 - t], axis=2) * 255).round().astype(np.uint8)).save(style)
    options = {"mode": "photo", "preset": "fast", "size": 64, "bit_depth": 16, "full_resolution": True}

    def largest_jump(dequantise):  # between rows of the column mean of the last frame, in levels
        out = stylize_video(folder, style, output=tmp_path / f"out{dequantise}", dequantise=dequantise, **options)
        frame = load_image(out / "000001.png")
        assert frame.shape[-2:] == (256, 128)  # carried up to the frames' own size
        column = frame[0].mean(dim=2) * 255
        return float((column[:, 1:] - column[:, :-1]).abs().max())

    banded, smooth = largest_jump(False), largest_jump(True)
    # 20.0 and 2.6 levels; with the work-size frames smoothed but not the full-size guide, 5.2
    assert smooth < banded / 6, (smooth, banded)


def test_an_animated_png_is_a_clip_but_a_still_one_is_not(tmp_path):
    frames = [Image.fromarray(np.full((16, 24, 3), 40 * i, np.uint8)) for i in range(4)]
    frames[0].save(tmp_path / "moving.png", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tmp_path / "still.png")
    assert len(list(read_frames(probe(tmp_path / "moving.png"), shape=(16, 24)))) == 4
    with pytest.raises(RestyleError, match="still.png: a still image, not a clip"):
        probe(tmp_path / "still.png")


def test_an_empty_video_or_output_path_is_refused(tmp_path, monkeypatch):
    """As a path, "" names the current folder, which would be read as a folder of frames."""
    monkeypatch.chdir(tmp_path)
    style = tmp_path / "s.png"
    Image.fromarray(smooth_image(16, 16)).save(style)
    with pytest.raises(RestyleError, match=r"^video: the path is empty \(an unset shell variable\?\)$"):
        stylize_video("", style, output=tmp_path / "o.mp4")
    with pytest.raises(RestyleError, match=r"^output: the path is empty"):
        stylize_video(style, style, output="")
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]


def test_a_video_comment_that_is_not_utf8_reads_as_no_parameters(tmp_path):
    """ffmpeg prints a tag's bytes as they are; read as strict UTF-8 they raised a
    UnicodeDecodeError through `restyle info`."""
    path = tmp_path / "odd.mp4"
    # "\udce9" is the byte 0xe9 on its own (os.fsencode's surrogate escape): Latin-1's é, not UTF-8
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x32:d=0.2", "-metadata", "comment=caf\udce9", str(path))
    assert read_metadata(path) == {}


@pytest.mark.parametrize("suffix", [".mp4", ""])
def test_an_output_name_as_long_as_the_system_takes_is_written(capsys, tmp_path, clips, suffix):
    """The working names beside the output (the work folder, the encoder's files, a frame
    folder's staging) were the output's name and more: with a name near the system's limit of
    255 bytes, the run failed at the end, when they were made."""
    out = tmp_path / ("v" * (255 - len(suffix)) + suffix)
    code, _, err = run(capsys, "video", clips["silent"], clips["style"], "-o", out, "--frames", ":2", *FAST)
    assert code == 0, err
    frames = probe(out).frames
    assert frames == 2 and [p.name for p in tmp_path.iterdir()] == [out.name]
