# shellcheck shell=bash
# Shared helpers for setup/install_model.sh, setup/lib/default_setup.sh and setup/models/<model>/setup.sh.
# Source it; do not run it.
#
# Environment:
#   VMEVALKIT_PYTHON       the Python that creates model venvs and runs VMEvalKit (default: python3)
#   VMEVALKIT_ENVS_DIR     where model venvs go (default: envs)
#   VMEVALKIT_WEIGHTS_DIR  where checkpoints go (default: weights)
#   VMEVALKIT_USE_UV=0     build venvs with venv+pip even when uv is on PATH
#   HF_ENDPOINT, HF_TOKEN  a Hugging Face mirror, and a token for gated repos

VMK_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VMK_PYTHON="${VMEVALKIT_PYTHON:-python3}"
VMK_ENVS_DIR="${VMEVALKIT_ENVS_DIR:-$VMK_REPO/envs}"
VMK_WEIGHTS_DIR="${VMEVALKIT_WEIGHTS_DIR:-$VMK_REPO/weights}"
# Relative settings are relative to where the user runs the command, as the runner reads them.
case "$VMK_ENVS_DIR" in /*) ;; *) VMK_ENVS_DIR="$PWD/$VMK_ENVS_DIR" ;; esac
case "$VMK_WEIGHTS_DIR" in /*) ;; *) VMK_WEIGHTS_DIR="$PWD/$VMK_WEIGHTS_DIR" ;; esac
VMK_INSTALL_STAMP=".vmevalkit-install.json"
# Which stack each model installs (model, stack: one a line), and the stacks' pinned requirements files.
VMK_MODELS_TABLE="$VMK_REPO/setup/models.txt"
VMK_STACKS_DIR="$VMK_REPO/setup/stacks"

if [ -t 1 ]; then
    _vmk_bold=$'\033[1m' _vmk_red=$'\033[31m' _vmk_green=$'\033[32m' _vmk_yellow=$'\033[33m' _vmk_reset=$'\033[0m'
else
    _vmk_bold="" _vmk_red="" _vmk_green="" _vmk_yellow="" _vmk_reset=""
fi

vmk_info() { printf '%s==>%s %s\n' "$_vmk_bold" "$_vmk_reset" "$*"; }
vmk_ok() { printf '%s ok%s %s\n' "$_vmk_green" "$_vmk_reset" "$*"; }
vmk_warn() { printf '%swarn%s %s\n' "$_vmk_yellow" "$_vmk_reset" "$*" >&2; }
vmk_fail() { printf '%serror%s %s\n' "$_vmk_red" "$_vmk_reset" "$*" >&2; return 1; }

# The host Python must be 3.10+ (it creates the venvs).
vmk_check_python() {
    command -v "$VMK_PYTHON" >/dev/null 2>&1 || { vmk_fail "$VMK_PYTHON not found: set VMEVALKIT_PYTHON"; return 1; }
    "$VMK_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || { vmk_fail "$VMK_PYTHON is older than 3.10: set VMEVALKIT_PYTHON to a newer Python"; return 1; }
}

# Commands that read the catalog (--list, --validate, --print-pins) need VMEvalKit itself installed.
vmk_check_vmevalkit() {
    vmk_check_python || return 1
    "$VMK_PYTHON" -c 'import vmevalkit, pydantic' >/dev/null 2>&1 \
        || { vmk_fail "VMEvalKit is not importable by $VMK_PYTHON: run pip install -e . (or set VMEVALKIT_PYTHON)"; return 1; }
}

# Video decoding and encoding use PyAV, whose wheels carry FFmpeg's libraries: a system ffmpeg is optional.
vmk_check_ffmpeg() {
    if ! command -v ffmpeg >/dev/null 2>&1; then
        vmk_info "no ffmpeg on PATH: fine, videos are written with PyAV's bundled FFmpeg libraries"
    fi
}

vmk_use_uv() { [ "${VMEVALKIT_USE_UV:-1}" != "0" ] && command -v uv >/dev/null 2>&1; }

# Every requirement must be an exact pin: name==version (extras allowed).
vmk_check_pins() {
    local pin
    for pin in "$@"; do
        [[ "$pin" =~ ^[A-Za-z0-9_.-]+(\[[A-Za-z0-9_,.-]+\])?==[0-9][A-Za-z0-9.+!_-]*$ ]] \
            || { vmk_fail "'$pin' is not an exact pin (write package==X.Y.Z)"; return 1; }
    done
}

vmk_sha256() { "$VMK_PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'; }

# vmk_install_venv MODEL CONSTRAINTS_FILE PIN...
# Creates envs/MODEL with exactly these pins. Idempotent: when the pins, the constraints and the host
# Python are unchanged since the last successful install, nothing is run. Never touches another venv.
vmk_install_venv() {
    local model="$1" constraints="$2"
    shift 2
    vmk_check_pins "$@" || return 1
    local venv="$VMK_ENVS_DIR/$model" python_version digest
    python_version="$("$VMK_PYTHON" -c 'import platform; print(platform.python_version())')" || return 1
    digest="$({ printf '%s\n' "$@"; cat "$constraints"; echo "$python_version"; } | vmk_sha256)"
    if [ -x "$venv/bin/python" ] && grep -q "\"$digest\"" "$venv/$VMK_INSTALL_STAMP" 2>/dev/null; then
        vmk_ok "$model: virtualenv up to date ($venv)"
        return 0
    fi
    # The stamp goes last: a venv without it counts as not installed, even if an install died halfway.
    rm -f "$venv/$VMK_INSTALL_STAMP"
    mkdir -p "$VMK_ENVS_DIR"
    # On a terminal, pip's (or uv's) own download progress; in a log, one line per install.
    local quiet=(--quiet)
    if [ -t 1 ]; then quiet=(); fi
    if vmk_use_uv; then
        vmk_info "$model: creating $venv with uv"
        [ -x "$venv/bin/python" ] || uv venv --quiet --python "$VMK_PYTHON" "$venv" || return 1
        vmk_info "$model: $(vmk_install_summary "$constraints" "$@")"
        uv pip install "${quiet[@]}" --python "$venv/bin/python" -c "$constraints" "$@" || return 1
    else
        vmk_info "$model: creating $venv"
        [ -x "$venv/bin/python" ] || "$VMK_PYTHON" -m venv "$venv" || return 1
        vmk_info "$model: $(vmk_install_summary "$constraints" "$@")"
        "$venv/bin/python" -m pip install "${quiet[@]}" --disable-pip-version-check -c "$constraints" "$@" || return 1
    fi
    # Installed as pinned? (pip check catches a broken dependency set.)
    "$venv/bin/python" -m pip check >/dev/null 2>&1 || vmk_warn "$model: pip check reports conflicts: $("$venv/bin/python" -m pip check 2>&1 | head -3)"
    printf '{"model": "%s", "pins_sha256": "%s", "python": "%s"}\n' "$model" "$digest" "$python_version" \
        >"$venv/$VMK_INSTALL_STAMP"
    vmk_ok "$model: virtualenv ready ($(vmk_venv_size "$model"))"
}

# vmk_install_summary CONSTRAINTS PIN...: what an install is about to download, in one line, so the minutes it takes
# are expected: "installing 13 packages (torch 2.13.0, diffusers 0.42.1, transformers 5.23.0 and 10 more; 55 with
# their dependencies), about 1.2 GB (...)". The size is the stack's measured one (VMK_STACK_SIZE), when known.
vmk_install_summary() {
    local constraints="$1" shown=() pin all
    shift
    for pin in "${@:1:3}"; do shown+=("${pin/==/ }"); done
    all="$(grep -cE '^[A-Za-z0-9]' "$constraints" 2>/dev/null || echo "?")"
    local names
    names="$(printf '%s, ' "${shown[@]}")"
    names="${names%, }"
    if [ $# -gt 3 ]; then names="$names and $(($# - 3)) more"; fi
    printf 'installing %s package%s (%s; %s with their dependencies), ' "$#" "$([ $# -eq 1 ] || echo s)" "$names" "$all"
    if [ -n "${VMK_STACK_SIZE:-}" ]; then
        printf 'about %s with the CPU torch wheel (the CUDA one adds several GB)\n' "$VMK_STACK_SIZE"
    else
        printf 'size unknown\n'
    fi
}

# vmk_venv_size MODEL: the venv's size exactly as install_model.sh --list shows it (one function computes both:
# vmevalkit.cli.local.folder_size, run here by the venv's own Python).
vmk_venv_size() {
    vmk_venv_module "$1" vmevalkit local size "$VMK_ENVS_DIR/$1" 2>/dev/null || echo "size unknown"
}

# vmk_stack_size STACK: the measured venv size its stack file records ("# installed size: 1.2 GB"), or nothing.
vmk_stack_size() {
    sed -n 's/^#[[:space:]]*installed size:[[:space:]]*\([0-9.]* [KMGT]*B\).*/\1/p' "$VMK_STACKS_DIR/$1.txt" 2>/dev/null \
        | head -1
}

