#!/usr/bin/env bash
# Every benchmark figure in README.md, in one process per table, on the bundled models.
# Usage: bash scripts/figures.sh [section ...]   (default: all sections, in this order)
# Run on a quiet machine; each section writes bench-out/NAME.{md,csv,html} and its table
# into README.md between <!-- bench:NAME --> markers. Sections: quick full full-t1 pair
# cheap cheap-t1 trees trees-t1 schedules auto-random prune lossy verify-cost profile rdk
# simulate
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
BENCH="$PY -m playground bench --out bench-out --readme"
SMOL=bundled:smollm2-135m-instruct
X="drafter=cross_tokenizer,drafter_model=$SMOL,schedule=fixed,num_draft_tokens=3"
LS="schedule=fixed,num_draft_tokens=3"
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(quick full full-t1 pair cheap cheap-t1 trees trees-t1 \
    schedules auto-random prune lossy verify-cost profile rdk simulate)
for s in "${sections[@]}"; do
  echo "== $s ($(date -u +%H:%M))"
  case $s in
    quick) $BENCH --quick ;;
    full) $BENCH --prompts speclab --name full --max-new-tokens 64 \
        --method hf_prompt_lookup:10 \
        --method drafter=prompt_lookup,sampler=greedy,label=prompt_lookup \
        --method drafter=token_recycling,sampler=tree_greedy,label=token_recycling \
        --method drafter=lookup_tree,sampler=tree_greedy,label=lookup_tree \
        --method drafter=auto,sampler=greedy,label=auto ;;
    full-t1) $BENCH --prompts speclab --per-category 3 --name full-t1 --temperature 1 \
        --max-new-tokens 64 --method hf --method hf_prompt_lookup:10 \
        --method drafter=prompt_lookup,sampler=speculative,label=prompt_lookup \
        --method drafter=token_recycling,sampler=tree_deterministic,label=token_recycling \
        --method drafter=auto,sampler=specinfer,label=auto ;;
    pair) $BENCH --prompts speclab --per-category 2 --name pair --max-new-tokens 64 \
        --method hf_assisted:$SMOL:3 --method hf_assisted:$SMOL:5 \
        --method $X,sampler=slem,label=slem \
        --method $X,sampler=slem,drafter_quant=int8,label=slem-int8 \
        --method $X,sampler=tli,drafter_quant=int8,label=tli-int8 \
        --method $X,sampler=slrs,drafter_quant=int8,label=slrs-int8 ;;
    cheap|cheap-t1)
      if [ $s = cheap ]; then T=0; V=greedy; TV=tree_greedy; else T=1; V=speculative; TV=tree_deterministic; fi
      $BENCH --prompts quick --name $s --temperature $T --max-new-tokens 32 \
        --method drafter=layer_skip,layers=0-11+15-17,sampler=$V,$LS,label=skip-3-middle \
        --method drafter=layer_skip,layers=15,sampler=$V,$LS,label=exit-15 \
        --method drafter=layer_skip,layers=12,sampler=$V,$LS,label=exit-12 \
        --method drafter=layer_skip_pruned,layers=0-11+15-17,keep_fraction=0.1,sampler=tli,$LS,label=skip-3-middle-pruned \
        --method drafter=layer_skip_pruned,layers=15,keep_fraction=0.1,sampler=tli,$LS,label=exit-15-pruned \
        --method drafter=layer_skip_pruned,layers=12,keep_fraction=0.1,sampler=tli,$LS,label=exit-12-pruned \
        --method drafter=token_recycling,sampler=$TV,label=token_recycling \
        --method drafter=prompt_lookup,sampler=$V,label=prompt_lookup \
        --method drafter=auto,sampler=$([ $T = 0 ] && echo greedy || echo specinfer),label=auto ;;
    trees)  # chain vs static vs dynamic tree at equal target cost (4 and 8 draft nodes)
      S="drafter=layer_skip,layers=0-11+15-17,sampler=greedy,schedule=fixed"
      T="drafter=layer_skip_tree,layers=0-11+15-17,sampler=tree_greedy,schedule=fixed"
      $BENCH --prompts quick --name trees --max-new-tokens 64 \
        --method $S,num_draft_tokens=4,label=skip-chain-4 \
        --method $T,num_draft_tokens=4,tree=static:2-1-1-1,tree_budget=4,label=skip-static-4 \
        --method $T,num_draft_tokens=4,tree=dynamic:4,label=skip-dynamic-4 \
        --method $S,num_draft_tokens=8,label=skip-chain-8 \
        --method $T,num_draft_tokens=8,tree=static:2-2-1-1,tree_budget=8,label=skip-static-8 \
        --method $T,num_draft_tokens=8,tree=dynamic:8,label=skip-dynamic-8 \
        --method $T,num_draft_tokens=8,tree=dynamic:8,keep_fraction=0.1,label=skip-pruned-dynamic-8 \
        --method drafter=prompt_lookup,sampler=greedy,schedule=fixed,num_draft_tokens=4,label=pld-chain-4 \
        --method drafter=lookup_tree,sampler=tree_greedy,schedule=fixed,num_draft_tokens=4,tree_budget=4,tree_trim=0,label=lookup-tree-4 \
        --method drafter=prompt_lookup,sampler=greedy,schedule=fixed,num_draft_tokens=8,label=pld-chain-8 \
        --method drafter=lookup_tree,sampler=tree_greedy,schedule=fixed,num_draft_tokens=8,tree_budget=8,tree_trim=0,label=lookup-tree-8 ;;
    trees-t1)
      S="drafter=layer_skip,layers=0-11+15-17,sampler=speculative,schedule=fixed"
      T="drafter=layer_skip_tree,layers=0-11+15-17,schedule=fixed"
      $BENCH --prompts quick --name trees-t1 --temperature 1 --max-new-tokens 64 \
        --method $S,num_draft_tokens=4,label=skip-chain-4 \
        --method $T,sampler=specinfer,num_draft_tokens=4,tree=sample:2-1-1-1,tree_budget=4,label=skip-sampled-4 \
        --method $T,sampler=tree_deterministic,num_draft_tokens=4,tree=dynamic:4,label=skip-dynamic-4 \
        --method $S,num_draft_tokens=8,label=skip-chain-8 \
        --method $T,sampler=specinfer,num_draft_tokens=8,tree=sample:2-2-1-1,tree_budget=8,label=skip-sampled-8 \
        --method $T,sampler=tree_deterministic,num_draft_tokens=8,tree=dynamic:8,label=skip-dynamic-8 ;;
    schedules) $BENCH --prompts quick --name schedules --max-new-tokens 32 \
        --method drafter=prompt_lookup,sampler=greedy,schedule=fixed,num_draft_tokens=4,label=pld-fixed \
        --method drafter=prompt_lookup,sampler=greedy,schedule=heuristic,label=pld-heuristic \
        --method drafter=layer_skip,layers=0-11+15-17,sampler=greedy,schedule=fixed,num_draft_tokens=3,label=skip-fixed \
        --method drafter=layer_skip,layers=0-11+15-17,sampler=greedy,schedule=heuristic,label=skip-heuristic \
        --method drafter=layer_skip,layers=0-11+15-17,sampler=greedy,schedule=confidence,label=skip-confidence \
        --method drafter=layer_skip,layers=0-11+15-17,sampler=greedy,schedule=disco,label=skip-disco ;;
    auto-random) $BENCH --prompts quick --name auto-random --max-new-tokens 64 --repeats 3 \
        --method drafter=auto,sampler=greedy,auto_drafters=random,label=auto-random \
        --method drafter=random,sampler=greedy,schedule=fixed,num_draft_tokens=4,label=random ;;
    prune) $BENCH --prompts quick --name prune --temperature 1 --max-new-tokens 48 \
        --method drafter=pruned,sampler=tli,schedule=fixed,num_draft_tokens=4,label=tli \
        --method drafter=pruned,sampler=rdk,schedule=fixed,num_draft_tokens=4,label=rdk \
        --method drafter=pruned,sampler=rdk_linear,schedule=fixed,num_draft_tokens=4,label=rdk_linear \
        --sweep keep_fraction=0.5,0.25,0.1,0.01,0.002 ;;
    lossy)
      D="drafter=layer_skip,layers=0-11+15-17,schedule=fixed,num_draft_tokens=4"
      L="--prompts quick --temperature 1 --max-new-tokens 32"
      $BENCH $L --name lossy-typical --method $D,sampler=typical,label=typical --sweep typical_epsilon=0.01,0.09,0.3
      $BENCH $L --name lossy-lenient --method $D,sampler=lenient,label=lenient --sweep lenience=1,2,4,16
      $BENCH $L --name lossy-cascade --method $D,sampler=cascade,label=cascade --sweep cascade_alpha=0,0.1,0.3
      $BENCH $L --name lossy-bild --method $D,sampler=bild,label=bild --sweep bild_rollback=1,3,10 ;;
    verify-cost) $PY -m playground.bench.verify_cost | tee bench-out/verify-cost.md ;;
    profile) { $PY -m playground.bench.profile_round --stock; $PY -m playground.bench.profile_round; } \
        2>/dev/null | tee bench-out/profile.md ;;
    rdk) $PY -m playground.bench.rdk_scaling | tee bench-out/rdk-scaling.md ;;
    simulate) $PY -m playground.simulate parallel --target bundled:gemma-3-270m \
        --drafter-model $SMOL --servers 8 --out bench-out/simulate 2>&1 | tee bench-out/simulate.md
      $PY -m playground.simulate threads --target bundled:gemma-3-270m \
        --drafter-model $SMOL --out bench-out/threads 2>&1 | tee bench-out/threads.md ;;
    *) echo "unknown section $s" >&2; exit 2 ;;
  esac
done
