#!/usr/bin/env bash
# Set up the project virtual environment (.venv) with the whole mmv3 stack.
#
#   bash tools/install.sh            # what `make test` / `make demo` run first
#
# Steps (each skipped when already done; a second run only checks a stamp):
#   1. python3 -m venv .venv
#   2. build tools (setuptools>=77,<81, wheel, ninja), then torch + torchvision (requirements/torch.txt)
#   3. mmcv 2.1.0 WITH compiled ops, taken from the first of:
#        a. a wheel in $MMV3_WHEELHOUSE that imports mmcv.ops against the installed torch,
#        b. the per-user wheel cache ${XDG_CACHE_HOME:-~/.cache}/mmv3/wheels/<python>-torch<version>/,
#        c. a build from the PyPI sdist (about 15-25 minutes on 2 cores); when torch's headers
#           need C++20 (torch >= 2.10), mmcv's '-std=c++17' flag is patched to '-std=c++20'.
#           The built wheel is stored in the cache of (b).
#   4. (before 3) mmengine and requirements/runtime.txt, with numpy<2 pinned (mmcv imports mmengine)
#   5. mmdet, mmsegmentation, mmpretrain and requirements/tests.txt
#   6. pip install -e . (the mmv3 package itself)
#   7. the LiteRT converter environment (tools/deployment/install_litert_env.py): litert-torch needs numpy 2,
#      so it gets its own venv under ${XDG_CACHE_HOME:-~/.cache}/mmv3/litert-env/ that reuses .venv's torch;
#      .venv keeps numpy<2. About 35 s and 1.1 GB; MMV3_LITERT=0 skips it; a failure only warns (the LiteRT
#      export / int8 tests then skip).
# Environment: PYTHON (interpreter for the venv, default python3), VENV (default .venv),
#              MMV3_WHEELHOUSE (directory of prebuilt wheels), MAX_JOBS (build parallelism),
#              MMV3_LITERT (0: no LiteRT converter environment), MMV3_LITERT_ENV (where it goes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$ROOT/.venv}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/mmv3"

say() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

stamp_inputs() {
    cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh"
}
STAMP="$VENV/.mmv3-install-stamp"
WANT_STAMP="$(stamp_inputs | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT_STAMP" && -x "$VENV/bin/python" ]]; then
    if "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, mmpretrain, mmv3" 2>/dev/null; then
        say "environment $VENV is up to date (delete $STAMP to force a re-install)"
        exit 0
    fi
    say "stamp present but imports fail: re-checking every step"
fi

command -v "$PYTHON" >/dev/null || die "'$PYTHON' not found; set PYTHON=/path/to/python3.11"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating virtual environment $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV" || die "could not create $VENV (install python3-venv?)"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

have() { "$PY" -c "$1" >/dev/null 2>&1; }

CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
{ echo "numpy<2"; echo "opencv-python<4.12"; } > "$CONSTRAINTS"

say "step 1/7: build tools"
"${PIP[@]}" install -q -r requirements/build.txt || die "could not install build tools"

say "step 2/7: torch + torchvision"
if have "import torch, torchvision, torchvision.ops; torchvision.ops.nms"; then
    say "  torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
else
    "${PIP[@]}" install -q -c "$CONSTRAINTS" -r requirements/torch.txt || die "could not install torch (see requirements/torch.txt)"
fi
TORCH_VER="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
MMCV_VER="$(sed -n 's/^mmcv==//p' requirements/mminstall.txt)"
WHEEL_CACHE="$CACHE_ROOT/wheels/$PY_TAG-torch$TORCH_VER"

mmcv_ok() { have "import mmcv, mmcv.ops, torch; assert mmcv.__version__ == '$MMCV_VER'; mmcv.ops.nms(torch.rand(2, 4), torch.rand(2), 0.5)"; }

try_wheel() {  # install a candidate wheel; keep it only if mmcv.ops works with this torch
    local whl="$1"
    say "  trying $whl"
    if "${PIP[@]}" install -q --no-deps --force-reinstall "$whl"; then
        if mmcv_ok; then return 0; fi
        "$PY" -c "import mmcv.ops" 2>&1 | tail -n 1 | sed 's/^/[install]   /'
    fi
    say "  $whl does not work with torch $TORCH_VER; removing it"
    "${PIP[@]}" uninstall -q -y mmcv >/dev/null 2>&1 || true
    return 1
}

