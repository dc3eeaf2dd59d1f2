#!/usr/bin/python3
"""Tiny Hugging Face-layout checkpoints and reference outputs for the model tests.

Run with Debian's python3-torch:  /usr/bin/python3 test/golden/make_models.py
python3-transformers is not packaged, so each architecture is written here in plain torch,
line for line after the Hugging Face modeling files (modeling_gpt2.py, modeling_opt.py,
modeling_llama.py); Debian's torch has no safetensors module, so the format is written by
hand. For each checkpoint directory test/fixtures/models/<name>/ this writes config.json,
model.safetensors (or shards + model.safetensors.index.json) and expected.json with the
logits of fixed ids and the greedy continuation of a prompt.
"""
import base64
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'models')


def write_safetensors(path, tensors, dtype):
    """tensors: dict name -> float32 torch tensor; stored as dtype ('F32', 'F16', 'BF16')."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if dtype == 'F32':
            b = t.float().numpy().astype('<f4').tobytes()
        elif dtype == 'F16':
            b = t.half().numpy().astype('<f2').tobytes()
        else:  # BF16: the high half of the float32 bits after torch's rounding
            b = t.bfloat16().view(torch.int16).numpy().astype('<i2').tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def stored(t, dtype):
    """The float32 values the checkpoint actually holds."""
    return t.half().float() if dtype == 'F16' else t.bfloat16().float() if dtype == 'BF16' else t.float()


def enc(t):
    a = t.detach().numpy().astype('<f4')
    return {'shape': list(a.shape), 'dtype': 'float32', 'b64': base64.b64encode(a.tobytes()).decode()}


# ------------------------------------------------------------------ GPT-2 (modeling_gpt2.py)
def gpt2_forward(p, cfg, ids):
    B, T = ids.shape
    C, H = cfg['n_embd'], cfg['n_head']
    x = p['wte.weight'][ids] + p['wpe.weight'][torch.arange(T)]
    for l in range(cfg['n_layer']):
        q_ = f'h.{l}.'
        h = F.layer_norm(x, (C,), p[q_ + 'ln_1.weight'], p[q_ + 'ln_1.bias'], cfg['layer_norm_epsilon'])
        qkv = h @ p[q_ + 'attn.c_attn.weight'] + p[q_ + 'attn.c_attn.bias']
        q, k, v = [t.view(B, T, H, C // H).transpose(1, 2) for t in qkv.split(C, 2)]
        a = (q @ k.transpose(-1, -2)) / math.sqrt(C // H)
        a = a.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float('-inf')).softmax(-1)
        x = x + ((a @ v).transpose(1, 2).reshape(B, T, C) @ p[q_ + 'attn.c_proj.weight'] + p[q_ + 'attn.c_proj.bias'])
        h = F.layer_norm(x, (C,), p[q_ + 'ln_2.weight'], p[q_ + 'ln_2.bias'], cfg['layer_norm_epsilon'])
        h = F.gelu(h @ p[q_ + 'mlp.c_fc.weight'] + p[q_ + 'mlp.c_fc.bias'], approximate='tanh')
        x = x + (h @ p[q_ + 'mlp.c_proj.weight'] + p[q_ + 'mlp.c_proj.bias'])
    x = F.layer_norm(x, (C,), p['ln_f.weight'], p['ln_f.bias'], cfg['layer_norm_epsilon'])
    return x @ p['wte.weight'].t()


def gpt2_params(cfg):
    C, V, L = cfg['n_embd'], cfg['vocab_size'], cfg['n_layer']
    p = {'wte.weight': torch.randn(V, C) * 0.1, 'wpe.weight': torch.randn(cfg['n_positions'], C) * 0.05,
         'ln_f.weight': 1 + 0.1 * torch.randn(C), 'ln_f.bias': 0.05 * torch.randn(C)}
    for l in range(L):
        q = f'h.{l}.'
        p.update({q + 'ln_1.weight': 1 + 0.1 * torch.randn(C), q + 'ln_1.bias': 0.05 * torch.randn(C),
                  q + 'attn.c_attn.weight': torch.randn(C, 3 * C) * 0.1, q + 'attn.c_attn.bias': torch.randn(3 * C) * 0.05,
                  q + 'attn.c_proj.weight': torch.randn(C, C) * 0.1, q + 'attn.c_proj.bias': torch.randn(C) * 0.05,
                  q + 'ln_2.weight': 1 + 0.1 * torch.randn(C), q + 'ln_2.bias': 0.05 * torch.randn(C),
                  q + 'mlp.c_fc.weight': torch.randn(C, 4 * C) * 0.1, q + 'mlp.c_fc.bias': torch.randn(4 * C) * 0.05,
                  q + 'mlp.c_proj.weight': torch.randn(4 * C, C) * 0.1, q + 'mlp.c_proj.bias': torch.randn(C) * 0.05})
    return p


# ------------------------------------------------------------------ OPT (modeling_opt.py)
def opt_forward(p, cfg, ids):
    B, T = ids.shape
    C, H = cfg['hidden_size'], cfg['num_attention_heads']
    hd = C // H
    pre = cfg['do_layer_norm_before']
    d = 'model.decoder.'
    x = p[d + 'embed_tokens.weight'][ids]
    if d + 'project_in.weight' in p:
        x = x @ p[d + 'project_in.weight'].t()
    x = x + p[d + 'embed_positions.weight'][torch.arange(T) + 2]
    for l in range(cfg['num_hidden_layers']):
        q_ = f'{d}layers.{l}.'
        lin = lambda t, n: t @ p[q_ + n + '.weight'].t() + p[q_ + n + '.bias']
        ln = lambda t, n: F.layer_norm(t, (C,), p[q_ + n + '.weight'], p[q_ + n + '.bias'], 1e-5)
        res = x
        h = ln(x, 'self_attn_layer_norm') if pre else x
        q = lin(h, 'self_attn.q_proj') * hd ** -0.5
        k, v = lin(h, 'self_attn.k_proj'), lin(h, 'self_attn.v_proj')
        q, k, v = [t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v)]
        a = (q @ k.transpose(-1, -2)).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float('-inf')).softmax(-1)
        x = res + lin((a @ v).transpose(1, 2).reshape(B, T, C), 'self_attn.out_proj')
        if not pre:
            x = ln(x, 'self_attn_layer_norm')
        res = x
        h = ln(x, 'final_layer_norm') if pre else x
        x = res + lin(F.relu(lin(h, 'fc1')), 'fc2')
        if not pre:
            x = ln(x, 'final_layer_norm')
    if d + 'final_layer_norm.weight' in p:
        x = F.layer_norm(x, (C,), p[d + 'final_layer_norm.weight'], p[d + 'final_layer_norm.bias'], 1e-5)
    if d + 'project_out.weight' in p:
        x = x @ p[d + 'project_out.weight'].t()
    return x @ p[d + 'embed_tokens.weight'].t()


def opt_params(cfg):
    C, V, Fd, E = cfg['hidden_size'], cfg['vocab_size'], cfg['ffn_dim'], cfg['word_embed_proj_dim']
    d = 'model.decoder.'
    p = {d + 'embed_tokens.weight': torch.randn(V, E) * 0.1,
         d + 'embed_positions.weight': torch.randn(cfg['max_position_embeddings'] + 2, C) * 0.05}
    if E != C:
        p[d + 'project_in.weight'] = torch.randn(C, E) * 0.2
        p[d + 'project_out.weight'] = torch.randn(E, C) * 0.2
    if cfg['do_layer_norm_before']:
        p[d + 'final_layer_norm.weight'] = 1 + 0.1 * torch.randn(C)
        p[d + 'final_layer_norm.bias'] = 0.05 * torch.randn(C)
    for l in range(cfg['num_hidden_layers']):
        q = f'{d}layers.{l}.'
        for n, (o, i) in {'self_attn.q_proj': (C, C), 'self_attn.k_proj': (C, C), 'self_attn.v_proj': (C, C),
                          'self_attn.out_proj': (C, C), 'fc1': (Fd, C), 'fc2': (C, Fd)}.items():
            p[q + n + '.weight'] = torch.randn(o, i) * 0.15
            p[q + n + '.bias'] = torch.randn(o) * 0.05
        for n in ('self_attn_layer_norm', 'final_layer_norm'):
            p[q + n + '.weight'] = 1 + 0.1 * torch.randn(C)
            p[q + n + '.bias'] = 0.05 * torch.randn(C)
    return p


# ------------------------------------------------------------------ LLaMA (modeling_llama.py)
def rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(p, cfg, ids):
    B, T = ids.shape
    C, H, Hkv = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = C // H
    eps = cfg['rms_norm_eps']
    inv_freq = 1.0 / (cfg['rope_theta'] ** (torch.arange(0, hd, 2).float() / hd))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x = p['model.embed_tokens.weight'][ids]
    for l in range(cfg['num_hidden_layers']):
        q_ = f'model.layers.{l}.'
        h = rms(x, p[q_ + 'input_layernorm.weight'], eps)
        q = (h @ p[q_ + 'self_attn.q_proj.weight'].t()).view(B, T, H, hd).transpose(1, 2)
        k = (h @ p[q_ + 'self_attn.k_proj.weight'].t()).view(B, T, Hkv, hd).transpose(1, 2)
        v = (h @ p[q_ + 'self_attn.v_proj.weight'].t()).view(B, T, Hkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // Hkv, dim=1), v.repeat_interleave(H // Hkv, dim=1)
        a = ((q @ k.transpose(-1, -2)) / math.sqrt(hd)).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float('-inf'))
        y = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p[q_ + 'self_attn.o_proj.weight'].t()
        h = rms(x, p[q_ + 'post_attention_layernorm.weight'], eps)
        g = F.silu(h @ p[q_ + 'mlp.gate_proj.weight'].t()) * (h @ p[q_ + 'mlp.up_proj.weight'].t())
        x = x + g @ p[q_ + 'mlp.down_proj.weight'].t()
    x = rms(x, p['model.norm.weight'], eps)
    head = p['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else p['lm_head.weight']
    return x @ head.t()


def llama_params(cfg):
    C, V, I = cfg['hidden_size'], cfg['vocab_size'], cfg['intermediate_size']
    H, Hkv = cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = C // H
    p = {'model.embed_tokens.weight': torch.randn(V, C) * 0.1, 'model.norm.weight': 1 + 0.1 * torch.randn(C)}
    if not cfg['tie_word_embeddings']:
        p['lm_head.weight'] = torch.randn(V, C) * 0.1
    for l in range(cfg['num_hidden_layers']):
        q = f'model.layers.{l}.'
        for n, (o, i) in {'self_attn.q_proj': (H * hd, C), 'self_attn.k_proj': (Hkv * hd, C), 'self_attn.v_proj': (Hkv * hd, C),
                          'self_attn.o_proj': (C, H * hd), 'mlp.gate_proj': (I, C), 'mlp.up_proj': (I, C),
                          'mlp.down_proj': (C, I)}.items():
            p[q + n + '.weight'] = torch.randn(o, i) * 0.15
        p[q + 'input_layernorm.weight'] = 1 + 0.1 * torch.randn(C)
        p[q + 'post_attention_layernorm.weight'] = 1 + 0.1 * torch.randn(C)
    return p


def greedy(forward, p, cfg, prompt, n):
    ids = list(prompt)
    for _ in range(n):
        logits = forward(p, cfg, torch.tensor([ids]))[0, -1]
        top2 = torch.topk(logits, 2).values
        assert (top2[0] - top2[1]).item() > 1e-3, 'near tie in greedy decoding: pick another seed'
        ids.append(int(logits.argmax()))
    return ids[len(prompt):]


def make(name, forward, params_fn, cfg, dtype, shards=1, extra=None, rename=None, seed=0):
    torch.manual_seed(seed)
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    p = params_fn(cfg)
    p = {k: stored(v, dtype) for k, v in p.items()}  # compute with exactly what is stored
    on_disk = {(rename(k) if rename else k): v for k, v in p.items()}
    if extra:
        on_disk.update(extra(cfg))
    if shards == 1:
        write_safetensors(os.path.join(out, 'model.safetensors'), on_disk, dtype)
    else:
        names = sorted(on_disk)
        per = math.ceil(len(names) / shards)
        weight_map = {}
        for s in range(shards):
            fname = f'model-{s + 1:05d}-of-{shards:05d}.safetensors'
            part = {n: on_disk[n] for n in names[s * per:(s + 1) * per]}
            write_safetensors(os.path.join(out, fname), part, dtype)
            weight_map.update({n: fname for n in part})
        with open(os.path.join(out, 'model.safetensors.index.json'), 'w') as f:
            json.dump({'metadata': {'total_size': 0}, 'weight_map': weight_map}, f, indent=1)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=1)
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, cfg['vocab_size'], (2, 9), generator=g)
    prompt = torch.randint(0, cfg['vocab_size'], (5,), generator=g).tolist()
    with torch.no_grad():
        logits = forward(p, cfg, ids)
        tokens = greedy(forward, p, cfg, prompt, 8)
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        json.dump({'generator': 'test/golden/make_models.py', 'dtype': dtype, 'ids': ids.tolist(), 'logits': enc(logits),
                   'prompt': prompt, 'greedy': tokens}, f)
    print(name, dtype, 'ok')


gpt2_cfg = {'model_type': 'gpt2', 'architectures': ['GPT2LMHeadModel'], 'vocab_size': 61, 'n_positions': 32, 'n_embd': 24,
            'n_layer': 2, 'n_head': 3, 'n_inner': None, 'layer_norm_epsilon': 1e-5, 'activation_function': 'gelu_new',
            'bos_token_id': 60, 'eos_token_id': 60}
# Like the hub's gpt2: no "transformer." prefix, plus the causal-mask buffers.
make('gpt2', gpt2_forward, gpt2_params, gpt2_cfg, 'F32',
     extra=lambda c: {f'h.{l}.attn.bias': torch.ones(1, 1, 32, 32).tril() for l in range(c['n_layer'])})

opt_cfg = {'model_type': 'opt', 'architectures': ['OPTForCausalLM'], 'vocab_size': 57, 'hidden_size': 32,
           'num_hidden_layers': 2, 'ffn_dim': 48, 'num_attention_heads': 4, 'max_position_embeddings': 40,
           'do_layer_norm_before': True, 'word_embed_proj_dim': 32, 'activation_function': 'relu',
           'pad_token_id': 1, 'bos_token_id': 2, 'eos_token_id': 2, 'enable_bias': True}
make('opt', opt_forward, opt_params, opt_cfg, 'F16', seed=3)
# opt-350m's shape: post-LN blocks, project_in/out, no final layer norm.
make('opt_postln', opt_forward, opt_params, {**opt_cfg, 'do_layer_norm_before': False, 'word_embed_proj_dim': 16}, 'F32',
     seed=4)

llama_cfg = {'model_type': 'llama', 'architectures': ['LlamaForCausalLM'], 'vocab_size': 67, 'hidden_size': 32,
             'intermediate_size': 40, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 4,
             'max_position_embeddings': 64, 'rms_norm_eps': 1e-6, 'rope_theta': 10000.0, 'hidden_act': 'silu',
             'tie_word_embeddings': False, 'bos_token_id': 1, 'eos_token_id': 2}
make('llama', llama_forward, llama_params, llama_cfg, 'BF16', seed=5)
# grouped-query attention, tied head, rope_theta as LLaMA-3, sharded files
make('llama_gqa', llama_forward, llama_params, {**llama_cfg, 'num_key_value_heads': 2, 'tie_word_embeddings': True,
                                               'rope_theta': 500000.0}, 'F32', shards=3, seed=6)
