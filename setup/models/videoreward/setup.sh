#!/usr/bin/env bash
# videoreward (a local scorer): its own virtualenv envs/videoreward/ with these exact pins, then its pinned checkpoint.
# The transitive dependencies are pinned by setup/lib/constraints-diffusers.txt, shared with the generators:
# every local scorer runs the generators' stack minus diffusers, so one test venv exercises them all.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/lib/common.sh"

PINS=(
    torch==2.13.0
    transformers==5.23.0
    accelerate==1.15.0
    safetensors==0.8.0
    tokenizers==0.23.3
    sentencepiece==0.2.3
    huggingface_hub==2.4.0
    ftfy==6.3.1
    av==18.1.0
    numpy==2.4.6
    pillow==13.0.0
    pydantic==2.14.3
)

vmk_install_model videoreward "$VMK_REPO/setup/lib/constraints-diffusers.txt" "${PINS[@]}"
