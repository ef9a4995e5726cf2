#!/bin/bash
#SBATCH --job-name=bpfree-bp-synthetic_samples_900_classes_3_shape_6x6-mlp-1x8-e1-s1
#SBATCH --array=0-0
#SBATCH --cpus-per-task=1
#SBATCH --output=/work/main/bpfree-slurm/bp-synthetic_samples_900_classes_3_shape_6x6-mlp-1x8-e1-s1-1796488401/task-%A_%a.out
# One ordinary bpfree worker per array task, all on the same study in the store.
exec /work/main/.build/x86_64-unknown-linux-gnu/debug/bpfree tune --algorithm bp --architecture mlp:8 --dataset synthetic:samples=900,classes=3,shape=6x6 --trials 1 --epochs 1 --threads 1 --store /tmp/bpfree-tests-29521/FA1F865C-51D6-47B6-9CBB-8979F99EE089/s.sqlite --as-worker
