# Sourced by the benchmarks. `machine_line [EXTRA]` prints the line every figure goes beside:
# cores, CPU model, the vector extensions the kernels choose by (hosts here differ: AVX2 only,
# or AVX-512 with VNNI), EXTRA, and the date.
machine_line() {
  local model flags
  model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
  flags=$(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | xargs)
  echo "Machine: $(nproc) cores, $model ($flags)${1:+, $1}; $(date -u +%F)"
}
