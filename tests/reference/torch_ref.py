#!/usr/bin/python3
"""torch_ref.py - an independent PyTorch (float64) reference of seqrec's
SASRec / BERT4Rec forward + backward (core/sr_model.h, docs/model.md).

It builds each model of CASES from weights drawn here from a fixed seed,
runs one batch with dropout 0 (cloze mask and negatives written into the
file, so both sides mask and sample the same), and writes a golden file
tests/reference/<case>.bin holding the configuration, the batch, every
weight, the loss parts, the final hidden states, the scores of one session
and every gradient. tests/unit/test_model_reference.c loads the weights into
sr_model, runs it and compares (no torch needed there).

Regenerate (a test-generation dependency only, not needed by `make test`):
    apt-get install -y python3-torch
    /usr/bin/python3 tests/reference/torch_ref.py        # from the repo root
Everything is float64 here; the weights and the batch are rounded to float32
first, so C and PyTorch start from identical values.

The losses are written out from their definitions (SPEC.md section 4,
docs/losses.md, docs/skip-term.md), not from the C code.

File format (little-endian):
    magic    8 bytes  b"SRMODREF"
    version  u32      1
    n_ints   u32      20, then int32[20]: kind I D layers heads F L B head tied
                      feedback loss negatives log_q target context chunk
                      has_cloze has_neg has_neg_q
    n_flts   u32      4, then float32[4]: lambda tau mask_prob dropout
    n_recs   u32      then n_recs records:
        name_len u16, name bytes (ASCII), dtype u8 (1 f32, 2 i32, 3 u8, 4 f64),
        count u32, count values
Records: tracks i32[B*L], skipped u8[B*L], valid u8[B*L], cloze u8[B*L]
(BERT4Rec), neg_items i32[N] (sampled) or [B*L*N] (BCE), neg_q f32[N]
(sampled with log-Q), param/<name> f32, grad/<name> f32 (names and order of
sr_model_tensor), loss f64[5] (total rec nf n_targets n_anchors),
hidden f32[B*L*D] (final LayerNorm output; compare valid rows only),
score_session i32[n] + score_skipped u8[n] + scores f32[I]
(sr_model_score of that session).
"""
import os
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)

KIND = {"sasrec": 0, "bert4rec": 1}
HEAD = {"plain": 0, "authors": 1}
LOSS = {"full_ce": 0, "sampled": 1, "bce": 2}
TARGET = {"next_play": 0, "next_listened": 1}
CONTEXT = {"item": 0, "hidden": 1}
EPS_LN = 1e-5
EPS_NORM = 1e-8   # SR_SKIPCL_NORM_EPS

