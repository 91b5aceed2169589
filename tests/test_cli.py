import functools
import inspect
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restyle import Record, __version__, stylize
from restyle.cli import build_parser, main
from restyle.errors import RestyleError
from restyle.image import DEFAULT_MAX_PIXELS, load_image, read_metadata, save_image
from restyle.signature import plain_help

from .conftest import claim_in_another_process, on_terminal, png_with_header, run, stripes_image

TINY = ["--size", "64", "--iterations", "3", "--coarse-iterations", "0", "--no-pyramid", "--quiet", "--device", "cpu"]


def test_art_end_to_end_with_metadata(capsys, tmp_path, content_png, style_png):
    out = tmp_path / "out.png"
    code, stdout, stderr = run(capsys, "art", content_png, style_png, "-o", out, *TINY, "--seed", 11)
    assert code == 0, stderr
    assert stdout.strip() == str(out)
    assert Image.open(out).size == (64, 48)
    meta = read_metadata(out)
    assert meta["seed"] == 11 and meta["style_weight"] == 100.0 and meta["command"] == "art"
    assert meta["content"] == str(content_png) and meta["styles"] == [str(style_png)]
    assert meta["restyle_version"] == __version__
    assert meta["iterations"] == 3 and meta["pyramid"] is False


def test_the_content_photos_exif_travels_with_the_result(capsys, tmp_path, content_png, style_png):
    photo = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "Canon", 3  # shown turned by 180 degrees
    Image.open(content_png).save(photo, exif=exif)
    out = tmp_path / "out.jpg"
    code, _, stderr = run(capsys, "art", photo, style_png, "-o", out, *TINY)
    assert code == 0, stderr
    with Image.open(out) as img:
        assert img.getexif()[0x010F] == "Canon" and img.getexif()[0x0112] == 1
    assert read_metadata(out)["content"] == str(photo)


def test_info_prints_a_results_parameters(capsys, tmp_path, content_png, style_png):
    import json

    out = tmp_path / "out.webp"
    assert run(capsys, "art", content_png, style_png, "-o", out, *TINY, "--seed", 5)[0] == 0
    code, stdout, _ = run(capsys, "info", out)
    assert code == 0 and json.loads(stdout) == read_metadata(out) and json.loads(stdout)["seed"] == 5
    for path, message in (
        (tmp_path / "missing.png", "no such file"),
        (tmp_path, "is a folder; give one of the results in it"),
        (content_png, "holds no restyle parameters"),
        (tmp_path / "junk.png", "junk.png: not an image, or a format restyle cannot read"),
        (tmp_path / "cam.h264", "cam.h264: holds no restyle parameters"),  # an input clip, not "not an image"
        ("sample:coffee", "sample:coffee: a built-in sample photo, not a restyle result"),
        ("sample:mug", "unknown sample 'mug': choose from"),
    ):
        if isinstance(path, Path) and path.name == "junk.png":
            path.write_bytes(b"junk")
        if isinstance(path, Path) and path.name == "cam.h264":
            path.write_bytes(b"\x00\x00\x00\x01\x67" + bytes(60))  # a raw H.264 stream's first start code
        code, _, stderr = run(capsys, "info", path)
        assert code == 1 and stderr.count("\n") == 1 and message in stderr, stderr


def _made_again(capsys, result: Path) -> tuple[list[str], str]:
    """``restyle info --command RESULT``, then that command run: (its words, info's stderr)."""
    import shlex

    code, stdout, stderr = run(capsys, "info", "--command", result)
    assert code == 0 and stdout.count("\n") == 1, stderr
    words = shlex.split(stdout)
    assert words[0] == "restyle"
    code, _, err = run(capsys, *words[1:], "--quiet")
    assert code == 0, err
    return words, stderr


@pytest.mark.parametrize("command", ["art", "photo"])
def test_info_command_makes_the_same_result_again(capsys, tmp_path, monkeypatch, content_png, style_png, command):
    """The printed command (its seed the random one the run drew) makes the result again, bit for
    bit, with the same parameters; relative inputs stay relative."""
    monkeypatch.chdir(tmp_path)
    if command == "art":
        options = [
            *TINY,
            "--style-weight",
            "1000",
            "--preserve-color",
            "luminance",
            "--style-layer-weights",
            "1,2,1,1,1",
        ]
        argv = ["art", "content.png", "style.png", "style.png", "--style-blend", "1,0.5", "-o", "out.png", *options]
    else:
        masks = []
        for name, split in (("cmask.png", 20), ("smask.png", 40)):
            mask = np.full((48 if name == "cmask.png" else 64, 64, 3), 255, np.uint8)
            mask[:split] = (0, 0, 255)
            Image.fromarray(mask).save(name)
            masks.append(name)
        argv = ["photo", "content.png", "style.png", "-o", "out.png", "--preset", "fast", "--size", "64",
                "--content-mask", masks[0], "--style-mask", masks[1], "--photo-weight", "100", "--bit-depth", "16"]  # fmt: skip
    assert run(capsys, *argv, "--quiet")[0] == 0
    words, notes = _made_again(capsys, Path("out.png"))
    inputs = ["content.png", "style.png", "style.png"] if command == "art" else ["content.png", "style.png"]
    assert words[1 : 2 + len(inputs)] == [command, *inputs]
    assert words[words.index("-o") + 1] == "out-again.png" and "--seed" in words and notes == ""
    again = Path("out-again.png")
    assert read_metadata(again) == read_metadata("out.png")
    first, second = Image.open("out.png"), Image.open(again)
    assert first.mode == second.mode and first.tobytes() == second.tobytes()
    if command == "photo":
        from restyle.image import holds_deep_colour

        assert holds_deep_colour(again) and "--bit-depth" in words  # 16 bits, as the first


def test_info_command_notes_what_it_cannot_carry(capsys, tmp_path, monkeypatch, content_png, style_png):
    monkeypatch.chdir(tmp_path)
    from restyle.cli import result_command
    from restyle.image import save_image

    out = tmp_path / "web.png"
    params = {"restyle_web": "photo", "preset": "fast", "seed": 3, "content_mask": "/tmp/x/mask.png"}
    save_image(torch.rand(1, 3, 8, 8), out, metadata={**params, "status": "interrupted", "restyle_version": "0.0.1"})
    words, notes = result_command(read_metadata(out), out)
    assert words[:5] == ["restyle", "photo", "CONTENT", "STYLE", "-o"]
    assert words[words.index("--content-mask") + 1] == "CONTENT_MASK" and words[-2:] == ["--seed", "3"]
    assert notes == [
        "made in the web UI: put your files in place of CONTENT, STYLE and CONTENT_MASK",
        "its masks were painted in the web UI: save them as images for --content-mask and --style-mask",
        "that run stopped early (interrupted); this one runs in full",
        f"made by restyle 0.0.1, run by {__version__}: the result may differ",
    ]
    # an art result with two styles blended: a place for each
    words, notes = result_command({"restyle_web": "art", "style_blend": [1.0, 0.5], "seed": 4}, out)
    assert words[2:5] == ["CONTENT", "STYLE1", "STYLE2"] and "1.0,0.5" in words
    assert notes == ["made in the web UI: put your files in place of CONTENT, STYLE1 and STYLE2"]
    # inputs named relative to another folder: the note says where to run it (a sample is found anywhere)
    words, notes = result_command({"command": "art", "content": "gone.png", "styles": ["sample:ihc"]}, out)
    assert words[2:4] == ["gone.png", "sample:ihc"]
    assert notes == ["not found from here: gone.png; run it where the result was made"]
    # the Python API's inputs given in memory: one place each, the positional ones not twice
    meta = {"command": "photo", "content": "<in memory>", "style": "<in memory>", "content_mask": "<in memory>"}
    words, notes = result_command({**meta, "style_mask": None, "seed": 1}, out)
    assert words[2:4] == ["CONTENT", "STYLE"] and words[words.index("--content-mask") + 1] == "CONTENT_MASK"
    assert notes == ["made from images given in memory: put your files in place of CONTENT, STYLE and CONTENT_MASK"]
    # a web art result records how many styles it had, without their uploads' names
    words, notes = result_command({"restyle_web": "art", "styles": [None, None], "seed": 4}, out)
    assert words[2:5] == ["CONTENT", "STYLE1", "STYLE2"]
    save_image(torch.rand(1, 3, 8, 8), out, metadata={"command": "serve"})
    code, _, stderr = run(capsys, "info", "--command", out)
    assert code == 1 and stderr == f"restyle: error: {out}: its parameters name no restyle command to run again\n"