# Run one of VMEvalKit's modules with a model's venv Python; the package comes from this checkout.
vmk_venv_module() {
    local model="$1"
    shift
    PYTHONPATH="$VMK_REPO${PYTHONPATH:+:$PYTHONPATH}" "$VMK_ENVS_DIR/$model/bin/python" -m "$@"
}

# Download the model's pinned checkpoint into weights/ and verify every file's sha256.
vmk_fetch_weights() {
    local model="$1"
    vmk_info "$model: fetching pinned weights into $VMK_WEIGHTS_DIR"
    vmk_venv_module "$model" vmevalkit local fetch "$model" --weights-dir "$VMK_WEIGHTS_DIR"
}

# A tiny random-weight checkpoint of the model's family, for validating an install without real weights.
vmk_tiny_dir() { echo "$VMK_WEIGHTS_DIR/tiny/$1"; }
vmk_build_tiny() {
    local model="$1" dir
    dir="$(vmk_tiny_dir "$model")"
    vmk_info "$model: building a tiny random checkpoint in $dir"
    rm -rf "$dir"
    vmk_venv_module "$model" vmevalkit local tiny "$model" "$dir" >/dev/null
}

# One real generation on a shipped task through the real runner and worker; fails if the video is wrong.
vmk_validate() {
    local model="$1" checkpoint="${2:-}"
    vmk_check_vmevalkit || return 1
    vmk_info "$model: validating with one generation${checkpoint:+ (tiny checkpoint $checkpoint)}"
    VMEVALKIT_ENVS_DIR="$VMK_ENVS_DIR" VMEVALKIT_WEIGHTS_DIR="$VMK_WEIGHTS_DIR" \
        "$VMK_PYTHON" -m vmevalkit local validate "$model" ${checkpoint:+--checkpoint "$checkpoint" --tiny}
}

