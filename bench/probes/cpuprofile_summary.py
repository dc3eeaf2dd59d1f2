# Self time per function of a V8 CPU profile (node --cpu-prof), in percent of the samples.
# Native kernels count under the JavaScript function that calls them (gemm, attentionCore, ...).
#   python3 bench/probes/cpuprofile_summary.py PROFILE.cpuprofile
import json,sys,collections
p=json.load(open(sys.argv[1]))
nodes={n['id']:n for n in p['nodes']}
parent={}
for n in p['nodes']:
  for c in n.get('children',[]): parent[c]=n['id']
dt=collections.Counter()
for s,d in zip(p['samples'],p['timeDeltas']): dt[s]+=d
tot=sum(dt.values())
self=collections.Counter()
for nid,t in dt.items():
  cf=nodes[nid]['callFrame']; name=cf['functionName'] or '(anon)'; url=cf['url'].split('/')[-1]
  self[f"{name} [{url}:{cf['lineNumber']}]"]+=t
for k,v in self.most_common(40): print(f"{100*v/tot:5.1f}% {k}")