I, D, H, F, L, B, NL = 13, 8, 2, 12, 5, 3, 2
# the batch of tests/unit/test_model.c (garbage at padding is never read)
TRACKS = [3, 7, 1, 7, 12, 5, 2, 9, 99, -5, -7, 4, 0, 11, 6]
SKIPPED = [0, 1, 0, 0, 1, 1, 0, 0, 255, 255, 255, 0, 1, 0, 0]
VALID = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1]
CLOZE = [0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
SESSION = [3, 7, 1, 7, 12, 2]
SESSION_SKIPPED = [0, 1, 0, 0, 1, 0]

CASES = [
    dict(name="sasrec_full_ce_plain", kind="sasrec", head="plain", tied=True, feedback=False,
         loss="full_ce", target="next_play", lam=0.0, context="item"),
    dict(name="sasrec_full_ce_authors_skip_item", kind="sasrec", head="authors", tied=True,
         feedback=False, loss="full_ce", target="next_play", lam=0.7, context="item"),
    dict(name="sasrec_full_ce_skip_hidden_fb_untied_listened", kind="sasrec", head="authors",
         tied=False, feedback=True, loss="full_ce", target="next_listened", lam=0.5,
         context="hidden"),
    dict(name="sasrec_sampled_logq_skip", kind="sasrec", head="authors", tied=True,
         feedback=False, loss="sampled", N=4, log_q=True, target="next_play", lam=1.0,
         context="item"),
    dict(name="sasrec_bce_plain", kind="sasrec", head="plain", tied=True, feedback=False,
         loss="bce", N=2, target="next_play", lam=0.0, context="item"),
    dict(name="bert4rec_full_ce_authors_skip_item", kind="bert4rec", head="authors", tied=True,
         feedback=False, loss="full_ce", target="next_play", lam=1.0, context="item"),
    dict(name="bert4rec_sampled_plain_fb_untied", kind="bert4rec", head="plain", tied=False,
         feedback=True, loss="sampled", N=4, log_q=False, target="next_play", lam=0.0,
         context="item"),
    dict(name="bert4rec_bce_skip", kind="bert4rec", head="authors", tied=True, feedback=False,
         loss="bce", N=2, target="next_play", lam=0.3, context="item"),
]


def f32(t):
    """Round to float32 and back: the exact values the C side will hold."""
    return t.float().double()


def tensor_list(c):
    """(name, shape) in sr_model_tensor order."""
    ir = I + (1 if c["kind"] == "bert4rec" else 0)
    out = [("item", (ir, D)), ("pos", (L, D))]
    if c["feedback"]:
        out.append(("fb", (2, D)))
    for l in range(NL):
        p = "layer%d." % l
        out += [(p + "ln1_g", (1, D)), (p + "ln1_b", (1, D)),
                (p + "wq", (D, D)), (p + "bq", (1, D)), (p + "wk", (D, D)), (p + "bk", (1, D)),
                (p + "wv", (D, D)), (p + "bv", (1, D)), (p + "wo", (D, D)), (p + "bo", (1, D)),
                (p + "ln2_g", (1, D)), (p + "ln2_b", (1, D)),
                (p + "w1", (F, D)), (p + "b1", (1, F)), (p + "w2", (D, F)), (p + "b2", (1, D))]
    out += [("lnf_g", (1, D)), ("lnf_b", (1, D))]
    if c["head"] == "authors":
        out += [("head_w", (D, D)), ("head_b", (1, D))]
    if not c["tied"]:
        out.append(("out", (I, D)))
    return out


def init_params(c, gen):
    ps = {}
    for name, shape in tensor_list(c):
        base = name.split(".")[-1]
        if base.endswith("_g"):          # LayerNorm gains near 1
            v = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif shape[0] == 1:              # biases and betas: small, nonzero
            v = 0.1 * torch.randn(shape, generator=gen)
        else:                            # tables and weights
            v = 0.3 * torch.randn(shape, generator=gen)
        ps[name] = f32(v).reshape(shape[1]) if shape[0] == 1 else f32(v)
        ps[name].requires_grad_(True)
    return ps


def layer_norm(x, g, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS_LN) * g + b


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / 2.0 ** 0.5))


def encode(c, ps, tracks, skipped, valid, cloze):
    """Final hidden states [B', L, D] of the encoder (dropout 0)."""
    bsz = tracks.shape[0]
    bert = c["kind"] == "bert4rec"
    idx = torch.where(valid, tracks, torch.full_like(tracks, -1))
    idx = torch.where(cloze, torch.full_like(tracks, I), idx)
    x = ps["item"][idx.clamp(min=0)] * (idx >= 0).unsqueeze(-1)
    x = x + ps["pos"].unsqueeze(0) * valid.unsqueeze(-1)
    if c["feedback"]:
        use = valid & ~cloze
        x = x + ps["fb"][skipped.long().clamp(0, 1)] * use.unsqueeze(-1)
    dh = D // H
    allowed = valid.view(bsz, 1, 1, L).expand(bsz, 1, L, L)
    if not bert:
        causal = torch.tril(torch.ones(L, L, dtype=torch.bool))
        allowed = allowed & causal
    empty = ~allowed.any(-1, keepdim=True)
    for l in range(NL):
        p = "layer%d." % l
        a = layer_norm(x, ps[p + "ln1_g"], ps[p + "ln1_b"])
        q = (a @ ps[p + "wq"].T + ps[p + "bq"]).view(bsz, L, H, dh).transpose(1, 2)
        k = (a @ ps[p + "wk"].T + ps[p + "bk"]).view(bsz, L, H, dh).transpose(1, 2)
        v = (a @ ps[p + "wv"].T + ps[p + "bv"]).view(bsz, L, H, dh).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / dh ** 0.5
        # a query with no allowed key attends to nothing (out = 0), as in C
        s = torch.where(empty, torch.zeros_like(s), s.masked_fill(~allowed, float("-inf")))
        att = torch.softmax(s, -1) * allowed
        o = (att @ v).transpose(1, 2).reshape(bsz, L, D)
        x1 = x + o @ ps[p + "wo"].T + ps[p + "bo"]
        b2 = layer_norm(x1, ps[p + "ln2_g"], ps[p + "ln2_b"])
        f = gelu(b2 @ ps[p + "w1"].T + ps[p + "b1"]) @ ps[p + "w2"].T + ps[p + "b2"]
        x = x1 + f
    return layer_norm(x, ps["lnf_g"], ps["lnf_b"])