# vmk_install_model MODEL CONSTRAINTS PIN...: a venv with these pins, then weights, a tiny checkpoint, validation.
# Flags come from install_model.sh through the environment: VMK_TINY=1, VMK_VALIDATE=1, VMK_NO_WEIGHTS=1.
vmk_install_model() {
    local model="$1"
    vmk_check_python || return 1
    vmk_install_venv "$@" || return 1
    if [ "${VMK_TINY:-0}" = "1" ]; then
        vmk_build_tiny "$model" || return 1
        vmk_ok "$model: tiny checkpoint ready: run with --checkpoint $(vmk_tiny_dir "$model") (its small size and steps, seconds on a CPU)"
    elif [ "${VMK_NO_WEIGHTS:-0}" != "1" ]; then
        vmk_fetch_weights "$model" || return 1
    fi
    if [ "${VMK_VALIDATE:-0}" = "1" ]; then
        if [ "${VMK_TINY:-0}" = "1" ]; then
            vmk_validate "$model" "$(vmk_tiny_dir "$model")" || return 1
        else
            vmk_validate "$model" || return 1
        fi
    fi
}

# --- stacks: setup/models.txt names each model's stack, setup/stacks/<stack>.txt holds its pins ---------------

# The models setup/models.txt lists, one a line, sorted as the shell sorts file names.
vmk_models() {
    local line model
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line%%#*}"
        read -r model _ <<<"$line"
        if [ -n "$model" ]; then printf '%s\n' "$model"; fi
    done <"$VMK_MODELS_TABLE" | sort
}

