#!/usr/bin/env bash
# Regenerates the gogoproto Go code and gRPC gateway of proto/pouwml/v1 into
# x/pouwml/types, offline: third-party protos come from the Go module cache,
# the compiler from Debian's protobuf-compiler.
#
#   scripts/protocgen.sh                  regenerate
#   scripts/protocgen.sh --install-tools  install protoc plugins first (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

GOGOPROTO_VERSION=v1.7.2
GATEWAY_VERSION=v1.16.0

if [[ "${1:-}" == "--install-tools" ]]; then
  if ! command -v protoc >/dev/null; then
    apt-get install -y -qq protobuf-compiler libprotobuf-dev >/dev/null
  fi
  (cd /tmp && go install "github.com/cosmos/gogoproto/protoc-gen-gocosmos@${GOGOPROTO_VERSION}" \
     && go install "github.com/grpc-ecosystem/grpc-gateway/protoc-gen-grpc-gateway@${GATEWAY_VERSION}")
fi
export PATH="$(go env GOPATH)/bin:$PATH"
for tool in protoc protoc-gen-gocosmos protoc-gen-grpc-gateway; do
  command -v "$tool" >/dev/null || { echo "protocgen: $tool not found (run scripts/protocgen.sh --install-tools)" >&2; exit 1; }
done

go mod download github.com/cosmos/cosmos-sdk github.com/cosmos/gogoproto github.com/cosmos/cosmos-proto \
  "github.com/grpc-ecosystem/grpc-gateway@${GATEWAY_VERSION}"
SDK=$(go list -m -f '{{.Dir}}' github.com/cosmos/cosmos-sdk)
GOGO=$(go list -m -f '{{.Dir}}' github.com/cosmos/gogoproto)
CPROTO=$(go list -m -f '{{.Dir}}' github.com/cosmos/cosmos-proto)
GW=$(go env GOMODCACHE)/github.com/grpc-ecosystem/grpc-gateway@${GATEWAY_VERSION}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/third_party/gogoproto" "$work/third_party/cosmos_proto" "$work/third_party/google/api" "$work/out"
cp -r "$SDK/proto/cosmos" "$SDK/proto/amino" "$work/third_party/"
cp "$GOGO/gogoproto/gogo.proto" "$work/third_party/gogoproto/"
cp "$CPROTO/proto/cosmos_proto/cosmos.proto" "$work/third_party/cosmos_proto/"
cp "$GW/third_party/googleapis/google/api/annotations.proto" "$GW/third_party/googleapis/google/api/http.proto" "$work/third_party/google/api/"
chmod -R u+w "$work"

protos=$(find proto/pouwml -name '*.proto' | sort)
protoc -I proto -I "$work/third_party" -I /usr/include \
  --gocosmos_out="plugins=grpc,Mgoogle/protobuf/any.proto=github.com/cosmos/gogoproto/types/any:$work/out" \
  --grpc-gateway_out="logtostderr=true,allow_colon_final_segments=true:$work/out" \
  $protos

rm -f x/pouwml/types/*.pb.go x/pouwml/types/*.pb.gw.go
cp "$work/out/github.com/pouw/pouwd/x/pouwml/types/"* x/pouwml/types/
echo "protocgen: generated $(ls "$work/out/github.com/pouw/pouwd/x/pouwml/types/" | wc -l) files into x/pouwml/types"
