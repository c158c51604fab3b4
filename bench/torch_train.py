#!/usr/bin/python3
"""bench/torch_train.py - the training step of bench/bench_train.c in PyTorch,
for the side-by-side table of docs/benchmarks.md ("Training step").

Same model and step as ours: SASRec at the paper's preset (D 128, L 20,
2 pre-LN blocks, 8 heads, FFN 128, GELU, dropout 0.2 after the embedding
sum, after the attention output projection and after the FFN, final
LayerNorm, authors' head GELU(W h + b), tied item table), B = 256, sampled
softmax over 1000 negatives shared by the batch and drawn uniformly each
step (hits removed, no log-Q), the skip-contrastive term of SPEC.md
section 4 written out (item-embedding context, tau 0.1, lambda 1), then
clip_grad_norm_(1.0) and torch.optim.AdamW (lr 0.005, weight decay 0.01 on
the weight matrices only, like core/sr_optim.h). The item table is an
nn.Embedding with dense gradients, as in the authors' code, so AdamW walks
the whole [I, D] table every step.

Synthetic batches as in bench_train.c (lengths 10..20, log-uniform ids,
49% skips; drawn with numpy, so the ids differ but not their law).
Method: warmup steps, then the median of reps timed steps; JSON lines
  {"impl":"torch","I":..,"threads":..,"skip":0|1,"median_ms":..,"seq_per_s":..,...}
and per thread count {"impl":"torch","I":..,"threads":..,"skip_share":..}.

usage: /usr/bin/python3 bench/torch_train.py I [warmup [reps]]
(Debian's python3-torch; the pyenv python3 does not see apt packages.)
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

B, L, D, H, FF, NL, P_DROP, N_NEG = 256, 20, 128, 8, 128, 2, 0.2, 1000
TAU, LAMBDA = 0.1, 1.0


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.att = nn.MultiheadAttention(D, H, dropout=0.0, batch_first=True)
        self.ln2 = nn.LayerNorm(D)
        self.w1 = nn.Linear(D, FF)
        self.w2 = nn.Linear(FF, D)
        self.drop = nn.Dropout(P_DROP)

    def forward(self, x, causal, pad):
        a = self.ln1(x)
        o, _ = self.att(a, a, a, attn_mask=causal, key_padding_mask=pad, need_weights=False)
        x = x + self.drop(o)
        return x + self.drop(self.w2(F.gelu(self.w1(self.ln2(x)))))


class SASRec(nn.Module):
    def __init__(self, n_items):
        super().__init__()
        self.item = nn.Embedding(n_items, D)  # dense gradients
        self.pos = nn.Embedding(L, D)
        self.blocks = nn.ModuleList([Block() for _ in range(NL)])
        self.lnf = nn.LayerNorm(D)
        self.head = nn.Linear(D, D)
        self.drop = nn.Dropout(P_DROP)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
        self.register_buffer("causal", torch.triu(torch.ones(L, L, dtype=torch.bool), 1))

    def forward(self, tracks, valid):
        vf = valid.unsqueeze(-1).float()
        x = (self.item(tracks) + self.pos.weight.unsqueeze(0)) * vf  # padded rows are 0
        x = self.drop(x)
        for blk in self.blocks:
            x = blk(x, self.causal, ~valid)
        return F.gelu(self.head(self.lnf(x)))


def skip_term(E, tracks, skipped, valid):
    """SPEC.md section 4, item-embedding context: mean over anchors with at
    least one negative of -log softmax over {positive} + same-session skips."""
    listened = valid & ~skipped
    neg = valid & skipped                                    # [B, L]
    idx = torch.arange(L).expand(B, L)
    # p(t): first u > t with listened[u]; L when there is none
    nxt = torch.full((B, L), L, dtype=torch.long)
    cur = torch.full((B,), L, dtype=torch.long)
    for t in range(L - 1, -1, -1):
        nxt[:, t] = cur
        cur = torch.where(listened[:, t], idx[:, t], cur)
    anchor = listened & (nxt < L) & neg.any(dim=1, keepdim=True)
    e = F.normalize(E(tracks), dim=-1)                       # [B, L, D]
    s = torch.bmm(e, e.transpose(1, 2)) / TAU                # [B, L(t), L(u)]
    is_pos = F.one_hot(nxt.clamp(max=L - 1), L).bool() & (nxt < L).unsqueeze(-1)
    allowed = is_pos | neg.unsqueeze(1)
    lse = torch.logsumexp(s.masked_fill(~allowed, -1e9), dim=-1)
    s_pos = torch.gather(s, 2, nxt.clamp(max=L - 1).unsqueeze(-1)).squeeze(-1)
    l = (lse - s_pos)[anchor]
    return l.mean() if l.numel() else s.sum() * 0.0


def make_batches(n_items, rng, k=8):
    out = []
    for _ in range(k):
        lens = rng.integers(10, 21, size=B)
        valid = np.arange(L)[None, :] < lens[:, None]
        ids = np.floor(np.exp(rng.random((B, L)) * math.log(n_items + 1))).astype(np.int64) - 1
        ids = np.clip(ids, 0, n_items - 1) * valid
        skipped = (rng.random((B, L)) < 0.49) & valid
        out.append((torch.from_numpy(ids), torch.from_numpy(skipped), torch.from_numpy(valid)))
    return out


def step(model, opt, batch, n_items, lam):
    tracks, skipped, valid = batch
    opt.zero_grad(set_to_none=True)
    z = model(tracks, valid)                                  # [B, L, D]
    tgt_ok = valid[:, 1:]
    zt = z[:, :-1][tgt_ok]                                    # [n, D] rows with a next play
    tgt = tracks[:, 1:][tgt_ok]                               # [n]
    negs = torch.randint(0, n_items, (N_NEG,))
    E = model.item.weight
    pos = (zt * E[tgt]).sum(-1, keepdim=True)                 # [n, 1]
    neg = zt @ E[negs].t()                                    # [n, N]
    neg = neg.masked_fill(negs.unsqueeze(0) == tgt.unsqueeze(1), float("-inf"))
    logits = torch.cat([pos, neg], dim=1)
    loss = F.cross_entropy(logits, torch.zeros(len(tgt), dtype=torch.long))
    if lam > 0:
        loss = loss + lam * skip_term(model.item, tracks, skipped, valid)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: torch_train.py I [warmup [reps]]")
    n_items = int(sys.argv[1])
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    torch.manual_seed(1)
    batches = make_batches(n_items, np.random.default_rng(2024))
    med = {}
    for skip in (0, 1):
        model = SASRec(n_items)
        decay = [p for n, p in model.named_parameters()
                 if p.dim() > 1 and not n.startswith(("item", "pos"))]
        other = [p for n, p in model.named_parameters()
                 if not (p.dim() > 1 and not n.startswith(("item", "pos")))]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                 {"params": other, "weight_decay": 0.0}], lr=0.005)
        model.train()
        k = 0
        for threads in (1, 2):
            torch.set_num_threads(threads)
            load1 = os.getloadavg()[0]
            ts, losses = [], []
            for i in range(warmup + reps):
                t0 = time.perf_counter()
                loss = step(model, opt, batches[k % len(batches)], n_items, LAMBDA if skip else 0.0)
                dt = (time.perf_counter() - t0) * 1e3
                k += 1
                if i >= warmup:
                    ts.append(dt)
                    losses.append(loss)
            m = float(np.median(ts))
            med[(skip, threads)] = m
            print(json.dumps({"impl": "torch", "I": n_items, "threads": threads, "skip": skip,
                              "median_ms": round(m, 2), "seq_per_s": round(B * 1e3 / m, 1),
                              "mean_loss": round(float(np.mean(losses)), 4),
                              "load1": round(load1, 2),
                              "torch": torch.__version__}), flush=True)
        del model, opt
    for threads in (1, 2):
        w, wo = med[(1, threads)], med[(0, threads)]
        print(json.dumps({"impl": "torch", "I": n_items, "threads": threads,
                          "skip_share": round((w - wo) / w, 3)}), flush=True)


if __name__ == "__main__":
    main()