say "step 3/7: mmengine and the runtime requirements (mmcv imports mmengine)"
MMENGINE_REQ="$(grep '^mmengine' requirements/mminstall.txt)"
{ echo "mmcv==$MMCV_VER"; echo "torch==$TORCH_VER"; echo "$MMENGINE_REQ"; } >> "$CONSTRAINTS"
"${PIP[@]}" install -q -c "$CONSTRAINTS" "$MMENGINE_REQ" -r requirements/runtime.txt \
    || die "could not install mmengine / requirements/runtime.txt"

say "step 4/7: mmcv $MMCV_VER with ops"
if mmcv_ok; then
    say "  mmcv $MMCV_VER with ops already installed"
else
    done_mmcv=0
    for dir in "${MMV3_WHEELHOUSE:-}" "$WHEEL_CACHE"; do
        [[ -n "$dir" && -d "$dir" ]] || continue
        for whl in "$dir"/mmcv-"$MMCV_VER"-"$PY_TAG"-*.whl; do
            [[ -f "$whl" ]] || continue
            if try_wheel "$whl"; then done_mmcv=1; break 2; fi
        done
    done
    if [[ $done_mmcv == 0 ]]; then
        say "  no prebuilt wheel: building mmcv $MMCV_VER from source (15-25 minutes on 2 cores)"
        BUILD_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mmv3-mmcv-build.XXXXXX")"
        (
            cd "$BUILD_DIR"
            "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VER" -d . \
                || die "could not download the mmcv $MMCV_VER sdist"
            tar xzf "mmcv-$MMCV_VER.tar.gz"
            cd "mmcv-$MMCV_VER"
            # torch >= 2.10 headers use C++20 features; mmcv 2.1.0 hard-codes -std=c++17.
            if "$PY" -c "import torch, sys; v = tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2]); sys.exit(0 if v >= (2, 10) else 1)"; then
                say "  patching -std=c++17 -> -std=c++20 for torch $TORCH_VER"
                sed -i "s/'-std=c++17'/'-std=c++20'/g" setup.py
            fi
            MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
                "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$BUILD_DIR/dist" . \
                || die "building mmcv failed (see the compiler output above)"
        )
        mkdir -p "$WHEEL_CACHE"
        cp "$BUILD_DIR"/dist/mmcv-*.whl "$WHEEL_CACHE"/
        say "  cached the built wheel in $WHEEL_CACHE"
        try_wheel "$(ls "$WHEEL_CACHE"/mmcv-"$MMCV_VER"-*.whl | head -n1)" || die "the freshly built mmcv wheel does not import"
        rm -rf "$BUILD_DIR"
    fi
fi

say "step 5/7: OpenMMLab packages and test requirements"
"${PIP[@]}" install -q -c "$CONSTRAINTS" -r requirements/mminstall.txt -r requirements/tests.txt \
    || die "could not install the OpenMMLab packages"

say "step 6/7: mmv3 (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e . || die "pip install -e . failed"

say "step 7/7: LiteRT converter environment (litert-torch, numpy 2, in its own venv reusing this torch)"
if [[ "${MMV3_LITERT:-1}" == 0 ]]; then
    say "  skipped (MMV3_LITERT=0): the LiteRT export / int8 tests will skip"
elif "$PY" tools/deployment/install_litert_env.py --check >/dev/null 2>&1; then
    say "  already there"
elif ! "$PY" tools/deployment/install_litert_env.py; then
    say "  WARNING: could not create it; the LiteRT export / int8 tests will skip" \
        "(retry: $PY tools/deployment/install_litert_env.py --verbose)"
fi

"$PY" - <<'EOF' || die "the installed stack does not import"
import torch, mmcv, mmcv.ops, mmengine, mmdet, mmseg, mmpretrain, mmv3, numpy
print(f"[install] ok: torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, "
      f"mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, mmpretrain {mmpretrain.__version__}, "
      f"numpy {numpy.__version__}, mmv3 {mmv3.__version__}")
EOF
echo "$WANT_STAMP" > "$STAMP"
