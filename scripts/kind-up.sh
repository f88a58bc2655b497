#!/usr/bin/env bash
# SendPipe on a local kind cluster, for machines WITH Docker (see docs/kind.md):
# create the cluster, build and load the image, run a single-node Kafka, install the
# chart, apply the example organizations, and list the Providers.
#
# Needs: docker, kind, kubectl, helm (3.x). Re-running it is safe: every step is idempotent.
# Settings (environment): CLUSTER, IMAGE, KAFKA_NAMESPACE, NAMESPACE, RELEASE.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-sendpipe}
IMAGE=${IMAGE:-sendpipe/sendpipe:dev}
KAFKA_NAMESPACE=${KAFKA_NAMESPACE:-kafka}
NAMESPACE=${NAMESPACE:-sendpipe}
RELEASE=${RELEASE:-sendpipe}

say() { printf '\n==> %s\n' "$*" >&2; }
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "kind-up: $1 not found on PATH: $2" >&2; exit 1; }
}

need docker "install Docker (or a compatible engine) and start it"
need kind "see the kind quick start (go install sigs.k8s.io/kind@latest works)"
need kubectl "install kubectl"
need helm "install Helm 3"
docker info >/dev/null 2>&1 || { echo "kind-up: the Docker daemon is not reachable" >&2; exit 1; }

say "kind cluster ${CLUSTER}"
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
  echo "exists; reusing it" >&2
else
  kind create cluster --name "${CLUSTER}" --wait 120s
fi
kubectl config use-context "kind-${CLUSTER}" >/dev/null

say "image ${IMAGE} (docker build, then kind load)"
docker build --tag "${IMAGE}" .
kind load docker-image "${IMAGE}" --name "${CLUSTER}"

say "single-node Kafka in namespace ${KAFKA_NAMESPACE}"
kubectl create namespace "${KAFKA_NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n "${KAFKA_NAMESPACE}" -f examples/kind/kafka.yaml
kubectl rollout status -n "${KAFKA_NAMESPACE}" deployment/kafka --timeout=300s

say "chart charts/sendpipe as release ${RELEASE} in namespace ${NAMESPACE}"
helm upgrade --install "${RELEASE}" charts/sendpipe \
  --namespace "${NAMESPACE}" --create-namespace \
  --values examples/kind/values.yaml \
  --set-string "image.repository=${IMAGE%:*}" \
  --set-string "image.tag=${IMAGE##*:}" \
  --set-string "kafka.bootstrap=kafka.${KAFKA_NAMESPACE}.svc.cluster.local:9092" \
  --wait --timeout 5m

say "example organizations"
for org in examples/organizations/*/; do
  kubectl apply -f "${org}namespace.yaml"
  kubectl apply -R -f "${org}"
done

say "Providers (READY turns True within seconds; HEALTH fills in once messages flow)"
sleep 5
kubectl get providers -A

cat >&2 <<EOF

SendPipe runs on kind cluster ${CLUSTER}. Next:
  kubectl get pods -n ${NAMESPACE}
  kubectl logs -n ${NAMESPACE} -l app.kubernetes.io/component=operator
  kubectl describe provider -n acme
The example credentials are placeholders, so real sends fail and show as failovers
and unhealthy providers; put real credentials in the Secrets to deliver messages.
Remove everything: kind delete cluster --name ${CLUSTER}
EOF