def test_info_command_makes_a_python_api_result_again(capsys, tmp_path, monkeypatch):
    """A result the Python API saved records its command and its inputs' names, so that
    ``restyle info --command`` makes it again; an image given in memory gets a place to fill."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    result = stylize(
        "sample:coffee", ["sample:rocket", rng.random((24, 24, 3))], size=32, iterations=2, pyramid=False, seed=5
    )
    result.save("api.png")
    meta = read_metadata("api.png")
    assert meta["restyle_version"] == __version__ and meta["status"] == "done"
    assert meta["command"] == "art" and meta["content"] == "sample:coffee"
    assert meta["styles"] == ["sample:rocket", "<in memory>"] and meta["content_mask"] is None  # no pixels
    code, stdout, stderr = run(capsys, "info", "--command", "api.png")
    again = "restyle art sample:coffee sample:rocket STYLE2 -o api-again.png --size 32 --seed 5 --iterations 2"
    assert code == 0 and stdout.split() == [*again.split(), "--no-pyramid"]
    assert stderr == "restyle: note: made from images given in memory: put your files in place of STYLE2\n"


def test_flags_come_from_the_api_signature():
    parser, _ = build_parser()
    art = parser._subparsers._group_actions[0].choices["art"]
    flags = {a.dest: a for a in art._actions}
    for param in inspect.signature(stylize).parameters.values():
        if param.kind is inspect.Parameter.KEYWORD_ONLY and param.name != "callback" and not param.name.startswith("_"):
            assert param.name in flags, param.name
            assert flags[param.name].default == param.default, param.name
    assert flags["preserve_color"].choices == ("none", "luminance", "histogram")
    serve = parser._subparsers._group_actions[0].choices["serve"]  # the web server's too
    flags = {a.dest: a.default for a in serve._actions if a.dest != "help"}
    assert flags == {"host": "127.0.0.1", "port": 7860, "max_upload_mb": 500, "max_pixels": DEFAULT_MAX_PIXELS}


def test_help_names_files_in_capitals_and_says_no_empty_default():
    """Every command's files are CONTENT, STYLE, VIDEO, IMAGE or RESULT, as its description and the
    README name them; an option with no default says nothing rather than "(default: None)"."""
    import argparse

    from restyle.cli import build_parser

    parser = build_parser()[0]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) >= {"art", "photo", "masks", "video", "serve", "smooth", "info"}
    for name, command in commands.items():
        text = command.format_help()
        assert "(default: None)" not in text and ". (default:" not in text, name
        for action in command._actions:
            if not action.option_strings:  # a positional argument: a file
                assert action.metavar in ("CONTENT", "STYLE", "VIDEO", "IMAGE", "RESULT"), (name, action.dest)
    assert "usage: restyle art [-h] -o OUTPUT" in commands["art"].format_help()
    assert commands["art"].format_usage().rstrip().endswith("CONTENT STYLE [STYLE ...]")


def test_a_union_is_a_flag_of_its_first_type():
    """``bool | AutoMasks``: an on/off flag on the command line, found masks from Python."""
    import argparse

    from restyle.automask import AutoMasks
    from restyle.signature import add_signature_flags

    def entry(*, auto: bool | AutoMasks = False, size: int | None = None, name: str = "x") -> None:
        """Args:
        auto: on or off.
        size: a size.
        name: a name.
        """

    parser = argparse.ArgumentParser()
    assert add_signature_flags(parser, entry) == ["auto", "size", "name"]
    assert vars(parser.parse_args(["--auto", "--size", "3"])) == {"auto": True, "size": 3, "name": "x"}
    assert vars(parser.parse_args([])) == {"auto": False, "size": None, "name": "x"}


def test_help_shows_no_docstring_markup():
    assert plain_help("see :mod:`restyle.automask` and :func:`~restyle.optim.optimize`") == (
        "see restyle.automask and optimize"
    )
    assert plain_help("with ``auto_masks``, as ``restyle photo``", ["auto_masks"]) == (
        "with --auto-masks, as restyle photo"
    )
    parser, _ = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            assert "`" not in (action.help or ""), (name, action.dest, action.help)


def test_every_option_of_every_command_says_what_it_does():
    parser, _ = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            assert action.help and len(action.help) > 8, (name, action.option_strings or action.dest)


def test_comma_lists_and_multiple_styles(capsys, tmp_path, content_png, style_png):
    out = tmp_path / "blend.jpg"
    code, _, stderr = run(
        capsys,
        "art",
        content_png,
        style_png,
        content_png,
        "-o",
        out,
        *TINY,
        "--style-blend",
        "2,1",
        "--style-layers",
        "relu1_1,relu2_1",
        "--style-layer-weights",
        "1,0.5",
    )
    assert code == 0, stderr
    meta = read_metadata(out)
    assert meta["style_blend"] == [2.0, 1.0] and meta["style_layers"] == ["relu1_1", "relu2_1"]


def test_save_every_writes_snapshots(capsys, tmp_path, content_png, style_png):
    out = tmp_path / "snap.png"
    code, _, _ = run(capsys, "art", content_png, style_png, "-o", out, *TINY, "--save-every", "1")
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("snap.*.png")) == [f"snap.0000{i}.png" for i in (1, 2, 3)]
    # each carries its run's parameters, the seed drawn for it among them, and its iteration
    final = read_metadata(out)
    snap = read_metadata(tmp_path / "snap.00002.png")
    assert snap["status"] == "snapshot" and snap["iteration"] == 2 and snap["seed"] == final["seed"]
    assert {k: snap[k] for k in ("command", "content", "styles", "size", "iterations")} == {
        k: final[k] for k in ("command", "content", "styles", "size", "iterations")
    }
    code, stdout, stderr = run(capsys, "info", "--command", tmp_path / "snap.00002.png")
    assert code == 0 and f"-o {tmp_path / 'snap-again.png'}" in stdout and f"--seed {final['seed']}" in stdout
    assert stderr == "restyle: note: a snapshot of iteration 2; this command makes the whole run\n"


def test_snapshots_have_the_outputs_bit_depth(capsys, tmp_path, content_png, style_png):
    from restyle.image import holds_deep_colour

    for bits in (16, 8):
        out = tmp_path / f"deep{bits}.png"
        code, _, err = run(
            capsys, "art", content_png, style_png, "-o", out, *TINY, "--save-every", "3", "--bit-depth", bits
        )
        assert code == 0, err
        snapshot = tmp_path / f"deep{bits}.00003.png"
        assert holds_deep_colour(snapshot) == holds_deep_colour(out) == (bits == 16)


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(tmp_path):
    """``restyle info R | head``: the reader goes away before restyle writes; restyle exits as a
    Unix tool stopped by SIGPIPE does (141), without a traceback."""
    from restyle.image import save_image

    result = save_image(torch.rand(1, 3, 4, 4), tmp_path / "r.png", metadata={"command": "art", "seed": 1})
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before restyle writes
    done = subprocess.run(
        [sys.executable, "-m", "restyle", "info", str(result)], stdout=write_end, stderr=subprocess.PIPE, text=True
    )
    os.close(write_end)
    assert done.returncode == 141 and done.stderr == "", done.stderr


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["art", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "--style-weight" in text and "--preserve-color" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["art", "c.png", "s.png", "--style-blend", "1", "3", "-o", "o.png"],
            "3 (--style-blend takes its values joined by commas: --style-blend 1,3)",
        ),
        (
            ["photo", "c.png", "s.png", "-o", "o.png", "--style-weight=10", "100", "1e3"],
            "100 1e3 (--style-weight takes its values joined by commas: --style-weight 10,100,1e3)",
        ),
        (
            ["photo", "c.png", "s.png", "--photo-weight", "1,2", "5", "-o", "o.png"],
            "5 (--photo-weight takes its values joined by commas: --photo-weight 1,2,5)",
        ),
        (["art", "c.png", "s.png", "-o", "o.png", "extra"], "extra"),
        (["art", "c.png", "s.png", "-o", "o.png", "--style-blend", "1,2", "extra"], "extra"),
    ],
)
def test_values_given_apart_are_told_to_be_joined_by_commas(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"restyle: error: unrecognized arguments: {message}"
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda t, c, s: [t / "missing.png", s, "-o", t / "o.png"], "no such file"),
        (lambda t, c, s: [c, s, "-o", t / "no" / "dir" / "o.png"], "does not exist"),
        (lambda t, c, s: [c, s, "-o", t / "o.xyz"], "unsupported output type"),
        (lambda t, c, s: [c, s, "-o", t], "is a folder; name the output image, such as"),
        (
            lambda t, c, s: ["https://example.com/photo.jpg", s, "-o", t / "o.png"],
            "https://example.com/photo.jpg: a web address; restyle reads local files, so download it first",
        ),
        (lambda t, c, s: [c, t / "notes.png", "-o", t / "o.png"], "not an image"),
        (lambda t, c, s: [c, s, "-o", t / "o.png", "--style-layers", "relu7_1"], "unknown VGG-19 layer"),
        (lambda t, c, s: [c, s, "-o", t / "o.png", "--max-pixels", "100"], "max-pixels"),
        (lambda t, c, s: [c, s, "-o", t / "o.png", "--size", "10"], "at least 16"),
        (lambda t, c, s: [c, s, "-o", t / "o.png", "--save-every", "-1"], "--save-every must be at least 0"),
        (lambda t, c, s: [c, s, "-o", t / "o.png", "--style-scale", "inf"], "style-scale must be a positive number"),
        (lambda t, c, s: [c, s, "-o", t / "o.png", "--style-scale", "1e300"], "over 10,000,000 px on a side"),
        (lambda t, c, s: [c, s, "-o", t / "o.png", "--size", "9" * 23], "over 10,000,000 px on a side"),
    ],
)
def test_user_errors_are_one_line(capsys, tmp_path, content_png, style_png, make_args, message):
    (tmp_path / "notes.png").write_text("not really a png")
    code, _, stderr = run(capsys, "art", *TINY[:-2], *make_args(tmp_path, content_png, style_png))
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restyle: error: ") and message in lines[0]
    assert not list(tmp_path.glob("o.*"))


@pytest.mark.parametrize(
    ("command", "make_args", "prefix"),
    [
        ("art", lambda c, s, link: [link, s, "-o", "o.png"], ""),
        ("art", lambda c, s, link: [c, link, "-o", "o.png"], ""),
        ("art", lambda c, s, link: [c, s, "--init", link, "-o", "o.png"], "--init "),
        ("photo", lambda c, s, link: [c, s, "--content-mask", link, "--style-mask", s, "-o", "o.png"], ""),
        ("video", lambda c, s, link: [link, s, "-o", "o.mp4"], ""),
        ("info", lambda c, s, link: [link], ""),
    ],
)
def test_a_link_to_nothing_is_told_from_a_missing_file(
    capsys, tmp_path, monkeypatch, content_png, style_png, command, make_args, prefix
):
    """``ls`` lists a symbolic link whose file has gone, and "no such file" for it puzzled; so
    did "--init LINK: no such file (--init takes content, noise, or an image)"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.png").symlink_to(tmp_path / "moved" / "photo.png")
    code, _, stderr = run(capsys, command, *make_args(content_png, style_png, "photo.png"))
    message = f"{prefix}photo.png: a symbolic link to {tmp_path / 'moved' / 'photo.png'}, which does not exist"
    assert code == 1 and on_terminal(stderr) == [f"restyle: error: {message}"]


