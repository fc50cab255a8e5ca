#!/usr/bin/env bash
# Install everything the test suite needs and run it headless.
#
#   bash scripts/test.sh               # the whole suite
#   bash scripts/test.sh ARGS...       # one pytest run with these arguments
#
# Creates .venv (Python 3.11) with the package, all its extras and the test
# tools (the testing extra), checks the code with ruff, installs
# Xvfb and Qt's X11 libraries from Debian when they are missing (the napari
# tests open real windows on a virtual screen), and runs pytest.
#
# The napari tests run in a pytest process of their own: TensorFlow's bundled
# LLVM and Mesa's OpenGL driver cannot share a process, so a viewer must not
# open where the Mask R-CNN tests have imported TensorFlow.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(xvfb xauth libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0
    libxcb-xkb1 libxcb-cursor0 libegl1 libgl1 libdbus-1-3 libfontconfig1)
missing=()
for package in "${debian_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[testing]'

export MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2
xvfb() { xvfb-run -a -s "-screen 0 1600x1200x24" "$@"; }

if [ $# -gt 0 ]; then
    xvfb .venv/bin/python -m pytest "$@"
    exit $?
fi
status=0
.venv/bin/ruff check . || status=$?
.venv/bin/npe2 validate napari-boostseg || status=$?
.venv/bin/python -m pytest -q --ignore=tests/napari || status=$?
xvfb .venv/bin/python -m pytest -q tests/napari || status=$?
exit $status
