"""PyTorch backend of LearnedDropout Lens: trains the LearnedDropout GPT on a GPU (or CPU, or
several of either through torchrun) and writes the same run folder as the TypeScript engine.

Run by the engine (engine/src/torch/worker.ts), never imported from there: the engine prepares the
run (config, tokenizer, token ids in train.bin/val.bin, initial weights, RNG state) and supervises
`python -m ldtorch.train --job RUN/torch/job.json`, which talks JSON lines on stdout/stdin.
Dependencies: torch and the standard library (numpy only to write tensors faster when present).
"""
