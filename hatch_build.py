"""Build the compiled encoders (src/otel_replay/_speedups.c) into the wheel, when a C compiler is available.

The package runs without them, on the same encoders written in Python, so a failed build is
a warning by default. ``OTEL_REPLAY_SPEEDUPS`` chooses:

- ``auto`` (the default, also ``on``): build them, or warn and go on without them;
- ``required``: fail the build if they cannot be built, as the test script does;
- ``off``: do not build them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "otel_replay._speedups"
SOURCE = "src/otel_replay/_speedups.c"


class SpeedupsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        mode = os.environ.get("OTEL_REPLAY_SPEEDUPS", "").strip().lower() or "auto"
        if mode == "off":
            return
        if mode not in ("auto", "on", "required"):
            msg = f"OTEL_REPLAY_SPEEDUPS must be auto, on, required or off to build otel-replay, not {mode!r}"
            raise ValueError(msg)

        editable = version == "editable"
        output_dir = Path(tempfile.mkdtemp(prefix="otel-replay-build-"))
        self._temporary = output_dir
        try:
            built = _compile(Path(self.root), output_dir, inplace=editable)
        except Exception as error:
            if mode == "required":
                raise
            self.app.display_warning(
                "Warning: otel-replay is built without its compiled encoders, so it runs the same encoders "
                f"in Python, up to about 2.5 times slower on large inputs. The compiler failed: {error}"
            )
            return

        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if not editable:
            # An editable install imports the module from src/, where it was built.
            build_data["force_include"][str(built)] = built.relative_to(output_dir).as_posix()

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        temporary = getattr(self, "_temporary", None)
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _compile(root: Path, output_dir: Path, *, inplace: bool) -> Path:
    """Compile the extension with setuptools, which finds each platform's compiler and flags, and return its path."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    distribution = Distribution(
        {
            "name": "otel-replay",
            "package_dir": {"": "src"},
            "ext_modules": [Extension(MODULE, [SOURCE], py_limited_api=False)],
            "script_name": "hatch_build.py",
        }
    )
    previous = Path.cwd()
    os.chdir(root)  # setuptools resolves the sources and an in-place build from the current folder
    try:
        command = build_ext(distribution)
        command.inplace = inplace  # an editable install imports the module from src/
        command.force = True  # compile even where an earlier build looks up to date
        command.build_lib = str(output_dir)
        command.build_temp = str(output_dir / "temp")
        command.ensure_finalized()
        command.run()
        return root / command.get_ext_fullpath(MODULE)  # the in-place path for an editable install
    finally:
        os.chdir(previous)
