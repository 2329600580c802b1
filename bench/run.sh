#!/usr/bin/env bash
# Benchmarks (never part of `make test`): each reports ratios against a
# baseline measured in the same run. bench/cluster.sh (cluster mode) starts
# its own PostgreSQL, or says SKIP and exits 0.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export RAG_TESTDATA=${RAG_TESTDATA:-$top/../shared/testdata}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
export RAG_TOOLS=${RAG_TOOLS:-$top/build/tools}
./build/bench/bench_ingest_search "$@"
echo
./build/bench/bench_keyword_acl --cisi "$RAG_TESTDATA/ir/cisi"
echo
./build/bench/bench_keyword_scale --chunks 60000
echo
./build/bench/bench_keyword_scale --chunks 500000
echo
./bench/kw_ragd.sh --chunks 60000
echo
./build/bench/bench_vector
echo
./build/bench/bench_qgemm_ceiling
echo
./bench/models.sh
echo
./bench/ragd_streams.sh
echo
./bench/ttft_ragd.sh
echo
./bench/cluster.sh