@pytest.mark.parametrize(
    ("command", "make_args", "message"),
    [
        ("art", lambda c, s: ["~/photo.png", s, "-o", "o.png"], "~/photo.png: no such file; {HINT}{HOME}/photo.png"),
        ("art", lambda c, s: [c, s, "-o", "~/o.png"], "~/o.png: output folder ~ does not exist; {HINT}{HOME}/o.png"),
        ("photo", lambda c, s: ["photos", s, "-o", "~/out"], "~/out: refused: it would make a folder named ~ here; {HINT}{HOME}/out"),
        ("masks", lambda c, s: [c, s, "-o", "~/masks"], "~/masks: refused: it would make a folder named ~ here; {HINT}{HOME}/masks"),
    ],
)  # fmt: skip
def test_a_tilde_that_no_shell_expanded_is_named_and_no_folder_called_tilde_is_made(
    capsys, tmp_path, monkeypatch, content_png, style_png, command, make_args, message
):
    """A quoted ``"~/photo.png"`` (or one from Python) is not the home folder: the input was
    "no such file" with no clue, and a folder output made a folder named ``~`` in the current
    folder (one a later ``rm -rf ~`` meant for it would take the home folder with it)."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    (work / "photos").mkdir(parents=True)
    (work / "photos" / "p.png").write_bytes(content_png.read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    code, _, stderr = run(capsys, command, *make_args(content_png, style_png), "--size", "32")
    hint = "~ is the home folder only where a shell expands it (not in quotes, not from Python): give "
    assert code == 1 and stderr == "restyle: error: " + message.format(HINT=hint, HOME=home) + "\n"
    assert sorted(p.name for p in work.iterdir()) == ["photos"] and not list(home.iterdir())  # nothing made
    monkeypatch.setenv("HOME", str(tmp_path / "nowhere"))  # a ~ that expands to nothing that exists: the same
    assert run(capsys, command, *make_args(content_png, style_png), "--size", "32")[0] == 1


@pytest.mark.parametrize("work_size", ["8", "9" * 23])
def test_masks_work_size_out_of_range_is_one_line(capsys, tmp_path, content_png, style_png, work_size):
    code, _, stderr = run(capsys, "masks", content_png, style_png, "-o", tmp_path / "m", "--work-size", work_size)
    assert code == 1 and stderr == f"restyle: error: --work-size must be between 16 and 2048, not {work_size}\n"
    assert not (tmp_path / "m").exists()


def test_unwritable_output_fails_before_any_work(capsys, tmp_path, content_png, style_png, monkeypatch):
    import restyle.artistic

    monkeypatch.setattr(restyle.artistic, "optimize", lambda *a, **k: pytest.fail("computed anyway"))
    code, _, stderr = run(capsys, "art", content_png, style_png, "-o", "/proc/out.png")
    assert code == 1 and "not writable" in stderr


def test_a_read_only_output_fails_before_any_work(capsys, tmp_path, content_png, style_png, monkeypatch):
    import restyle.artistic

    monkeypatch.setattr(restyle.artistic, "optimize", lambda *a, **k: pytest.fail("computed anyway"))
    out = tmp_path / "kept.png"
    out.write_bytes(b"previous result")
    out.chmod(0o444)
    code, stdout, stderr = run(capsys, "art", content_png, style_png, "-o", out, *TINY)
    assert (code, stdout) == (1, "") and stderr == (
        f"restyle: error: {out}: the file is read-only; give another output, or make it writable to replace it\n"
    )
    assert out.read_bytes() == b"previous result"


@pytest.mark.parametrize(
    ("command", "replaced"),
    [
        (["art", "{c}", "{s}", *TINY], "{c}"),
        (["art", "{c}", "{s}", *TINY], "{s}"),
        (["photo", "{c}", "{s}", "--preset", "fast", "--size", "64", "--quiet"], "{c}"),
        (["smooth", "{s}", "--content", "{c}", "--method", "guided"], "{c}"),
    ],
)
def test_an_output_that_is_an_input_is_refused(capsys, content_png, style_png, command, replaced):
    paths = {"{c}": str(content_png), "{s}": str(style_png)}
    before = Path(paths[replaced]).read_bytes()
    code, _, stderr = run(capsys, *[paths.get(a, a) for a in command], "-o", paths[replaced])
    assert code == 1 and stderr.count("\n") == 1 and "is an input of this run" in stderr, stderr
    assert Path(paths[replaced]).read_bytes() == before


def test_smooth_may_replace_its_own_image(capsys, tmp_path, content_png):
    image = tmp_path / "image.png"
    image.write_bytes(content_png.read_bytes())
    code, _, stderr = run(capsys, "smooth", image, "--method", "guided", "--content", content_png, "-o", image)
    assert code == 0, stderr


def test_nonfinite_saves_last_good_iterate_and_says_so(capsys, tmp_path, content_png, style_png):
    out = tmp_path / "o.png"
    code, _, stderr = run(capsys, "art", content_png, style_png, "-o", out, *TINY, "--style-weight", "1e38")
    assert code == 0 and out.exists()
    assert "warning" in stderr and "kept the last good iterate" in stderr


def _subprocess(args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "restyle", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def test_real_process_exit_code_and_no_traceback(tmp_path):
    proc = _subprocess(["art", tmp_path / "nope.png", tmp_path / "nope2.png", "-o", tmp_path / "o.png"])
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in err and err.strip() == f"restyle: error: {tmp_path / 'nope.png'}: no such file"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_a_termination_saves_best_iterate_and_exits_130(tmp_path, content_png, style_png, sig):
    """SIGTERM (``timeout``, a job scheduler, ``docker stop``) is a stop too: it killed the run
    and its best iterate."""
    out = tmp_path / "o.png"
    args = [
        "art",
        content_png,
        style_png,
        "-o",
        out,
        "--size",
        "64",
        "--no-pyramid",
        "--iterations",
        "100000",
        "--save-every",
        "1",
        "--quiet",
        "--device",
        "cpu",
    ]
    proc = _subprocess(args)
    deadline = time.time() + 120
    second = tmp_path / "o.00002.png"  # a step taken: the best iterate is no longer the start
    while not second.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert second.exists(), "no step finished in time"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert read_metadata(out)["status"] == "interrupted"
    assert Image.open(out).size == (64, 48)
    assert read_metadata(out)["iterations"] == 100000
    assert not [p for p in Path(tmp_path).iterdir() if p.name.endswith(".part")]


def _ctrl_c() -> None:
    """Ctrl-C, as the terminal sends it: the CLI's handler runs in the main thread."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)  # the handler runs at the next bytecode; this waits for it


