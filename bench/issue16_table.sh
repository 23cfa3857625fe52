#!/usr/bin/env bash
# Re-measures issue 16's table ("Digits in one minute") in one go, on one machine: run it with
# nothing else running. Each row comes from the project's own benchmark or evaluator:
#   gan-fast, gan-clusters (the Train page's first GAN)  bench/time_to_quality.py, 10,000 samples
#   vae-fast, vae-clusters (its first VAE), 60 and 120 s
#   the first GAN's and VAE's default first runs         bench/default_budgets.py (Home quotes them)
#   shipped gan-paper, gan-clusters, gan-fast,           python -m aigc_core evaluate, 10,000 samples
#   vae-clusters, vae-fast
#   paper DCGAN throughput against the tutorial loop     bench/throughput.py, 5 alternating rounds
#     (as a run trains it: mixed bfloat16 where the CPU computes it; and in float32)
#   gan-paper sample(64)                                 bench/sampling_latency.py
#   gan-paper against the tutorial loop, 300 s each     bench/time_to_quality.py
# Results go to $OUT (default bench/results/issue16_table); the summary is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/issue16_table}
mkdir -p "$OUT"
echo "started $(date -u +%FT%TZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

# Each arm as a run trains it on this machine: the GAN with its moving average, the VAE in mixed
# bfloat16 where this CPU computes it (its automatic default, `Variant.prefers_bfloat16`).
# The precision a run of FAMILY PRESET gets on this machine when it names none.
run_precision() {
    python -c "from aigc_core.config import default_precision_for; print(default_precision_for('$1', '$2'))"
}
VAE_ARMS=vae-fast,vae-clusters
if [ "$(run_precision vae fast)" = mixed_bfloat16 ]; then
    VAE_ARMS=vae-fast+bf16,vae-clusters+bf16
fi
python bench/time_to_quality.py --models "gan-fast+ema,gan-clusters+ema,$VAE_ARMS" --budgets 60,120 --num 10000 \
    --out "$OUT/time_to_quality" 2>&1 | grep -E '^(model|gan|vae|verdict|wrote)'
# The seed's network as a run trains it here (its precision on this CPU) against the tutorial loop on
# the same network, at equal time: the shipped recipe has to beat the reference it replaced.
PAPER_ARM=gan-paper+ema
if [ "$(run_precision gan paper)" = mixed_bfloat16 ]; then
    PAPER_ARM=gan-paper+ema+bf16
fi
python bench/time_to_quality.py --models "reference,$PAPER_ARM" --budgets 300 --num 10000 --segment 60 \
    --out "$OUT/paper_against_reference" 2>&1 | grep -E '^(model|gan|reference|wrote)'
python bench/default_budgets.py --models gan-clusters,vae-clusters --out "$OUT/default_budgets" 2>&1 | tail -n 6
for name in gan-paper gan-clusters gan-fast vae-clusters vae-fast; do
    python -m aigc_core evaluate --weights "$name" --json "$OUT/$name.metrics.json" 2>&1 | tail -n 3
done
python bench/throughput.py --rounds 5 --steps 8 --arms project,float32 2>&1 | tail -n 12 | tee "$OUT/throughput.txt"
python bench/sampling_latency.py 2>&1 | tail -n 14 | tee "$OUT/sampling_latency.txt"
echo "finished $(date -u +%FT%TZ)"
