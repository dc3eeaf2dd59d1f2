#!/usr/bin/python3
"""Golden values from plain PyTorch for the tensor-core tests.

Run with Debian's python3-torch:  /usr/bin/python3 test/golden/make_golden.py
Writes test/fixtures/ops.json and test/fixtures/gpt2_train.json. Tensors are stored as
base64 of little-endian float32 (inputs) or float64 (references) with their shapes.

ops.json: for every op, float32 inputs, a fixed cotangent R, and the reference output and
the gradients of sum(out * R) with respect to each input, computed in float64 from the same
float32 inputs (so the reference carries no float32 rounding of its own).

gpt2_train.json: a 2-layer GPT-2 (Hugging Face modeling_gpt2 semantics written in plain
torch, since python3-transformers is not packaged) trained 10 AdamW steps in float32 from
fixed weights, as llm.c's train_gpt2.py/test_gpt2.c do: the logits and every gradient of
step 1 and the loss of every step.
"""
import base64
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures')


def enc(t, dtype=np.float32):
    a = t.detach().cpu().numpy().astype(dtype)
    return {'shape': list(a.shape), 'dtype': 'float32' if dtype == np.float32 else 'float64',
            'b64': base64.b64encode(a.astype('<' + a.dtype.str[1:]).tobytes()).decode()}


def enc_int(a):
    a = np.asarray(a, dtype=np.int32)
    return {'shape': list(a.shape), 'dtype': 'int32', 'b64': base64.b64encode(a.astype('<i4').tobytes()).decode()}


# ---------------------------------------------------------------- ops
cases = []


def case(name, fn, inputs, ints=None, params=None):
    """inputs: dict name -> float32 tensor; fn(**float64 inputs, **ints) -> output."""
    ints = ints or {}
    x64 = {k: v.double().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**x64, **{k: torch.tensor(v) for k, v in ints.items()})
    R = torch.randn(out.shape, dtype=torch.float64)
    (out * R).sum().backward()
    cases.append({
        'name': name,
        'params': params or {},
        'inputs': {k: enc(v) for k, v in inputs.items()},
        'ints': {k: enc_int(v) for k, v in ints.items()},
        'cotangent': enc(R, np.float64),
        'output': enc(out, np.float64),
        'grads': {k: enc(v.grad, np.float64) for k, v in x64.items()},
    })


def r(*shape):
    return torch.randn(*shape, dtype=torch.float32)


case('matmul', lambda a, b: a @ b, {'a': r(2, 3, 4, 5), 'b': r(2, 3, 5, 6)})
case('matmul_transA', lambda a, b: a.transpose(-1, -2) @ b, {'a': r(2, 5, 4), 'b': r(2, 5, 6)}, params={'transA': True})
case('matmul_transB', lambda a, b: a @ b.transpose(-1, -2), {'a': r(2, 4, 5), 'b': r(2, 6, 5)}, params={'transB': True})
case('matmul_transAB', lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2), {'a': r(3, 5, 4), 'b': r(3, 6, 5)},
     params={'transA': True, 'transB': True})
case('matmul_shared', lambda a, b: a @ b, {'a': r(2, 3, 4, 5), 'b': r(5, 6)})
case('matmul_shared_transB', lambda a, b: a @ b.t(), {'a': r(2, 7, 5), 'b': r(6, 5)}, params={'transB': True})
case('matmul_shared_transA', lambda a, b: a.transpose(-1, -2) @ b, {'a': r(2, 5, 4), 'b': r(5, 6)}, params={'transA': True})
case('matmul_shared_transAB', lambda a, b: a.transpose(-1, -2) @ b.t(), {'a': r(2, 5, 4), 'b': r(6, 5)},
     params={'transA': True, 'transB': True})