@pytest.mark.parametrize("command", ["smooth", "photo"])
def test_ctrl_c_before_any_step_stops_at_once_and_writes_nothing(
    capsys, monkeypatch, tmp_path, content_png, style_png, command
):
    """`restyle smooth` said "stopping after this step", then smoothed to the end and wrote its
    result with status 0; a photo run finding its masks went on finding them, then wrote the
    content photo as its "best iterate"."""
    import restyle.image

    read = restyle.image.load_image
    reads = []

    def read_then_ctrl_c(*args, **kwargs):
        image = read(*args, **kwargs)
        reads.append(kwargs.get("what"))
        if len(reads) == 1:
            _ctrl_c()
            reads.append("went on")  # not reached: Ctrl-C stops the command here
        return image

    monkeypatch.setattr(restyle.image, "load_image", read_then_ctrl_c)
    for module in ("restyle.photo", "restyle.artistic"):
        monkeypatch.setattr(f"{module}.load_image", read_then_ctrl_c, raising=False)
    out = tmp_path / "o.png"
    argv = {"smooth": ["smooth", content_png, "--method", "guided"], "photo": ["photo", content_png, style_png, *FAST]}
    code, _, stderr = run(capsys, *argv[command], "-o", out)
    assert (code, stderr) == (130, "restyle: interrupted before any result; nothing written\n")
    assert len(reads) == 1 and not out.exists()


def test_ctrl_c_seen_at_a_runs_first_evaluation_writes_nothing(capsys, monkeypatch, tmp_path, content_png, style_png):
    """The best iterate of a run stopped at its first evaluation is its start, the content
    photo: no result to keep."""
    import restyle.artistic
    from restyle.optim import STOP

    objective = restyle.artistic.Objective

    def stopped(*args, **kwargs):  # Ctrl-C while the style targets are computed
        STOP.set()
        return objective(*args, **kwargs)

    monkeypatch.setattr(restyle.artistic, "Objective", stopped)
    out = tmp_path / "o.png"
    code, _, stderr = run(capsys, "art", content_png, style_png, "-o", out, *TINY)
    assert (code, stderr) == (130, "restyle: interrupted before any result; nothing written\n")
    assert not out.exists()


def test_the_first_ctrl_c_of_a_run_under_way_asks_it_to_stop_and_the_second_stops_it(capsys):
    from restyle.cli import _on_sigint
    from restyle.optim import STOP, UNDER_WAY

    try:
        UNDER_WAY.set()
        _on_sigint(signal.SIGINT, None)
        assert (
            STOP.is_set()
            and capsys.readouterr().err == "restyle: stopping after this step (Ctrl-C again to quit now)\n"
        )
        with pytest.raises(KeyboardInterrupt):
            _on_sigint(signal.SIGINT, None)
        STOP.clear()
        from tqdm import tqdm

        with tqdm(total=10, file=sys.stderr, desc="a bar", bar_format="{desc}: {n}/{total}") as bar:
            bar.update(3)
            capsys.readouterr()
            _on_sigint(signal.SIGINT, None)  # before: the message went on at the end of the bar's line
            said = capsys.readouterr().err
        assert "restyle: stopping after this step (Ctrl-C again to quit now)" in said.replace("\r", "\n").split("\n")
        assert said.rstrip("\r").endswith("a bar: 3/10")  # the bar, drawn again below it
        STOP.clear()
        UNDER_WAY.clear()
        with pytest.raises(KeyboardInterrupt):  # nothing under way: nothing would look at STOP
            _on_sigint(signal.SIGINT, None)
        assert not STOP.is_set()
    finally:
        STOP.clear()
        UNDER_WAY.clear()


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 120000000000 bytes"),
        RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        MemoryError(),
    ],
)
def test_out_of_memory_is_one_line(capsys, monkeypatch, tmp_path, content_png, style_png, error):
    @functools.wraps(stylize)  # the CLI's flags come from its signature
    def exhausted(*args, **kwargs):
        raise error

    monkeypatch.setattr("restyle.artistic.stylize", exhausted)
    code, _, err = run(capsys, "art", content_png, style_png, "-o", tmp_path / "o.png", *TINY)
    assert code == 1 and err == "restyle: error: out of memory; try a smaller --size\n"
    assert not (tmp_path / "o.png").exists()


