#!/usr/bin/env bash
# Install everything the test suite needs and run it headless.
#
#   bash scripts/test.sh [pytest arguments]
#
# Creates .venv (Python 3.11) with the package and its test extras, installs
# Xvfb from Debian when it is missing (the napari tests open real windows on
# a virtual screen), and runs pytest under xvfb-run.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! command -v xvfb-run >/dev/null 2>&1; then
    echo "Installing Xvfb (Debian packages xvfb, xauth)..."
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq xvfb xauth >/dev/null
fi
# Qt's xcb platform plugin needs these libraries; slim images lack some.
if ! ldconfig -p | grep -q libxkbcommon-x11; then
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq \
        libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
        libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libxcb-cursor0 \
        libegl1 libgl1 libdbus-1-3 libfontconfig1 >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[testing]'

export MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2
exec xvfb-run -a -s "-screen 0 1600x1200x24" .venv/bin/python -m pytest "$@"
