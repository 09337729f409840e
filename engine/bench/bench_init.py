"""The weight init of ld_gpt.py's `bench` (A ~ N(0, 1), B ~ N(0, 0.02), matrices ~ N(0, 0.02)), for
the benchmark scripts here that time a model the reference's way."""
import torch


def reference_bench_init(model):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".A"):
                p.normal_(0.0, 1.0)
            elif n.endswith(".B"):
                p.normal_(0.0, 0.02)
            elif p.dim() >= 2:
                p.normal_(0.0, 0.02)
    return model