def test_other_runtime_errors_are_not_called_out_of_memory(monkeypatch, tmp_path, content_png, style_png):
    @functools.wraps(stylize)
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("restyle.artistic.stylize", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["art", str(content_png), str(style_png), "-o", str(tmp_path / "o.png"), *TINY])


@pytest.mark.parametrize("command", ["art", "photo"])
def test_a_style_over_max_pixels_is_read_downscaled(capsys, tmp_path, content_png, command):
    """A style photo larger than --max-pixels is brought down to the size it is used at, as a
    content photo is, not refused."""
    style = tmp_path / "big_style.png"
    Image.fromarray(stripes_image(200, 200)).save(style)  # 40000 pixels, over --max-pixels 10000
    out = tmp_path / "o.png"
    argv = [*TINY, "--size", "32"] if command == "art" else ["--preset", "fast", "--size", "32", "--quiet"]
    code, _, stderr = run(capsys, command, content_png, style, "-o", out, "--max-pixels", "10000", *argv)
    assert code == 0 and "big_style.png: 200x200 (40000 pixels) is over --max-pixels; downscaling" in stderr, stderr


def test_size_over_max_pixels_is_refused_before_any_work(capsys, tmp_path, content_png, style_png):
    code, _, err = run(capsys, "photo", content_png, style_png, "-o", tmp_path / "o.png", "--size", "100000")
    assert code == 1 and err.count("\n") == 1
    assert "content: --size 100000 would make it 100000x75000 (7500.0 MP)" in err and "use a smaller --size" in err


# ---------------------------------------------------------------- a folder of photos

FAST = ["--preset", "fast", "--size", "48", "--quiet", "--device", "cpu"]


@pytest.fixture
def photos(tmp_path, content_png):
    """A folder of three photos: two PNGs whose names sort by their numbers, and a camera JPEG."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("shot2.png", "shot10.png"):
        Image.open(content_png).save(folder / name)
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    Image.open(content_png).save(folder / "camera.jpg", exif=exif)
    (folder / "notes.txt").write_text("not a photo, and not taken for one")
    return folder


def test_a_folder_of_photos_is_stylised_into_a_folder(capsys, tmp_path, photos, style_png):
    out = tmp_path / "looks"  # made by the run
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST)
    assert code == 0, stderr
    names = ["camera.jpg", "shot2.png", "shot10.png"]  # each photo's own type; numbers in order
    assert stdout.split() == [str(out / n) for n in names]
    for name in names:
        meta = read_metadata(out / name)
        assert meta["content"] == str(photos / name) and meta["style"] == str(style_png) and meta["preset"] == "fast"
    with Image.open(out / "camera.jpg") as img:
        assert img.getexif()[0x010F] == "Canon"  # each result keeps its own photo's EXIF
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST, "--bit-depth", "16")
    assert code == 0 and stdout.split()[0] == str(out / "camera.png")  # no 16-bit JPEG: PNG instead


def test_a_result_too_large_for_its_output_type_is_refused_before_any_work(capsys, tmp_path, style_png):
    wide = tmp_path / "wide.png"
    Image.new("RGB", (16_384, 2), "grey").save(wide)
    out = tmp_path / "out.webp"
    holds = f"{out}: a WebP image holds at most 16383 pixels a side, and this one has"
    for argv, cause in [
        (["art", style_png, style_png, "--size", "20000"], "20000 (--size 20000)"),
        (["photo", style_png, style_png, "--size", "16384", "--style-weight", "1,2"], "16384 (--size 16384)"),
        (["photo", wide, style_png, "--full-resolution"], f"16384 (--full-resolution: the size of {wide})"),
        (["smooth", wide, "--method", "guided"], f"16384 (the size of {wide})"),
    ]:
        started = time.perf_counter()
        code, _, stderr = run(capsys, *argv, "-o", out, "--quiet")
        assert (code, stderr) == (1, f"restyle: error: {holds} {cause}; write .png or .tif\n")
        assert time.perf_counter() - started < 5  # before any work
    assert not out.exists()


def test_the_results_side_is_known_for_a_built_in_photo_too():
    """``restyle photo sample:astronaut ... -o out.jpg --full-resolution`` failed "sample:astronaut:
    no such file" while its result's side was checked."""
    import argparse

    from restyle.cli import _result_side

    args = argparse.Namespace(full_resolution=True, max_pixels=DEFAULT_MAX_PIXELS, size=64)
    assert _result_side(args, "sample:astronaut") == (512, "--full-resolution: the size of sample:astronaut")
    assert _result_side(argparse.Namespace(size=64), "sample:astronaut") == (64, "--size 64")  # art: no such flag


def test_a_folder_runs_bar_counts_its_photos_above_each_photos_own(capsys, tmp_path, photos, style_png):
    loud = [a for a in TINY if a != "--quiet"]
    out = tmp_path / "looks"
    code, stdout, stderr = run(capsys, "art", photos, style_png, "-o", out, *loud)
    assert code == 0, stderr
    assert stdout.split() == [str(out / n) for n in ("camera.jpg", "shot2.png", "shot10.png")]  # paths alone
    assert re.search(r"photos: 100%\|.*\| 3/3 \[\d\d:\d\d<00:00, +[\d.]+(photo/s|s/photo)\]", stderr), stderr
    (out / "shot10.png").unlink()  # the photos left from before are counted as done
    code, stdout, stderr = run(capsys, "art", photos, style_png, "-o", out, *loud)
    assert code == 0 and stdout.split() == [str(out / "shot10.png")]
    assert "| 2/3 [" in stderr and "photos: 100%" in stderr and "| 3/3 [" in stderr
    # the fast preset has no iterations, so no bar of its own: the folder's counts its photos
    code, stdout, stderr = run(
        capsys, "photo", photos, style_png, "-o", tmp_path / "fast", *FAST[:-3], "--device", "cpu"
    )
    assert code == 0 and len(stdout.split()) == 3 and "| 3/3 [" in stderr and "iteration" not in stderr
    code, _, stderr = run(capsys, "photo", photos, style_png, "-o", tmp_path / "quiet", *FAST)
    assert code == 0 and stderr == ""


def test_a_folders_result_too_large_for_its_photos_type_is_a_png():
    from restyle.cli import _batch_suffix

    assert _batch_suffix(Path("a.webp"), 8, 16_383) == ".webp" and _batch_suffix(Path("a.webp"), 8, 16_384) == ".png"
    assert _batch_suffix(Path("a.jpg"), 8, 65_500) == ".jpg" and _batch_suffix(Path("a.jpg"), 8, 65_501) == ".png"
    assert _batch_suffix(Path("a.tif"), 16, 100_000) == ".tif" and _batch_suffix(Path("a.jpg"), 16, 64) == ".png"


def test_a_folder_of_photos_in_art_mode(capsys, tmp_path, photos, style_png):
    code, stdout, stderr = run(capsys, "art", photos, style_png, "-o", tmp_path / "art", *TINY, "--save-every", "3")
    assert code == 0, stderr
    assert len(stdout.split()) == 3 and read_metadata(tmp_path / "art" / "shot2.png")["styles"] == [str(style_png)]
    # each photo's snapshot knows the seed its photo's run drew
    final, snap = (read_metadata(tmp_path / "art" / name) for name in ("shot2.png", "shot2.00003.png"))
    assert snap["status"] == "snapshot" and snap["content"] == final["content"] and snap["seed"] == final["seed"]


