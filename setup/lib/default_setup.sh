#!/usr/bin/env bash
# The setup of every model that has no setup/models/<model>/setup.sh of its own (today: all of them): its
# virtualenv envs/<model>/ gets exactly the pins of its stack (setup/models.txt names the stack,
# setup/stacks/<stack>.txt holds its pins), then its pinned checkpoint. install_model.sh runs it in a process of
# its own for each model, as it runs a model's own setup.sh, so one model's failure never stops the others.
set -euo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

if [ $# -ne 1 ]; then
    vmk_fail "usage: bash setup/lib/default_setup.sh MODEL (install_model.sh runs it: use bash setup/install_model.sh MODEL)"
    exit 2
fi
vmk_install_from_stack "$1"
