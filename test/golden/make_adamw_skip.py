#!/usr/bin/python3
"""Golden values for AdamW on parameters that skip steps (per-parameter bias correction).

Run with Debian's python3-torch:  /usr/bin/python3 test/golden/make_adamw_skip.py
Writes test/fixtures/adamw_skip.json.

torch.optim.AdamW keeps `state['step']` per parameter and advances it only when that
parameter has a gradient, so a parameter updated in some steps only (a harmonizer that DL
sampled now and then) is bias-corrected by its own count, not by the optimizer's. Two float64
parameters: `always` gets a gradient every step, `sometimes` only in steps 2, 3 and 6; the
values after every step are stored.
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'adamw_skip.json')
torch.manual_seed(7)
always = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
sometimes = torch.nn.Parameter(torch.tensor([0.25, 3.0], dtype=torch.float64))
opt = torch.optim.AdamW([always, sometimes], lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
grads_always, grads_sometimes, after = [], [], []
for step in range(1, 7):
    opt.zero_grad(set_to_none=True)
    ga = torch.randn(3, dtype=torch.float64)
    always.grad = ga.clone()
    gs = None
    if step in (2, 3, 6):
        gs = torch.randn(2, dtype=torch.float64)
        sometimes.grad = gs.clone()
    opt.step()
    grads_always.append(ga.tolist())
    grads_sometimes.append(None if gs is None else gs.tolist())
    after.append({'always': always.detach().tolist(), 'sometimes': sometimes.detach().tolist()})

with open(OUT, 'w') as f:
    json.dump({'generator': 'test/golden/make_adamw_skip.py', 'torch': torch.__version__,
               'lr': 0.05, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weight_decay': 0.1,
               'initial': {'always': [1.0, -2.0, 0.5], 'sometimes': [0.25, 3.0]},
               'grads_always': grads_always, 'grads_sometimes': grads_sometimes, 'after': after}, f, indent=1)
    f.write('\n')