@pytest.mark.parametrize(
    ("extra", "make", "message"),
    [
        (["-o", "{out}.png"], None, "for a folder of photos, --output is a folder, not an image"),
        (["--content-mask", "{content}"], None, "masks belong to one photo: not with a folder of photos"),
        (["--style-weight", "1,10"], None, "a sweep of weights is for one photo"),
        ([], lambda f: (f / "broken.png").write_bytes(b"junk"), "broken.png: not an image"),
        ([], lambda f: Image.new("RGB", (8, 8)).save(f / "shot2.bmp"), "two photos would give the same result name"),
        ([], lambda f: [p.unlink() for p in f.iterdir()], "the folder holds no images"),
    ],
)
def test_bad_folders_of_photos_fail_before_any_work(
    capsys, tmp_path, photos, style_png, content_png, extra, make, message
):
    if make is not None:
        make(photos)
    out = tmp_path / "looks"
    extra = [a.format(out=out, content=content_png) for a in extra]
    argv = extra if "-o" in extra else ["-o", out, *extra]
    code, stdout, stderr = run(capsys, "photo", photos, style_png, *argv, *FAST)
    assert code == 1 and stderr.count("\n") == 1 and message in stderr, stderr
    assert not out.exists() and stdout == ""


@pytest.mark.parametrize("command", ["photo", "art"])
@pytest.mark.parametrize(
    ("style", "message"),
    [
        ("{tmp}/missing.png", "{tmp}/missing.png: no such file"),
        ("{tmp}", "{tmp}: is a folder, not an image"),
        ("sample:nope", "unknown sample 'nope'"),
    ],
)
def test_a_folder_run_with_a_style_it_cannot_read_fails_once_before_any_work(
    capsys, tmp_path, photos, command, style, message
):
    out = tmp_path / "looks"
    speed = FAST if command == "photo" else TINY
    code, stdout, stderr = run(capsys, command, photos, style.format(tmp=tmp_path), "-o", out, *speed)
    assert code == 1 and stderr.startswith("restyle: error: " + message.format(tmp=tmp_path)), stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr  # one line for the run, not one a photo
    assert not out.exists() and stdout == ""


def test_a_folder_runs_headers_are_checked_against_its_own_max_pixels(capsys, tmp_path, style_png):
    """A folder's photos were checked before any work at the default --max-pixels whatever the
    run gave: a 600-MP photo was "refused as a decompression bomb (far over --max-pixels)" with
    --max-pixels 700000000, which a single-photo run takes."""
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "big.png").write_bytes(png_with_header(30_000, 20_000))  # the header alone: no pixels
    out = tmp_path / "looks"
    code, _, stderr = run(capsys, "art", folder, style_png, "-o", out, *TINY)
    bomb = f"{folder / 'big.png'}: refused as a decompression bomb (far over --max-pixels)"
    assert (code, stderr) == (1, f"restyle: error: {bomb}; pass a larger --max-pixels if you trust this file\n")
    assert not out.exists()
    code, _, stderr = run(capsys, "art", folder, style_png, "-o", out, *TINY, "--max-pixels", "700000000")
    assert code == 1 and stderr.splitlines() == [  # past the check: the photo's own fault, when it is read
        f"restyle: error: {folder / 'big.png'}: image data is truncated or corrupt",
        "restyle: error: 1 of 1 photos failed: big.png",
    ]
    assert list(out.iterdir()) == []


def test_a_folder_run_takes_a_built_in_style_and_continues(capsys, tmp_path, photos):
    out = tmp_path / "looks"
    code, stdout, stderr = run(capsys, "photo", photos, "sample:rocket", "-o", out, *FAST)
    assert code == 0 and len(stdout.split()) == 3, stderr
    assert read_metadata(out / "shot2.png")["style"] == "sample:rocket"
    code, stdout, stderr = run(capsys, "photo", photos, "sample:rocket", "-o", out, *FAST)
    assert code == 0 and "keeping 3 of 3 results finished by an earlier run" in stderr


def test_a_read_only_result_in_the_output_folder_fails_before_any_work(
    capsys, tmp_path, photos, style_png, monkeypatch
):
    import restyle.photo

    monkeypatch.setattr(restyle.photo, "optimize", lambda *a, **k: pytest.fail("computed anyway"))
    out = tmp_path / "looks"
    out.mkdir()
    (out / "shot10.png").write_bytes(b"an earlier result")
    (out / "shot10.png").chmod(0o444)
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST)
    assert code == 1 and stdout == "" and stderr.count("\n") == 1, stderr
    assert "shot10.png: the file is read-only" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["shot10.png"]


def test_a_photo_that_fails_is_skipped_and_the_batch_goes_on(capsys, tmp_path, photos, style_png, monkeypatch):
    import restyle.photo
    from restyle.errors import RestyleError

    real = restyle.photo.stylize_photo

    @functools.wraps(real)  # the CLI takes its flags from this signature
    def fail_on_shot2(content, *args, **kwargs):
        if Path(content).name == "shot2.png":
            raise RestyleError("shot2.png: too small")
        return real(content, *args, **kwargs)

    monkeypatch.setattr(restyle.photo, "stylize_photo", fail_on_shot2)
    out = tmp_path / "looks"
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST)
    assert code == 1 and stdout.split() == [str(out / "camera.jpg"), str(out / "shot10.png")]
    assert stderr.splitlines() == [
        "restyle: error: shot2.png: too small",
        "restyle: error: 1 of 3 photos failed: shot2.png",
    ]


def test_a_photo_removed_during_a_folder_run_is_reported_and_skipped(capsys, tmp_path, photos, style_png, monkeypatch):
    import restyle.photo

    real = restyle.photo.stylize_photo

    @functools.wraps(real)  # the CLI takes its flags from this signature
    def removing_shot2(content, *args, **kwargs):
        if Path(content).name == "camera.jpg":  # the first: shot2.png goes while it is made
            (photos / "shot2.png").unlink()
        return real(content, *args, **kwargs)

    monkeypatch.setattr(restyle.photo, "stylize_photo", removing_shot2)
    out = tmp_path / "looks"
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST)
    assert code == 1 and stdout.split() == [str(out / "camera.jpg"), str(out / "shot10.png")]
    lines = stderr.splitlines()
    assert len(lines) == 2 and "shot2.png" in lines[0] and lines[0].startswith("restyle: error: ")
    assert lines[1] == "restyle: error: 1 of 3 photos failed: shot2.png"


def test_a_results_folder_in_use_by_another_run_is_refused_and_left_alone(capsys, tmp_path, photos, style_png):
    """Two folder runs into one results folder at once both made every photo, and with
    different styles over each other's results. The second is now refused at once."""
    out = tmp_path / "looks"
    out.mkdir()
    child, answer = claim_in_another_process(out, hold_for=120)
    try:
        assert answer == "held"
        code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST)
        assert (code, stdout) == (1, "")
        assert stderr == (
            f"restyle: error: the folder {out} is in use by another restyle run; let that run finish, "
            "or give this one another output folder\n"
        )
        assert [p.name for p in out.iterdir()] == [".restyle.lock"]  # the other run's
    finally:
        child.kill()
        child.wait(30)
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST)
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["camera.jpg", "shot10.png", "shot2.png"]  # its lock gone