def head(c, ps, h):
    if c["head"] == "plain":
        return h
    return gelu(h @ ps["head_w"].T + ps["head_b"])


def targets_of(c, tracks, skipped, valid, cloze):
    t = torch.full((B, L), -1, dtype=torch.long)
    for b in range(B):
        for l in range(L):
            if c["kind"] == "bert4rec":
                if cloze[b, l]:
                    t[b, l] = tracks[b, l]
                continue
            if not valid[b, l]:
                continue
            if c["target"] == "next_play":
                if l + 1 < L and valid[b, l + 1]:
                    t[b, l] = tracks[b, l + 1]
            else:
                for u in range(l + 1, L):
                    if valid[b, u] and skipped[b, u] == 0:
                        t[b, l] = tracks[b, u]
                        break
    return t


def skip_term(ctx, keys, skipped, valid, tau):
    """SPEC.md section 4, written out per session."""
    total, n = 0.0, 0
    for b in range(B):
        listened = [u for u in range(L) if valid[b, u] and skipped[b, u] == 0]
        negs = [u for u in range(L) if valid[b, u] and skipped[b, u] != 0]
        if not negs:
            continue
        for i, t in enumerate(listened[:-1]):
            p = listened[i + 1]
            cvec = ctx[b, t]
            def sim(u):
                kv = keys[b, u]
                na = torch.sqrt(cvec @ cvec + EPS_NORM ** 2)
                nk = torch.sqrt(kv @ kv + EPS_NORM ** 2)
                return (cvec @ kv) / (na * nk) / tau
            logits = torch.stack([sim(p)] + [sim(u) for u in negs])
            total = total + (torch.logsumexp(logits, 0) - logits[0])
            n += 1
    return (total / n if n else torch.tensor(0.0)), n


def rec_loss(c, ps, z, targets, neg_items, neg_q):
    eout = ps["item"][:I] if c["tied"] else ps["out"]
    zf = z.reshape(B * L, D)
    tg = targets.reshape(-1)
    rows = (tg >= 0).nonzero().flatten()
    zr, tr = zf[rows], tg[rows]
    if c["loss"] == "full_ce":
        logits = zr @ eout.T
        losses = torch.logsumexp(logits, -1) - logits[torch.arange(len(rows)), tr]
    elif c["loss"] == "sampled":
        pos = (zr * eout[tr]).sum(-1)
        neg = zr @ eout[neg_items].T
        if c["log_q"]:
            pos = pos - torch.log(torch.tensor(1.0 / I).float().double())  # q_pos: uniform sampler
            neg = neg - torch.log(neg_q)
        hit = neg_items.unsqueeze(0) == tr.unsqueeze(1)
        neg = neg.masked_fill(hit, float("-inf"))
        allz = torch.cat([pos.unsqueeze(1), neg], 1)
        losses = torch.logsumexp(allz, -1) - pos
    else:
        nrow = neg_items.view(B * L, -1)[rows]
        pos = (zr * eout[tr]).sum(-1)
        neg = (zr.unsqueeze(1) * eout[nrow]).sum(-1)
        keep = (nrow != tr.unsqueeze(1)).double()
        losses = torch.nn.functional.softplus(-pos) + \
            (torch.nn.functional.softplus(neg) * keep).sum(-1)
    return losses.mean(), len(rows)


class Writer:
    def __init__(self):
        self.recs = []

    def add(self, name, dtype, values):
        self.recs.append((name, dtype, list(values)))

    def bytes(self, ints, flts):
        out = bytearray(b"SRMODREF")
        out += struct.pack("<I", 1)
        out += struct.pack("<I", len(ints)) + struct.pack("<%di" % len(ints), *ints)
        out += struct.pack("<I", len(flts)) + struct.pack("<%df" % len(flts), *flts)
        out += struct.pack("<I", len(self.recs))
        fmt = {1: "f", 2: "i", 3: "B", 4: "d"}
        for name, dt, vals in self.recs:
            nb = name.encode("ascii")
            out += struct.pack("<H", len(nb)) + nb + struct.pack("<BI", dt, len(vals))
            out += struct.pack("<%d%s" % (len(vals), fmt[dt]), *vals)
        return bytes(out)