# vmk_model_stack MODEL: the stack MODEL installs; fails unless setup/models.txt lists it exactly once.
vmk_model_stack() {
    local want="$1" line model stack extra found="" count=0
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line%%#*}"
        read -r model stack extra <<<"$line"
        [ "$model" = "$want" ] || continue
        if [ -z "$stack" ] || [ -n "$extra" ]; then
            vmk_fail "setup/models.txt: write '$want STACK' (two words) on its line"
            return 1
        fi
        count=$((count + 1)) found="$stack"
    done <"$VMK_MODELS_TABLE"
    case "$count" in
        0) vmk_fail "'$want' is not in setup/models.txt: add '$want STACK' there"; return 1 ;;
        1) printf '%s\n' "$found" ;;
        *) vmk_fail "'$want' is listed $count times in setup/models.txt: keep one line, with one stack"; return 1 ;;
    esac
}

# The lines of setup/stacks/STACK.txt that say something: comments and blank lines dropped.
_vmk_stack_lines() {
    local stack="$1" file="$VMK_STACKS_DIR/$1.txt" line
    [ -f "$file" ] || { vmk_fail "no stack '$stack': setup/stacks/$stack.txt is missing (setup/models.txt names it)"; return 1; }
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line%%#*}"
        read -r line <<<"$line"  # trims the spaces around it
        if [ -n "$line" ]; then printf '%s\n' "$line"; fi
    done <"$file"
}

# vmk_stack_pins STACK: its pins, one a line, in file order (the order is part of each venv's install stamp).
vmk_stack_pins() {
    local lines line
    lines="$(_vmk_stack_lines "$1")" || return 1
    while IFS= read -r line; do
        case "$line" in
            -c\ *) ;;
            -*) vmk_fail "setup/stacks/$1.txt: '$line' is not understood: write exact pins and one '-c FILE' line"; return 1 ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <<<"$lines"
}

# vmk_stack_constraints STACK: the absolute path of the constraints file its one '-c FILE' line names
# (relative to setup/stacks/, as pip and uv read it).
vmk_stack_constraints() {
    local lines path
    lines="$(_vmk_stack_lines "$1")" || return 1
    path="$(sed -n 's/^-c  *//p' <<<"$lines")"
    if [ -z "$path" ] || [ "$(wc -l <<<"$path")" -ne 1 ]; then
        vmk_fail "setup/stacks/$1.txt: write exactly one '-c FILE' line (the constraints that pin every transitive package)"
        return 1
    fi
    case "$path" in /*) ;; *) path="$VMK_STACKS_DIR/$path" ;; esac
    [ -f "$path" ] || { vmk_fail "setup/stacks/$1.txt: its constraints file $path is missing"; return 1; }
    printf '%s/%s\n' "$(cd "$(dirname "$path")" && pwd)" "$(basename "$path")"
}

# vmk_install_from_stack MODEL: vmk_install_model with the pins and constraints of MODEL's stack. What every
# model without its own setup/models/<model>/setup.sh gets (setup/lib/default_setup.sh).
vmk_install_from_stack() {
    local model="$1" stack constraints text pins
    stack="$(vmk_model_stack "$model")" || return 1
    constraints="$(vmk_stack_constraints "$stack")" || return 1
    text="$(vmk_stack_pins "$stack")" || return 1
    [ -n "$text" ] || { vmk_fail "setup/stacks/$stack.txt pins nothing: list its packages as package==X.Y.Z"; return 1; }
    mapfile -t pins <<<"$text"
    VMK_STACK_SIZE="$(vmk_stack_size "$stack")" vmk_install_model "$model" "$constraints" "${pins[@]}"
}
