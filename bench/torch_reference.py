#!/usr/bin/python3
"""PyTorch side of `npm run bench`: the same workloads, driven line by line from stdin so
that rounds interleave with ours in one invocation. Started by bench/bench.ts with
PyTorch's best configuration on this machine (OPENBLAS_CORETYPE=SkylakeX, glibc's
MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ as our addon sets them,
OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads(N)). Each request line is a JSON object
{"work": ..., ...}; each reply is one JSON line.
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F


def make_block_params(C, n_layer, std=0.02):
    ps = []
    for _ in range(n_layer):
        p = {
            'ln1_w': torch.ones(C), 'ln1_b': torch.zeros(C),
            'attn_w': torch.randn(C, 3 * C) * std, 'attn_b': torch.zeros(3 * C),
            'proj_w': torch.randn(C, C) * std, 'proj_b': torch.zeros(C),
            'ln2_w': torch.ones(C), 'ln2_b': torch.zeros(C),
            'fc_w': torch.randn(C, 4 * C) * std, 'fc_b': torch.zeros(4 * C),
            'fcp_w': torch.randn(4 * C, C) * std, 'fcp_b': torch.zeros(C),
        }
        for t in p.values():
            t.requires_grad_(True)
        ps.append(p)
    return ps


def block(x, p, H):
    # Hugging Face GPT-2 block semantics (torch 1.13 has no fused SDPA).
    B, T, C = x.shape
    h = F.layer_norm(x, (C,), p['ln1_w'], p['ln1_b'], 1e-5)
    qkv = h @ p['attn_w'] + p['attn_b']
    q, k, v = qkv.split(C, dim=2)
    q, k, v = [t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v)]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(C // H)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    att = att.masked_fill(~mask, float('-inf')).softmax(-1)
    y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
    x = x + (y @ p['proj_w'] + p['proj_b'])
    h = F.layer_norm(x, (C,), p['ln2_w'], p['ln2_b'], 1e-5)
    h = F.gelu(h @ p['fc_w'] + p['fc_b'], approximate='tanh')
    return x + (h @ p['fcp_w'] + p['fcp_b'])


class Model:
    def __init__(self, V, P, C, L, H):
        self.H = H
        self.wte = (torch.randn(V, C) * 0.02).requires_grad_(True)
        self.wpe = (torch.randn(P, C) * 0.01).requires_grad_(True)
        self.blocks = make_block_params(C, L)
        self.lnf_w = torch.ones(C, requires_grad=True)
        self.lnf_b = torch.zeros(C, requires_grad=True)

    def params(self):
        out = [self.wte, self.wpe, self.lnf_w, self.lnf_b]
        for p in self.blocks:
            out += list(p.values())
        return out

    def logits(self, ids):
        B, T = ids.shape
        x = self.wte[ids] + self.wpe[torch.arange(T)]
        for p in self.blocks:
            x = block(x, p, self.H)
        x = F.layer_norm(x, (x.shape[-1],), self.lnf_w, self.lnf_b, 1e-5)
        return x @ self.wte.t()


cache = {}


def handle(req):
    work = req['work']
    if work in ('sgemm', 'sgemm_bf16', 'sgemm_bf16_cast'):
        M, N, K, reps = req['M'], req['N'], req['K'], req['reps']
        a, b = torch.rand(M, K), torch.rand(K, N)
        if work == 'sgemm_bf16':  # bf16 operands held as bf16 (oneDNN's bf16 GEMM alone)
            a, b = a.bfloat16(), b.bfloat16()
        # sgemm_bf16_cast: float32 operands cast for each product, as autocast does.
        product = (lambda: a.bfloat16() @ b.bfloat16()) if work == 'sgemm_bf16_cast' else (lambda: a @ b)
        product()
        # As on our side: at least `reps` products and at least 0.3 s.
        t = time.perf_counter()
        done = 0
        while done < reps or time.perf_counter() - t < 0.3:
            product()
            done += 1
        s = (time.perf_counter() - t) / done
        return {'gflops': 2 * M * N * K / s / 1e9}
    if work == 'block':
        B, T, C, H, L = req['B'], req['T'], req['C'], req['H'], req['layers']
        key = ('block', C, L)
        if key not in cache:
            cache[key] = make_block_params(C, L)
        ps = cache[key]
        x = torch.randn(B, T, C, requires_grad=True)
        t = time.perf_counter()
        for _ in range(req['reps']):
            y = x
            for p in ps:
                y = block(y, p, H)
            y.sum().backward()
        s = (time.perf_counter() - t) / req['reps']
        return {'tokens_per_s': B * T / s}
    if work in ('step', 'forward'):
        B, T = req['B'], req['T']
        key = ('model', req['V'], req['L'], req['C'])
        if key not in cache:
            torch.manual_seed(0)
            m = Model(req['V'], req['P'], req['C'], req['L'], req['H'])
            cache[key] = (m, torch.optim.AdamW(m.params(), lr=1e-4))
        m, opt = cache[key]
        ids = torch.randint(0, req['V'], (B, T))
        tgt = torch.randint(0, req['V'], (B, T))
        # bf16: torch's CPU autocast (matmuls and linear layers in bf16, the rest float32).
        cast = lambda: torch.autocast('cpu', dtype=torch.bfloat16, enabled=bool(req.get('bf16')))
        t = time.perf_counter()
        for _ in range(req['reps']):
            if work == 'step':
                opt.zero_grad()
                with cast():
                    logits = m.logits(ids)
                loss = F.cross_entropy(logits.float().view(-1, req['V']), tgt.view(-1))
                loss.backward()
                opt.step()
            else:
                with torch.no_grad(), cast():
                    m.logits(ids)
        s = (time.perf_counter() - t) / req['reps']
        return {'tokens_per_s': B * T / s}
    if work == 'rss':
        return {'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    raise ValueError('unknown work ' + work)


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            print(json.dumps(handle(json.loads(line))), flush=True)
        except Exception as e:  # reported to the caller, which stops the bench
            print(json.dumps({'error': repr(e)}), flush=True)


if __name__ == '__main__':
    main()
