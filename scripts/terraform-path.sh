#!/usr/bin/env bash
# Prints the path of the Terraform CLI the acceptance tests use: the one in
# TF_ACC_TERRAFORM_PATH, else the one on PATH, else a Terraform 1.5.7 built
# from source with `go install` into .tools/ (about two minutes, once). It
# never downloads a release binary.
set -euo pipefail

if [[ -n "${TF_ACC_TERRAFORM_PATH:-}" && -x "${TF_ACC_TERRAFORM_PATH}" ]]; then
  echo "$TF_ACC_TERRAFORM_PATH"
  exit 0
fi
if tf=$(command -v terraform 2>/dev/null); then
  echo "$tf"
  exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.tools/terraform-1.5.7"
if [[ ! -x "$dir/terraform" ]]; then
  echo "terraform is not on PATH; building Terraform 1.5.7 from source into .tools/ (once)" >&2
  GOBIN="$dir" go install github.com/hashicorp/terraform@v1.5.7 >&2
fi
echo "$dir/terraform"
