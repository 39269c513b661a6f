#!/usr/bin/env bash
# heap-series.sh HEAPS_DIR: the validators' live heap over a soak, as a
# markdown table, from the heap profiles scripts/faults/soak.sh takes
# (nodeN-first.pb.gz, nodeN-<elapsed>s.pb.gz every SOAK_PROFILE_EVERY
# seconds, nodeN-last.pb.gz; each after a collection, so inuse is live).
#
# Per profile: the total live heap, and what the parts that grew in the
# soaks hold (cumulative inuse of the allocating function):
#   - leveldb compaction: goleveldb's table writers' 2 MiB buffers
#     (table.NewWriter), pooled between compactions;
#   - leveldb block cache: blocks read into goleveldb's caches (8 MiB per
#     database; cache.(*Cache).Get);
#   - iavl caches: IAVL's node and fast-node caches (cache.(*lruCache).Add);
#   - staking history: x/staking's historical info (TrackHistoricalInfo).
# A cache that fills and stops shows as a column that levels off; a leak
# as one that keeps climbing.
set -euo pipefail
dir="${1:?usage: heap-series.sh HEAPS_DIR}"

# row PROFILE: one `go tool pprof -top -cum` listing of PROFILE read once:
# "total | compaction | block cache | iavl | staking", in MB (a part the
# listing drops, under 0.5% of the heap, reads 0).
row() {
	go tool pprof -top -cum -sample_index=inuse_space "$1" 2>/dev/null | awk '
		function mb(v,   u, n) {
			u = substr(v, length(v) - 1); n = v + 0
			if (u == "kB") n /= 1024; else if (u == "GB") n *= 1024; else if (u ~ /[0-9]B/) n /= 1048576
			return n
		}
		BEGIN {
			parts = split("leveldb/table\\.NewWriter$ leveldb/cache\\.\\(\\*Cache\\)\\.Get$ iavl/cache\\.\\(\\*lruCache\\)\\.Add$ TrackHistoricalInfo$", pat, " ")
		}
		/ total$/ { total = mb($(NF - 1)) }
		{ for (i = 1; i <= parts; i++) if (!(i in got) && $NF ~ pat[i]) got[i] = sprintf("%.1f", mb($4)) }
		END {
			printf "%.1f", total
			for (i = 1; i <= parts; i++) printf " | %s", (i in got) ? got[i] : "0"
		}'
}

echo "| validator | profile | live heap MB | leveldb compaction MB | leveldb block cache MB | iavl caches MB | staking history MB |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for first in "$dir"/node*-first.pb.gz; do
	[[ -s "$first" ]] || continue
	node="$(basename "$first" -first.pb.gz)"
	mapfile -t mid < <(find "$dir" -name "$node-*s.pb.gz" -printf '%f\n' | sed -E "s/^$node-([0-9]+)s\.pb\.gz$/\1/" | sort -n)
	profiles=("first:$first")
	for s in "${mid[@]}"; do profiles+=("${s}s:$dir/$node-${s}s.pb.gz"); done
	[[ -s "$dir/$node-last.pb.gz" ]] && profiles+=("last:$dir/$node-last.pb.gz")
	for p in "${profiles[@]}"; do
		label="${p%%:*}" f="${p#*:}"
		printf '| %s | %s | %s |\n' "$node" "$label" "$(row "$f")"
	done
done