def test_ctrl_c_in_a_folder_saves_the_current_photo_and_stops(capsys, tmp_path, photos, style_png, monkeypatch):
    import dataclasses

    import restyle.photo

    real = restyle.photo.stylize_photo

    @functools.wraps(real)  # the CLI takes its flags from this signature
    def stopped_on_shot2(content, *args, **kwargs):
        result = real(content, *args, **kwargs)
        if Path(content).name == "shot2.png":  # as when Ctrl-C stops its optimisation at its third step
            steps = [Record(0, (48, 64), i, {"total": 1.0}, 0.1 * i) for i in (1, 2, 3)]
            return dataclasses.replace(result, status="interrupted", message="interrupted", history=steps)
        return result

    monkeypatch.setattr(restyle.photo, "stylize_photo", stopped_on_shot2)
    out = tmp_path / "looks"
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST)
    assert code == 130 and stdout.split() == [str(out / "camera.jpg")]
    assert (out / "shot2.png").exists() and not (out / "shot10.png").exists()
    assert stderr.splitlines()[-1] == "restyle: stopped at photo 2 of 3; run the same command to continue"
    assert read_metadata(out / "camera.jpg")["status"] == "done"
    assert read_metadata(out / "shot2.png")["status"] == "interrupted"


def _ran_on(monkeypatch) -> list[str]:
    """The names of the photos ``restyle photo`` stylises from now on."""
    import restyle.photo

    real, ran = restyle.photo.stylize_photo, []

    @functools.wraps(real)  # the CLI takes its flags from this signature
    def recording(content, *args, **kwargs):
        ran.append(Path(content).name)
        return real(content, *args, **kwargs)

    monkeypatch.setattr(restyle.photo, "stylize_photo", recording)
    return ran


def test_the_same_command_continues_a_stopped_folder(capsys, tmp_path, photos, style_png, monkeypatch):
    out = tmp_path / "looks"
    out.mkdir()
    assert run(capsys, "photo", photos, style_png, "-o", out, *FAST, "--seed", "3")[0] == 0
    (out / "shot10.png").unlink()  # as if the run had stopped before it
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    ran = _ran_on(monkeypatch)
    code, stdout, stderr = run(capsys, "photo", photos, style_png, "-o", out, *FAST, "--seed", "3")
    assert code == 0 and ran == ["shot10.png"] and stdout.split() == [str(out / "shot10.png")]
    assert stderr.splitlines() == ["restyle: keeping 2 of 3 results finished by an earlier run with the same settings"]
    assert all((out / n).stat().st_mtime_ns == t and (out / n).read_bytes() == b for n, (t, b) in before.items())


def _repaint(path: Path) -> list[str]:
    Image.new("RGB", (40, 30), "red").save(path)
    return []


def _swap_for_an_older_file(path: Path) -> list[str]:
    """Another photo under the same name, with an older time (copied with its times kept)."""
    Image.new("RGB", (40, 30), "green").save(path)
    os.utime(path, ns=(10**18, 10**18))
    return []


def _break(path: Path) -> list[str]:
    path.write_bytes(b"half a fi")
    return []


ALL = ["camera.jpg", "shot2.png", "shot10.png"]


@pytest.mark.parametrize(
    ("change", "redone"),
    [
        (lambda photos, style, out: [], []),
        (lambda photos, style, out: ["--style-weight", "7"], ALL),
        (lambda photos, style, out: ["--seed", "4"], ALL),
        (lambda photos, style, out: ["--bit-depth", "16"], ALL),
        (lambda photos, style, out: _repaint(style), ALL),
        (lambda photos, style, out: _repaint(photos / "shot2.png"), ["shot2.png"]),
        (lambda photos, style, out: _swap_for_an_older_file(photos / "shot2.png"), ["shot2.png"]),
        (lambda photos, style, out: _break(out / "shot10.png"), ["shot10.png"]),
    ],
    ids=[
        "nothing",
        "an option",
        "the seed",
        "the bit depth",
        "the style image",
        "a photo",
        "an older photo",
        "a broken result",
    ],
)
def test_a_folder_run_redoes_what_changed(capsys, tmp_path, photos, style_png, monkeypatch, change, redone):
    style = tmp_path / "style.png"
    style.write_bytes(style_png.read_bytes())
    for path in [style, *photos.iterdir()]:  # inputs a second older than their results, as in life
        os.utime(path, ns=(path.stat().st_mtime_ns - 10**9,) * 2)
    out = tmp_path / "looks"
    assert run(capsys, "photo", photos, style, "-o", out, *FAST, "--seed", "3")[0] == 0
    extra = change(photos, style, out)
    ran = _ran_on(monkeypatch)
    code, _, stderr = run(capsys, "photo", photos, style, "-o", out, *FAST, "--seed", "3", *extra)
    assert code == 0, stderr
    assert sorted(ran) == sorted(redone)


def test_the_progress_bar_measures_work_and_gives_the_time_left(capsys, tmp_path):
    """A default artistic run is 142 iterations, 80 of them at the coarse scales; counted by
    iterations, the bar stood at half with four fifths of the time to come, and its ETA (tqdm's,
    from the coarse scales' rate) said 9 s where 47 s were left."""
    from restyle.cli import _Progress
    from restyle.optim import Iterate

    progress = _Progress(tmp_path / "out.png", 0, quiet=False)
    common = {"losses": {"content": 1.5, "total": 2.5}, "scales": 2, "steps": 60, "total_work": 30.0}
    progress(Iterate(0, (171, 256), 40, elapsed=6.0, iterations=40, step=40, work=10.0, **common))
    assert progress.bar.n == 10.0 and progress.bar.total == 30.0
    progress.bar.refresh()
    halfway = on_terminal(capsys.readouterr().err)[-1]  # 40 of 60 iterations, a third of the work
    assert halfway.startswith("scale 1/2 256x171, iteration 40/60:  33%|"), halfway
    assert "00:12 left, content=1.5, total=2.5" in halfway and "it/s" not in halfway, halfway
    progress(Iterate(1, (342, 512), 20, elapsed=18.0, iterations=20, step=60, work=30.0, **common))
    progress.close()
    last = on_terminal(capsys.readouterr().err)[-1]
    assert last.startswith("scale 2/2 512x342, iteration 60/60: 100%|") and "00:00 left" in last, last


def test_a_warning_prints_on_a_line_of_its_own_above_a_progress_bar(capsys):
    from tqdm import tqdm

    from restyle.cli import _print_warning

    bar = tqdm(total=10, desc="first frame, stylised in full", file=sys.stderr)
    _print_warning(UserWarning("clip.mp4: an HDR clip (HLG)"), UserWarning, "x.py", 1)
    bar.update(3)
    bar.close()
    err = capsys.readouterr().err
    shown = on_terminal(err)
    assert shown[0] == "restyle: warning: clip.mp4: an HDR clip (HLG)", err
    assert shown[1].startswith("first frame, stylised in full: ") and "3/10" in shown[1], err


def test_every_example_command_parses():
    """The examples in each command's --help and the README's command lines use flags that
    exist, with values their flags take (a renamed flag would leave them stale)."""
    import argparse
    import contextlib
    import io
    import re
    import shlex

    parser, _ = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    lines = [line for p in [parser, *commands.values()] for line in (p.epilog or "").splitlines()]
    lines += re.findall(r"^(restyle .*)$", readme, re.MULTILINE)
    examples = [shlex.split(line.strip().split(" #")[0]) for line in lines if line.strip().startswith("restyle ")]
    assert len(examples) > 30
    for words in examples:
        shown = io.StringIO()
        with contextlib.redirect_stderr(shown):
            try:
                parser.parse_args(words[1:])
            except SystemExit as exc:
                assert not exc.code, f"{' '.join(words)}: {shown.getvalue().strip()}"