case('linear_out_in', lambda x, w, b: F.linear(x, w, b), {'x': r(2, 3, 5), 'w': r(4, 5), 'b': r(4)}, params={'layout': 'out_in'})
case('linear_in_out', lambda x, w, b: x @ w + b, {'x': r(7, 5), 'w': r(5, 6), 'b': r(6)}, params={'layout': 'in_out'})
case('add_broadcast', lambda a, b: a + b, {'a': r(2, 3, 4), 'b': r(3, 1)})
case('sub_broadcast', lambda a, b: a - b, {'a': r(4,), 'b': r(2, 3, 4)})
case('mul_broadcast', lambda a, b: a * b, {'a': r(2, 1, 4), 'b': r(1, 3, 1)})
case('div_broadcast', lambda a, b: a / b, {'a': r(2, 3, 4), 'b': torch.rand(3, 4) + 0.5})
case('neg', lambda x: -x, {'x': r(3, 4)})
case('exp', lambda x: torch.exp(x), {'x': r(3, 4)})
case('log', lambda x: torch.log(x), {'x': torch.rand(3, 4) + 0.1})
case('sqrt', lambda x: torch.sqrt(x), {'x': torch.rand(3, 4) + 0.1})
case('square', lambda x: x * x, {'x': r(3, 4)})
case('mulScalar', lambda x: x * 0.37, {'x': r(3, 4)}, params={'s': 0.37})
case('addScalar', lambda x: x + 1.5, {'x': r(3, 4)}, params={'s': 1.5})
case('sum_all', lambda x: x.sum(), {'x': r(3, 4, 5)})
case('sum_axis1', lambda x: x.sum(1), {'x': r(3, 4, 5)}, params={'axis': 1})
case('sum_axis_keep', lambda x: x.sum(-1, keepdim=True), {'x': r(3, 4, 5)}, params={'axis': -1, 'keepdim': True})
case('mean_axis0', lambda x: x.mean(0), {'x': r(3, 4, 5)}, params={'axis': 0})
case('permute', lambda x: x.permute(2, 0, 3, 1), {'x': r(2, 3, 4, 5)}, params={'perm': [2, 0, 3, 1]})
case('transpose', lambda x: x.transpose(0, 1), {'x': r(3, 4, 2)}, params={'a': 0, 'b': 1})
case('slice', lambda x: x[:, 1:4, :], {'x': r(2, 5, 3)}, params={'axis': 1, 'start': 1, 'end': 4})
case('concat', lambda a, b: torch.cat([a, b], dim=1), {'a': r(2, 3, 4), 'b': r(2, 2, 4)}, params={'axis': 1})
case('reshape', lambda x: x.reshape(4, 6), {'x': r(2, 3, 4)}, params={'shape': [4, 6]})
case('gelu', lambda x: F.gelu(x, approximate='tanh'), {'x': r(4, 5) * 3})
case('relu', lambda x: F.relu(x), {'x': r(4, 5)})
case('silu', lambda x: F.silu(x), {'x': r(4, 5) * 3})
case('tanh', lambda x: torch.tanh(x), {'x': r(4, 5)})
case('sigmoid', lambda x: torch.sigmoid(x), {'x': r(4, 5)})
case('layer_norm', lambda x, w, b: F.layer_norm(x, (8,), w, b, 1e-5), {'x': r(2, 3, 8) * 2 + 1, 'w': r(8), 'b': r(8)},
     params={'eps': 1e-5})
case('layer_norm_nobias', lambda x, w: F.layer_norm(x, (8,), w, None, 1e-5), {'x': r(5, 8), 'w': r(8)}, params={'eps': 1e-5})


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


case('rms_norm', rms, {'x': r(2, 3, 8), 'w': r(8)}, params={'eps': 1e-6})


