# Probe: PyTorch's bf16 GEMM 1024^3 on operands held as bf16, on float32 operands cast per
# product, and under autocast (2 threads). Evidence for docs/evidence/bf16-sgemm-gap.md.
#   /usr/bin/python3 bench/probes/torch_bf16_cast.py
import torch,time,os
torch.set_num_threads(2)
a,b=torch.rand(1024,1024),torch.rand(1024,1024)
ab,bb=a.bfloat16(),b.bfloat16()
def med(f):
  for _ in range(5): f()
  res=[]
  for r in range(5):
    t=time.perf_counter();d=0
    while d<10 or time.perf_counter()-t<0.3: f(); d+=1
    res.append(2*1024**3/((time.perf_counter()-t)/d)/1e9)
  res.sort(); return int(res[2])
print('torch bf16 inputs', med(lambda: ab@bb), 'fp32 inputs cast each call', med(lambda: a.bfloat16()@b.bfloat16()))
with torch.autocast('cpu',dtype=torch.bfloat16):
  print('autocast a@b (fp32 inputs)', med(lambda: a@b))