def run_case(c, seed):
    gen = torch.Generator().manual_seed(seed)
    bert = c["kind"] == "bert4rec"
    ps = init_params(c, gen)
    tracks = torch.tensor(TRACKS, dtype=torch.long).view(B, L)
    skipped = torch.tensor(SKIPPED, dtype=torch.long).view(B, L)
    valid = torch.tensor(VALID, dtype=torch.bool).view(B, L)
    cloze = torch.tensor(CLOZE, dtype=torch.bool).view(B, L) if bert else \
        torch.zeros(B, L, dtype=torch.bool)
    N = c.get("N", 0)
    neg_items = neg_q = None
    if c["loss"] == "sampled":
        neg_items = torch.randint(0, I, (N,), generator=gen)
        neg_items[0] = 7   # a target of several rows: exercises hit removal
        neg_q = f32(0.02 + 0.2 * torch.rand(N, generator=gen))
    elif c["loss"] == "bce":
        neg_items = torch.randint(0, I, (B * L * N,), generator=gen)
        neg_items[0] = 7   # row 0's own target: left out
    targets = targets_of(c, tracks, skipped, valid, cloze)

    h = encode(c, ps, tracks, skipped, valid, cloze)
    z = head(c, ps, h)
    rec, n_targets = rec_loss(c, ps, z, targets, neg_items, neg_q)
    nf, n_anchors = torch.tensor(0.0), 0
    if c["lam"] > 0:
        keys_idx = torch.where(valid, tracks, torch.zeros_like(tracks))
        keys = ps["item"][keys_idx] * valid.unsqueeze(-1)
        ctx = h if c["context"] == "hidden" else keys
        nf, n_anchors = skip_term(ctx, keys, skipped, valid, torch.tensor(0.1).float().double())
    total = rec + c["lam"] * nf
    total.backward()

    # scores of one session (no grad): SASRec last L plays, BERT4Rec last L-1 + [MASK]
    with torch.no_grad():
        keep = L - 1 if bert else L
        sess = SESSION[-keep:]
        sk = SESSION_SKIPPED[-keep:]
        n = len(sess)
        st = torch.full((1, L), 0, dtype=torch.long)
        ss = torch.zeros(1, L, dtype=torch.long)
        sv = torch.zeros(1, L, dtype=torch.bool)
        sc = torch.zeros(1, L, dtype=torch.bool)
        st[0, :n] = torch.tensor(sess)
        ss[0, :n] = torch.tensor(sk)
        sv[0, :n] = True
        at = n - 1
        if bert:
            sv[0, n] = True
            sc[0, n] = True
            at = n
        hs = encode(c, ps, st, ss, sv, sc)
        zs = head(c, ps, hs[0, at])
        eout = ps["item"][:I] if c["tied"] else ps["out"]
        scores = eout @ zs

    w = Writer()
    w.add("tracks", 2, TRACKS)
    w.add("skipped", 3, SKIPPED)
    w.add("valid", 3, VALID)
    if bert:
        w.add("cloze", 3, CLOZE)
    if neg_items is not None:
        w.add("neg_items", 2, neg_items.tolist())
    if neg_q is not None and c.get("log_q"):
        w.add("neg_q", 1, neg_q.tolist())
    for name, _ in tensor_list(c):
        w.add("param/" + name, 1, ps[name].detach().reshape(-1).tolist())
    for name, _ in tensor_list(c):
        g = ps[name].grad
        g = torch.zeros_like(ps[name]) if g is None else g
        w.add("grad/" + name, 1, g.reshape(-1).tolist())
    w.add("loss", 4, [total.item(), rec.item(), float(nf), float(n_targets), float(n_anchors)])
    w.add("hidden", 1, h.detach().reshape(-1).tolist())
    w.add("score_session", 2, SESSION)
    w.add("score_skipped", 3, SESSION_SKIPPED)
    w.add("scores", 1, scores.reshape(-1).tolist())
    ints = [KIND[c["kind"]], I, D, NL, H, F, L, B, HEAD[c["head"]], int(c["tied"]),
            int(c["feedback"]), LOSS[c["loss"]], N, int(c.get("log_q", False)),
            TARGET[c["target"]], CONTEXT[c["context"]], 5, int(bert),
            int(neg_items is not None), int(neg_q is not None and c.get("log_q", False))]
    flts = [c["lam"], 0.1, 0.2, 0.0]
    return w.bytes(ints, flts), total.item()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for k, c in enumerate(CASES):
        data, total = run_case(c, 1000 + k)
        path = os.path.join(here, c["name"] + ".bin")
        with open(path + ".tmp", "wb") as fp:
            fp.write(data)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(path + ".tmp", path)
        print("%-48s %6d bytes  loss %.6f" % (c["name"] + ".bin", len(data), total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