def test_a_warning_is_printed_once_a_command_though_each_run_of_a_sweep_raises_it(capsys, tmp_path, content_png):
    style = tmp_path / "style.png"
    Image.fromarray(stripes_image(64, 64)).save(style)
    argv = ["photo", content_png, style, "-o", tmp_path / "s.png", "--size", "160", "--iterations", "2"]
    code, _, err = run(capsys, *argv, "--photo-weight", "1e2,1e4", "--quiet", "--device", "cpu")
    assert code == 0, err
    assert err.count("restyle: warning: content is 64x48, enlarged 2.5 times to 160 px") == 1, err
    code, _, err = run(capsys, *argv, "--quiet", "--device", "cpu")  # the next command says it again
    assert code == 0 and err.count("enlarged 2.5 times") == 1, err


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["art", "", "s.png", "-o", "o.png"], "CONTENT"),  # a folder batch of the current folder, before
        (["art", "c.png", "", "-o", "o.png"], "STYLE"),
        (["art", "c.png", "s.png", "-o", ""], "-o/--output"),
        (["art", "c.png", "s.png", "-o", "o.png", "--init", " "], "--init"),
        (["photo", "c.png", "s.png", "-o", "o.png", "--content-mask", "", "--style-mask", "m.png"], "--content-mask"),
        (["video", "", "s.png", "-o", "o.mp4"], "VIDEO"),  # the current folder read as frames, before
        (["masks", "c.png", "", "-o", "m"], "STYLE"),
        (["smooth", "", "-o", "o.png"], "IMAGE"),
        (["info", ""], "RESULT"),
    ],
)
def test_an_empty_path_is_refused(capsys, tmp_path, monkeypatch, argv, name):
    """An unset shell variable ("$PHOTO") gives an empty argument, which as a path names the
    current folder."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert (
        capsys.readouterr().err.splitlines()[-1].endswith(f"error: argument {name}: empty (an unset shell variable?)")
    )
    assert list(tmp_path.iterdir()) == []


def test_whole_number_flags_take_float_notation(capsys, tmp_path, content_png, style_png):
    """The README writes --max-pixels's default as 50e6; argparse's int refused that notation."""
    out = tmp_path / "o.png"
    code, _, err = run(capsys, "art", content_png, style_png, "-o", out, "--size", "32", "--iterations", "1",
                       "--coarse-iterations", "0", "--max-pixels", "1e8", "--quiet")  # fmt: skip
    assert code == 0, err
    assert read_metadata(out)["max_pixels"] == 100_000_000
    with pytest.raises(SystemExit) as exc:
        main(["art", str(content_png), str(style_png), "-o", str(out), "--size", "32.5"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("error: argument --size: '32.5' is not a whole number")


@pytest.mark.parametrize("command", ["art", "photo"])
@pytest.mark.parametrize("missing", ["style", "content mask"])
def test_a_missing_input_is_told_before_any_is_read(capsys, tmp_path, command, missing):
    """A 32-px content at the default size is warned about as it is read; a missing input
    after it was told after that warning, two lines for one mistake."""
    content = tmp_path / "small.png"
    Image.fromarray(stripes_image(32, 32)).save(content)
    style = content if missing != "style" else tmp_path / "missing.png"
    masks = ["--content-mask", tmp_path / "missing.png", "--style-mask", content] if missing == "content mask" else []
    code, _, err = run(capsys, command, content, style, "-o", tmp_path / "o.png", *masks, "--quiet")
    assert code == 1
    assert err.splitlines() == [f"restyle: error: {tmp_path / 'missing.png'}: no such file"]


@pytest.mark.parametrize("where", ["output", "content", "info"])
def test_a_path_the_system_refuses_is_one_line(capsys, tmp_path, content_png, style_png, where):
    """A file name over the system's limit (255 bytes) raised OSError with a traceback from the
    first look at it; it is the system's one-line answer now."""
    long = tmp_path / ("a" * 300 + ".png")
    argv = {
        "output": ["art", content_png, style_png, "-o", long],
        "content": ["art", long, style_png, "-o", tmp_path / "o.png"],
        "info": ["info", long],
    }[where]
    code, _, err = run(capsys, *argv, *(["--size", "32", "--quiet"] if where != "info" else []))
    assert code == 1
    assert err.splitlines() == [f"restyle: error: {long}: File name too long"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (content_png, style_png))


def test_an_output_name_as_long_as_the_system_takes_is_written(capsys, tmp_path, content_png, style_png):
    """A name of 233 to 255 bytes was refused as "File name too long" after the whole run: the
    temporary file beside it had a longer name."""
    out = tmp_path / ("b" * 251 + ".png")
    code, _, err = run(capsys, "art", content_png, style_png, "-o", out, "--size", "32", "--iterations", "2", "--quiet")
    assert code == 0, err
    assert load_image(out).shape == (1, 3, 24, 32)  # content_png is 4:3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (content_png, style_png, out))


@pytest.mark.parametrize("names", ["snapshots", "sweep"])
def test_names_made_from_the_output_are_checked_before_any_work(
    capsys, tmp_path, content_png, style_png, monkeypatch, names
):
    """A snapshot's name (the output's and ``.00005``) and a sweep's (the output's and
    ``_sw1``) were refused as too long only when the first was written, after the work."""
    import restyle.artistic
    import restyle.photo

    monkeypatch.setattr(restyle.artistic, "optimize", lambda *a, **k: pytest.fail("computed anyway"))
    monkeypatch.setattr(restyle.photo, "optimize", lambda *a, **k: pytest.fail("computed anyway"))
    out = tmp_path / ("b" * 248 + ".png")  # itself a name the system takes
    argv = {
        "snapshots": ["art", content_png, style_png, "-o", out, "--save-every", "5"],
        "sweep": ["photo", content_png, style_png, "-o", out, "--style-weight", "1,10"],
    }[names]
    code, _, err = run(capsys, *argv, "--size", "32", "--quiet")
    made = out.with_name(out.stem + (".00005.png" if names == "snapshots" else "_sw1.png"))
    assert code == 1 and err.splitlines() == [f"restyle: error: {made}: File name too long"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (content_png, style_png))


@pytest.mark.parametrize("where", ["load", "save"])
def test_a_path_the_system_refuses_is_a_restyle_error_from_python_too(tmp_path, where):
    long = tmp_path / ("a" * 300 + ".png")
    with pytest.raises(RestyleError) as caught:
        load_image(long) if where == "load" else save_image(torch.rand(1, 3, 4, 4), long)
    assert str(caught.value) == f"{long}: File name too long"


@pytest.mark.parametrize("name", ["q" * 251 + ".png", "q" * 248 + "_sheet.png", "f" * 255 + "/000000.png"])
def test_info_command_names_an_output_the_system_takes(tmp_path, name):
    """``OUT-again`` for a result named near the system's 255-byte limit was over it, so the
    printed command failed at once; the name is cut to fit."""
    from restyle.cli import result_command

    path = tmp_path / name
    command = "video" if "/" in name else "photo" if "_sheet" in name else "art"
    meta = {"command": command, "content": "sample:astronaut", "style": "sample:coffee", "styles": ["sample:coffee"]}
    if command == "video":
        meta = {**meta, "video": "clip.mp4"}
    if "_sheet" in name:
        meta = {**meta, "sweep": {"style_weight": [1.0, 10.0]}}
    words, _ = result_command(meta, path)
    again = Path(words[words.index("-o") + 1])
    assert len(again.name.encode()) <= 255 and again.name.endswith("-again" + path.suffix * (command != "video"))
    assert again.name.startswith("q" * 200 if command != "video" else "f" * 200)
