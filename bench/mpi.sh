#!/bin/bash
# bench/mpi.sh - data-parallel training throughput: nn2c's MPI trainer (nn2c compile
# --train --mpi) on 1 and 2 ranks x 1 thread against PyTorch DDP (Gloo, 1 and 2
# processes x 1 thread), the same batch per process, side by side.
#
#   bench/mpi.sh                       # mnist_cnn and cifar10_cnn, 3 runs each
#   RUNS=1 LIMIT_TRAIN=1600 bench/mpi.sh
#
# Settings (environment variables):
#   MODELS       models from examples/                    "mnist_cnn cifar10_cnn"
#   RUNS         runs per row (the median is shown)       3
#   LIMIT_TRAIN  training samples in the timed epoch       6400
#   BATCH        samples per process and step              32
#   SLICES       NN2C_MPI_SLICES of the exact-mode row      12
#   MNIST_DIR / CIFAR_DIR   data (default ../shared/data/{mnist,cifar-10})
#   NN2C         nn2c binary (default build/compiler/nn2c)
#   WORK         scratch directory                         /tmp/nn2c-mpi-bench
# Then the time of one MPI_Allreduce by size on 2, 3 and 4 ranks (bench/mpi_allreduce.c),
# which docs/distributed.md compares with its ring cost model.
# Rows: nn2c 1 rank (--batch BATCH), nn2c 2 ranks (--batch 2 x BATCH: the same
# BATCH per rank), nn2c 2 ranks in exact mode (NN2C_MPI_SLICES=SLICES), torch DDP
# 1 and 2 processes (bench/torch_ddp.py). samples/s counts global samples over
# the training epoch alone (nn2c's epoch line; torch_ddp.py's timer). Ranks are
# not pinned (mpirun --bind-to none), as PyTorch's processes are not.
# On a shared machine the figures move with the load: say so when quoting them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd) root=$(cd "$here/.." && pwd)
MODELS=${MODELS:-"mnist_cnn cifar10_cnn"} RUNS=${RUNS:-3} LIMIT_TRAIN=${LIMIT_TRAIN:-6400} BATCH=${BATCH:-32}
SLICES=${SLICES:-12} WORK=${WORK:-/tmp/nn2c-mpi-bench} NN2C=${NN2C:-$root/build/compiler/nn2c}
MNIST_DIR=${MNIST_DIR:-$root/../shared/data/mnist} CIFAR_DIR=${CIFAR_DIR:-$root/../shared/data/cifar-10}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
command -v mpirun >/dev/null || { echo "bench/mpi.sh: needs mpirun (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
[ -x "$NN2C" ] || { echo "bench/mpi.sh: no nn2c at $NN2C (build it, or set NN2C)" >&2; exit 1; }
mkdir -p "$WORK"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# nn2c_rate DIR NAME DATA NP GLOBAL_BATCH [env...]: samples/s of one training epoch
nn2c_rate() {
  local dir=$1 name=$2 data=$3 np=$4 batch=$5
  shift 5
  env "$@" mpirun --bind-to none -np "$np" "$dir/${name}_train" --data "$data" --limit-train "$LIMIT_TRAIN" \
    --limit-test 256 --epochs 1 --batch "$batch" 2>"$WORK/err.log" | sed -n 's/^epoch 1: .*samples\/s=\([0-9.]*\).*/\1/p'
  [ -s "$WORK/err.log" ] && cat "$WORK/err.log" >&2 || true
}

torch_rate() { # DATASET DATA PROCS
  /usr/bin/python3 "$here/torch_ddp.py" --dataset "$1" --data "$2" --procs "$3" --batch "$BATCH" \
    --limit-train "$LIMIT_TRAIN" 2>"$WORK/torch.log" | sed -n 's/.*samples\/s=\([0-9.]*\).*/\1/p'
}

echo "bench/mpi.sh: $(lscpu | sed -n 's/^Model name: *//p'), $(getconf _NPROCESSORS_ONLN) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(mpirun --version | head -1); $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)')"
echo "LIMIT_TRAIN=$LIMIT_TRAIN BATCH=$BATCH per process, RUNS=$RUNS (median), 1 thread per process"
printf '%-12s %-34s %12s %8s\n' model setting samples/s "vs 1"
for m in $MODELS; do
  case $m in mnist*) data=$MNIST_DIR ds=mnist ;; cifar*) data=$CIFAR_DIR ds=cifar10 ;; *) echo "unknown model $m"; exit 1 ;; esac
  dir=$WORK/$m
  "$NN2C" compile "$root/examples/$m.nn" --train --mpi -o "$dir" --quiet
  make -s -C "$dir" >/dev/null
  nn2c_rate "$dir" "$m" "$data" 1 "$BATCH" >/dev/null # reads the data once into the page cache
  declare -A r=()
  for k in $(seq "$RUNS"); do # the sides alternate, so a change in load hits them alike
    r[n1]+="$(nn2c_rate "$dir" "$m" "$data" 1 "$BATCH") "
    r[n2]+="$(nn2c_rate "$dir" "$m" "$data" 2 $((2 * BATCH))) "
    r[nx]+="$(nn2c_rate "$dir" "$m" "$data" 2 $((2 * BATCH)) NN2C_MPI_SLICES="$SLICES") "
    r[t1]+="$(torch_rate "$ds" "$data" 1) "
    r[t2]+="$(torch_rate "$ds" "$data" 2) "
  done
  n1=$(echo "${r[n1]}" | tr ' ' '\n' | grep . | median) t1=$(echo "${r[t1]}" | tr ' ' '\n' | grep . | median)
  for row in "n1:nn2c 1 rank" "n2:nn2c 2 ranks" "nx:nn2c 2 ranks exact (S=$SLICES)" "t1:torch DDP 1 proc" "t2:torch DDP 2 procs"; do
    key=${row%%:*} label=${row#*:}
    v=$(echo "${r[$key]}" | tr ' ' '\n' | grep . | median)
    base=$n1
    [ "${key:0:1}" = t ] && base=$t1
    printf '%-12s %-34s %12.1f %7.2fx\n' "$m" "$label" "$v" "$(echo "$v / $base" | bc -l)"
  done
  n2=$(echo "${r[n2]}" | tr ' ' '\n' | grep . | median) t2=$(echo "${r[t2]}" | tr ' ' '\n' | grep . | median)
  printf '%-12s %-34s %12s %7.2fx\n' "$m" "nn2c 2 ranks / torch DDP 2 procs" "" "$(echo "$n2 / $t2" | bc -l)"
  unset r
done
echo
echo "MPI_Allreduce of floats (bench/mpi_allreduce.c), median of 20 calls:"
mpicc -O2 -std=c99 "$here/mpi_allreduce.c" -o "$WORK/allreduce"
for np in 2 3 4; do mpirun --bind-to none -np $np "$WORK/allreduce" 20; done