def attn_ref(q, k, v):
    B, Hq, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    k = k.repeat_interleave(Hq // Hkv, dim=1)
    v = v.repeat_interleave(Hq // Hkv, dim=1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
    i = torch.arange(Tq).unsqueeze(1) + (Tk - Tq)
    j = torch.arange(Tk).unsqueeze(0)
    s = s.masked_fill(j > i, float('-inf'))
    return torch.softmax(s, -1) @ v


case('attention', attn_ref, {'q': r(2, 2, 6, 8), 'k': r(2, 2, 6, 8), 'v': r(2, 2, 6, 8)})
case('attention_gqa', attn_ref, {'q': r(1, 4, 5, 4), 'k': r(1, 2, 5, 4), 'v': r(1, 2, 5, 4)})
case('attention_kvcache', attn_ref, {'q': r(2, 4, 3, 4), 'k': r(2, 2, 7, 4), 'v': r(2, 2, 7, 4)})


def rope_ref(x, theta=10000.0, offset=3):
    B, H, T, D = x.shape
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2).float() / D))
    t = torch.arange(offset, offset + T).float()
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat([freqs, freqs], -1).double()
    cos, sin = emb.cos(), emb.sin()
    x1, x2 = x[..., :D // 2], x[..., D // 2:]
    rot = torch.cat([-x2, x1], -1)
    return x * cos + rot * sin


case('rope', rope_ref, {'x': r(2, 3, 5, 8)}, params={'theta': 10000.0, 'offset': 3})
tg = [3, -100, 0, 9, 4, 4, -100, 1]
case('cross_entropy_mean', lambda x, t: F.cross_entropy(x, t.long(), ignore_index=-100), {'x': r(8, 10) * 2}, ints={'t': tg})
case('cross_entropy_sum', lambda x, t: F.cross_entropy(x, t.long(), reduction='sum'), {'x': r(6, 10)},
     ints={'t': [1, 2, 3, 4, 5, 9]}, params={'reduction': 'sum'})
case('cross_entropy_none', lambda x, t: F.cross_entropy(x, t.long(), reduction='none'), {'x': r(6, 10)},
     ints={'t': [1, 0, 3, 4, 5, 9]}, params={'reduction': 'none'})
case('linear_cross_entropy', lambda h, w, t: F.cross_entropy((h @ w.t()).reshape(-1, 13), t.long(), ignore_index=-100),
     {'h': r(2, 5, 8), 'w': r(13, 8)}, ints={'t': [3, -100, 0, 12, 4, 4, -100, 1, 7, 2]}, params={'chunkRows': 4})
case('log_softmax', lambda x: F.log_softmax(x, -1), {'x': r(4, 7)})
case('embedding', lambda w, ids: F.embedding(ids.long(), w), {'w': r(10, 4)}, ints={'ids': [[1, 3, 3], [9, 0, 1]]})

with open(os.path.join(OUT, 'ops.json'), 'w') as f:
    json.dump({'generator': 'test/golden/make_golden.py', 'torch': torch.__version__, 'cases': cases}, f)

# ---------------------------------------------------------------- GPT-2 training
torch.manual_seed(42)
cfg = dict(vocab_size=96, n_positions=32, n_embd=32, n_layer=2, n_head=4)
V, P, C, L, H = cfg['vocab_size'], cfg['n_positions'], cfg['n_embd'], cfg['n_layer'], cfg['n_head']
params = {}


def param(name, *shape, std=0.02, const=None):
    t = torch.full(shape, const, dtype=torch.float32) if const is not None else torch.randn(*shape) * std
    params[name] = t.requires_grad_(True)


param('transformer.wte.weight', V, C)
param('transformer.wpe.weight', P, C, std=0.01)
for l in range(L):
    pre = f'transformer.h.{l}.'
    param(pre + 'ln_1.weight', C, const=None, std=0.1)
    params[pre + 'ln_1.weight'].data += 1
    param(pre + 'ln_1.bias', C, std=0.02)
    param(pre + 'attn.c_attn.weight', C, 3 * C)
    param(pre + 'attn.c_attn.bias', 3 * C)
    param(pre + 'attn.c_proj.weight', C, C)
    param(pre + 'attn.c_proj.bias', C)
    param(pre + 'ln_2.weight', C, std=0.1)
    params[pre + 'ln_2.weight'].data += 1
    param(pre + 'ln_2.bias', C, std=0.02)
    param(pre + 'mlp.c_fc.weight', C, 4 * C)
    param(pre + 'mlp.c_fc.bias', 4 * C)
    param(pre + 'mlp.c_proj.weight', 4 * C, C)
    param(pre + 'mlp.c_proj.bias', C)
param('transformer.ln_f.weight', C, std=0.1)
params['transformer.ln_f.weight'].data += 1
param('transformer.ln_f.bias', C, std=0.02)
initial = {k: v.detach().clone() for k, v in params.items()}


def gpt2_forward(ids):
    p = params
    B, T = ids.shape
    x = p['transformer.wte.weight'][ids] + p['transformer.wpe.weight'][torch.arange(T)]
    hs = C // H
    for l in range(L):
        pre = f'transformer.h.{l}.'
        h = F.layer_norm(x, (C,), p[pre + 'ln_1.weight'], p[pre + 'ln_1.bias'], 1e-5)
        qkv = h @ p[pre + 'attn.c_attn.weight'] + p[pre + 'attn.c_attn.bias']  # Conv1D: (in, out)
        q, k, v = qkv.split(C, dim=2)
        q, k, v = [t.view(B, T, H, hs).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = att.masked_fill(~mask, float('-inf')).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + (y @ p[pre + 'attn.c_proj.weight'] + p[pre + 'attn.c_proj.bias'])
        h = F.layer_norm(x, (C,), p[pre + 'ln_2.weight'], p[pre + 'ln_2.bias'], 1e-5)
        h = F.gelu(h @ p[pre + 'mlp.c_fc.weight'] + p[pre + 'mlp.c_fc.bias'], approximate='tanh')
        x = x + (h @ p[pre + 'mlp.c_proj.weight'] + p[pre + 'mlp.c_proj.bias'])
    x = F.layer_norm(x, (C,), p['transformer.ln_f.weight'], p['transformer.ln_f.bias'], 1e-5)
    return x @ p['transformer.wte.weight'].t()  # tied head


B, T = 4, 16
tokens = torch.randint(0, V, (B, T + 1))
ids, targets = tokens[:, :-1], tokens[:, 1:]
opt = torch.optim.AdamW(params.values(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
losses = []
logits0 = None
grads0 = None
for step in range(10):
    opt.zero_grad()
    logits = gpt2_forward(ids)
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    loss.backward()
    if step == 0:
        logits0 = logits.detach().clone()
        grads0 = {k: v.grad.detach().clone() for k, v in params.items()}
    losses.append(loss.item())
    opt.step()

with open(os.path.join(OUT, 'gpt2_train.json'), 'w') as f:
    json.dump({
        'generator': 'test/golden/make_golden.py',
        'torch': torch.__version__,
        'config': cfg,
        'optimizer': {'lr': 1e-3, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weight_decay': 0.01},
        'batch': [B, T],
        'ids': enc_int(ids.numpy()),
        'targets': enc_int(targets.numpy()),
        'weights': {k: enc(v) for k, v in initial.items()},
        'logits0': enc(logits0),
        'grads0': {k: enc(v) for k, v in grads0.items()},
        'losses': losses,
    }, f)
print('wrote', OUT, len(cases), 'op cases;', 'losses', [round(l, 5) for l in losses])
