#!/usr/bin/env bash
# Install open-source (kind "local") models and scorers, each into its own virtualenv envs/<name>/ with exact pins,
# with its checkpoint pinned and verified under weights/. See --help.
# setup/models.txt says which pinned stack (setup/stacks/<stack>.txt) each model installs; a model with a
# setup/models/<model>/setup.sh of its own runs that instead (setup/README.md says when and how).
set -uo pipefail

SETUP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$SETUP_DIR/lib/common.sh"

usage() {
    cat <<'USAGE'
Usage: bash setup/install_model.sh [options] MODEL [MODEL...]
       bash setup/install_model.sh --all-opensource [options]
       bash setup/install_model.sh --list | --print-pins [MODEL...]

Installs each model (a video generator, or a local scorer such as clip-score) into its own
virtualenv envs/<model>/ (exact pins, never touching another model's venv or your main
environment) and downloads its pinned checkpoint into weights/, verifying every file's sha256.
Re-running is fast when nothing changed.

Options:
  --all-opensource  every local model and scorer
  --validate        after installing, run one real generation on a shipped task and check the video
                    (a scorer: score two baseline videos of a shipped task through its worker)
  --tiny            build a tiny random checkpoint (weights/tiny/<model>) instead of downloading the
                    real one; with --validate, validate the install on it
  --no-weights      install the virtualenv only
  --list            every local model: venv installed and its size, weights present and verified
  --print-pins      turn lock files (weights/**/vmevalkit.lock.json) into checkpoint registry lines;
                    a MODEL not installed: its registry table with each file's size from the Hub
                    (what --list then shows as its download size)
  -h, --help        this help

Environment: VMEVALKIT_PYTHON, VMEVALKIT_ENVS_DIR, VMEVALKIT_WEIGHTS_DIR, VMEVALKIT_USE_UV=0,
HF_ENDPOINT (a hub mirror), HF_TOKEN (gated repos).

Local models and scorers:
USAGE
    available_models | sed 's/^/  /'
}

available_models() { vmk_models; }

is_model() {
    local known
    while IFS= read -r known; do [ "$known" = "$1" ] && return 0; done < <(available_models)
    return 1
}

# A model's own setup where it differs from its stack, else the stack's.
setup_script() {
    if [ -f "$SETUP_DIR/models/$1/setup.sh" ]; then
        echo "$SETUP_DIR/models/$1/setup.sh"
    else
        echo "$SETUP_DIR/lib/default_setup.sh"
    fi
}

models=()
list=0 print_pins=0 all=0
export VMK_TINY=0 VMK_VALIDATE=0 VMK_NO_WEIGHTS=0
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --list) list=1 ;;
        --print-pins) print_pins=1 ;;
        --all-opensource) all=1 ;;
        --validate) VMK_VALIDATE=1 ;;
        --tiny) VMK_TINY=1 ;;
        --no-weights) VMK_NO_WEIGHTS=1 ;;
        -*) vmk_fail "unknown option $1 (see --help)"; exit 2 ;;
        *) models+=("$1") ;;
    esac
    shift
done

if [ "$list" = 1 ]; then
    vmk_check_vmevalkit || exit 1
    VMEVALKIT_ENVS_DIR="$VMK_ENVS_DIR" VMEVALKIT_WEIGHTS_DIR="$VMK_WEIGHTS_DIR" \
        exec "$VMK_PYTHON" -m vmevalkit local status
fi
if [ "$print_pins" = 1 ]; then
    vmk_check_vmevalkit || exit 1
    exec "$VMK_PYTHON" -m vmevalkit local print-pins --weights-dir "$VMK_WEIGHTS_DIR" "${models[@]}"
fi
if [ "$all" = 1 ]; then
    mapfile -t models < <(available_models)
fi
if [ ${#models[@]} -eq 0 ]; then
    usage >&2
    exit 2
fi
for model in "${models[@]}"; do
    if ! is_model "$model"; then
        vmk_fail "unknown local model '$model'; local models: $(available_models | tr '\n' ' ')"
        exit 2
    fi
done

vmk_check_python || exit 1
vmk_check_ffmpeg
passed=() failed=()
for model in "${models[@]}"; do
    vmk_info "${_vmk_bold}$model${_vmk_reset}"
    # Each model installs in its own process: one failure never stops the others.
    if bash "$(setup_script "$model")" "$model"; then
        passed+=("$model")
    else
        vmk_fail "$model: install failed (see the messages above)"
        failed+=("$model")
    fi
done

echo
vmk_info "Summary"
for model in "${passed[@]+"${passed[@]}"}"; do vmk_ok "$model"; done
for model in "${failed[@]+"${failed[@]}"}"; do printf '%sFAIL%s %s\n' "$_vmk_red" "$_vmk_reset" "$model"; done
[ ${#failed[@]} -eq 0 ]
