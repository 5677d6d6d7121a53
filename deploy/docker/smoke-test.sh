#!/usr/bin/env bash
# Build-time check of the finished image (deploy/docker/Dockerfile, SMOKE_TEST=1): start
# tritonserver on the CPU with one catalog entry of a tiny cpu-profile demo repository (the
# ensemble, the Python tokenizer and post-processor on the 3.11 stub, the ONNX model on the
# native onnxruntime backend), wait until ready, send one request over HTTP, check the result.
#
#   smoke-test.sh REPOSITORY [MODEL]     (ports: SMOKE_HTTP_PORT, SMOKE_GRPC_PORT)
set -euo pipefail

repository="$1"
model="${2:-treatment_changes}"
port="${SMOKE_HTTP_PORT:-18000}"
grpc_port="${SMOKE_GRPC_PORT:-18001}"
if curl -s -o /dev/null "http://127.0.0.1:${port}/v2/health/live"; then
    echo "smoke test: something already listens on 127.0.0.1:${port}; set SMOKE_HTTP_PORT" >&2
    exit 1
fi
work="$(mktemp -d)"
for step in "" _tokenizer _onnx _postprocess; do
    cp -r "${repository}/${model}${step}" "${work}/"
done

# Own process group: the Python backend's stub processes ignore SIGTERM and are cleaned up with it.
setsid tritonserver --model-repository="${work}" --model-control-mode=none --strict-readiness=true \
    --exit-on-error=true --disable-auto-complete-config --allow-metrics=false --log-verbose=0 \
    --http-address=127.0.0.1 --http-port="${port}" --grpc-address=127.0.0.1 --grpc-port="${grpc_port}" \
    >"${work}/triton.log" 2>&1 &
server=$!
stop() {
    kill -TERM "${server}" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "${server}" 2>/dev/null || break
        sleep 1
    done
    kill -KILL -- "-${server}" 2>/dev/null || true
    wait "${server}" 2>/dev/null || true
    rm -rf "${work}"
}
trap stop EXIT

ready=0
for _ in $(seq 1 180); do
    if curl -sf "http://127.0.0.1:${port}/v2/health/ready" >/dev/null; then
        ready=1
        break
    fi
    if ! kill -0 "${server}" 2>/dev/null; then
        break
    fi
    sleep 1
done
if [ "${ready}" != 1 ] || ! kill -0 "${server}" 2>/dev/null; then
    cat "${work}/triton.log" >&2
    echo "smoke test: tritonserver did not become ready" >&2
    exit 1
fi

request='{"inputs":[{"name":"TEXT","datatype":"BYTES","shape":[1],"data":["The patient was switched to metformin after the rash resolved."]}]}'
response="$(curl -sf -X POST -H 'Content-Type: application/json' -d "${request}" \
    "http://127.0.0.1:${port}/v2/models/${model}/infer")"
python3 - "${model}" "${response}" <<'PY'
import json
import sys

model, response = sys.argv[1], json.loads(sys.argv[2])
(output,) = [o for o in response["outputs"] if o["name"] == "RESULT"]
result = json.loads(output["data"][0])
missing = {"schema_version", "model", "untrained", "weights"} - set(result)
if result.get("model") != model or missing:
    sys.exit(f"smoke test: unexpected result {result!r} (missing {sorted(missing)})")
print(f"smoke test: {model} answered {json.dumps(result)[:200]}")
PY
# The Deployment's liveness probe, as the kubelet runs it (exec in the container).
"python${PYTHON_VERSION:-3.11}" -m clinserve_runtime.stub_check --pid "${server}" \
    --live-url "http://127.0.0.1:${port}/v2/health/live"
echo "smoke test passed (liveness check included)"
