"""Python-side long-context check of a trained checkpoint: NIAH (RULER niah_single_1), vt, MRCR 2-needle, MC.

Teacher-forced greedy check: one forward pass over prompt + gold target; a sample counts as an exact match
when the argmax at every target position equals the gold token, which is exactly when greedy decoding would
emit the gold answer followed by <|im_end|>. For NIAH/vt this is a lower bound on RULER's string_match_all;
for MRCR we also report the nonce-prefix rate and per-token accuracy (a proxy for SequenceMatcher ratio).
The harness's own evaluation (ctxbench run) is the authoritative one; this is the training-side sanity curve.
  python3 eval_longctx.py --model hybrid --ckpt DIR --out FILE.json [--lengths 1024,2048,4096,8192]
"""
import argparse
import json
import os
import random

import torch
from tokenizers import Tokenizer
from transformers import KimiLinearForCausalLM

import kda_fast
from data_stream import SampleEncoder
from model_config import CONFIGS
from synth_tasks import TaskVocabulary

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# Text + word lists (extract_text.py); on the GPU machine a carried copy (device_run.sh's TRAIN_DATA).
DATA_DIR = os.environ.get('TRAIN_DATA', os.path.join(ROOT, '.train-data'))
# Tokens the reference keeps for generation when sizing a sample to a target length (RULER's budgets).
GEN_BUDGET = {'niah_single_1': 128, 'vt': 30, 'mrcr': 0}


def sized_samples(enc, kind, length, n, seed, **kwargs):
    rng = random.Random(seed)
    samples = []
    size = enc.size_for(kind, length)
    while len(samples) < n:
        for _ in range(40):
            p, t = enc.encode(enc.generate(kind, rng, size, **kwargs))
            total = len(p) + (len(t) if kind == 'mrcr' else GEN_BUDGET[kind])
            if total <= length:
                break
            size = max(1, int(size * 0.97) - 1)
        samples.append((p, t))
    return samples


@torch.no_grad()
def teacher_forced(model, samples, device, pad_id, max_batch_tokens=65536):
    results = []
    order = sorted(range(len(samples)), key=lambda i: len(samples[i][0]) + len(samples[i][1]))
    i = 0
    while i < len(order):
        batch = [order[i]]
        while i + len(batch) < len(order):
            cand = order[i + len(batch)]
            width = len(samples[cand][0]) + len(samples[cand][1])
            if width * (len(batch) + 1) > max_batch_tokens:
                break
            batch.append(cand)
        width = max(len(samples[j][0]) + len(samples[j][1]) for j in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        for row, j in enumerate(batch):
            seq = samples[j][0] + samples[j][1]
            ids[row, :len(seq)] = torch.tensor(seq)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == 'cuda'):
            logits = model(input_ids=ids.to(device), use_cache=False).logits
        pred = logits.argmax(-1).cpu()
        for row, j in enumerate(batch):
            p, t = samples[j]
            guess = pred[row, len(p) - 1:len(p) + len(t) - 1].tolist()
            hits = [a == b for a, b in zip(guess, t)]
            results.append((j, {'exact': all(hits), 'token_acc': sum(hits) / len(hits), 'first_k': hits}))
        i += len(batch)
    return [r for _, r in sorted(results, key=lambda x: x[0])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', choices=list(CONFIGS), required=True)
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--lengths', default='1024,2048,4096,8192')
    ap.add_argument('--n', type=int, default=40)
    ap.add_argument('--max-batch-tokens', type=int, default=65536)
    args = ap.parse_args()
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.model == 'hybrid':
        kda_fast.install()
    model = KimiLinearForCausalLM(CONFIGS[args.model]())
    blob = torch.load(os.path.join(args.ckpt, f'{args.model}_weights.pt'), map_location='cpu')
    model.load_state_dict(blob['weights'])
    model = model.to(torch.bfloat16)  # evaluate the weights as shipped (bf16)
    if device == 'cpu':  # CPU bf16 kernels are very slow: compute in fp32 on the bf16-rounded weights
        model = model.float()
    model = model.to(device).eval()
    tok_path = os.path.join(ROOT, 'models', 'ctxbench-hybrid', 'tokenizer.json')
    enc = SampleEncoder(Tokenizer.from_file(tok_path), TaskVocabulary(DATA_DIR))
    pad_id = enc.tok.token_to_id('<|pad|>')
    report = {'model': args.model, 'step': blob['state']['step'], 'tokens': blob['state']['tokens'], 'rows': []}
    for length in [int(x) for x in args.lengths.split(',')]:
        for kind, kwargs in (('niah_single_1', {}), ('vt', {}), ('mrcr', {'n_needles': 2})):
            samples = sized_samples(enc, kind, length, args.n, seed=length * 7 + len(kind), **kwargs)
            res = teacher_forced(model, samples, device, pad_id, args.max_batch_tokens)
            row = {'task': kind, 'length': length, 'n': len(res),
                   'mean_prompt_tokens': round(sum(len(p) for p, _ in samples) / len(samples)),
                   'exact': round(sum(r['exact'] for r in res) / len(res), 3),
                   'token_acc': round(sum(r['token_acc'] for r in res) / len(res), 3)}
            if kind == 'mrcr':  # nonce is the first few target tokens; count samples whose nonce is all right
                nonce_lens = [len(enc.tok.encode(enc.tok.decode(t)[:10], add_special_tokens=False).ids)
                              for _, t in samples]
                row['nonce_ok'] = round(sum(all(r['first_k'][:k]) for r, k in zip(res, nonce_lens)) / len(res), 3)
            report['rows'].append(row)
            print(json.dumps(row), flush=True)
            write_report(args.out, report)  # a time limit that cuts the run short still leaves the rows so far
    mc = sized_samples_mc(enc, args.n)
    res = teacher_forced(model, mc, device, pad_id)
    row = {'task': 'mc', 'length': None, 'n': len(res), 'exact': round(sum(r['exact'] for r in res) / len(res), 3)}
    report['rows'].append(row)
    print(json.dumps(row), flush=True)
    write_report(args.out, report)


def write_report(path, report):
    with open(path, 'w') as f:
        json.dump(report, f, indent=2)


def sized_samples_mc(enc, n):
    rng = random.Random(99)
    return [enc.encode(enc.generate('mc', rng, rng.randint(0, 5))) for _ in range(n)]


if __name__ == '__main__':
    main()
