"""Trains one bundled model (hybrid or mla) for a wall-clock budget, resumable across GPU-machine commands.

Same data, optimiser and schedule for both; only the token mixer differs (model_config.py). The learning rate
follows cumulative *training time* (warmup, constant, then linear decay over the last 35% of --total-minutes),
so both models get the same schedule shape whatever their speed. The hybrid trains through kda_fast (verified
equal to transformers' KDA by verify_kda.py). MoE routing is balanced without an auxiliary loss, by nudging
e_score_correction_bias against each expert's load (the DeepSeek-V3 recipe Kimi's router inherits).

Equal steps, data and learning rates for both models: the hybrid (slower) leads and publishes each step's
learning rate; the all-MLA twin follows, replaying the same step count and rates on the same data stream
(same seed, same worker count, same resume step).

Checkpoint (<16 MiB per file): <ckpt>/<model>_weights.pt (fp32; bf16 with --weights-only) and
<ckpt>/<model>_adam.pt (bf16 moments).
  python3 train.py --model hybrid --ckpt-in DIR --ckpt-out DIR --minutes 3 --total-minutes 10 --log FILE
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F
from transformers import KimiLinearForCausalLM

import kda_fast
from data_stream import MIXES, make_loader
from model_config import CONFIGS

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# Text + word lists (extract_text.py); on the GPU machine a carried copy (device_run.sh's TRAIN_DATA).
DATA_DIR = os.environ.get('TRAIN_DATA', os.path.join(ROOT, '.train-data'))


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument('--model', choices=list(CONFIGS), required=True)
    p.add_argument('--ckpt-in', default=None)
    p.add_argument('--init-from', default=None,
                   help='warm start: weights from DIR/<model>_weights.pt (bf16 ok), fresh optimizer and schedule')
    p.add_argument('--mix', default='balanced', choices=list(MIXES), help='sample mix, a key of data_stream.MIXES')
    p.add_argument('--curriculum-rows', type=int, default=0, help='rows over which the longest sample grows to seq-len')
    p.add_argument('--ckpt-out', required=True)
    p.add_argument('--minutes', type=float, required=True, help='training time for this command')
    p.add_argument('--total-minutes', type=float, required=True, help='planned training time over all commands')
    p.add_argument('--seq-len', type=int, default=4096)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--workers', type=int, default=6)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--log', default=None)
    p.add_argument('--max-steps', type=int, default=None)
    p.add_argument('--weights-only', action='store_true', help='final save: no optimizer moments')
    p.add_argument('--publish', default=None, help='leader: append "step lr" per step here, "done step" at end')
    p.add_argument('--follow', default=None, help='follower: replay the leader\'s steps and learning rates')
    return p.parse_args()


def lr_at(fraction: float, peak: float) -> float:
    if fraction < 0.03:
        return peak * max(fraction / 0.03, 0.02)
    if fraction < 0.65:
        return peak
    return peak * max(0.05, (1.0 - fraction) / 0.35)


class RouterBalancer:
    """Aux-loss-free load balancing: bias += rate · sign(mean load − expert load) after every step."""

    def __init__(self, model, rate=1e-3):
        self.rate, self.counts, self.gates = rate, {}, []
        for name, module in model.named_modules():
            if name.endswith('mlp.gate') and hasattr(module, 'e_score_correction_bias'):
                self.gates.append((name, module))
                module.register_forward_hook(self._hook(name, module))

    def _hook(self, name, module):
        def hook(_mod, _inp, out):
            idx = out[2]
            self.counts[name] = torch.bincount(idx.reshape(-1), minlength=module.num_experts).float()
        return hook

    @torch.no_grad()
    def step(self):
        loads = {}
        for name, module in self.gates:
            c = self.counts.get(name)
            if c is None:
                continue
            module.e_score_correction_bias += self.rate * torch.sign(c.mean() - c)
            loads[name] = (c / c.sum()).tolist()
        self.counts.clear()
        return loads


class Leader:
    """Reads the leader's published "step lr" lines; waits while the follower is ahead."""

    def __init__(self, path):
        self.path, self.lrs, self.done = path, {}, None

    def _refresh(self):
        if not os.path.exists(self.path):
            return
        with open(self.path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 2:
                    continue
                if parts[0] == 'done':
                    self.done = int(parts[1])
                else:
                    self.lrs[int(parts[0])] = float(parts[1])

    def lr_for(self, step, deadline):
        while True:
            if step in self.lrs:
                return self.lrs[step]
            if (self.done is not None and step > self.done) or time.time() > deadline:
                return None
            time.sleep(0.2)
            self._refresh()


def save_checkpoint(path, model, opt, state, weights_only=False):
    os.makedirs(path, exist_ok=True)
    name = state['model']
    # A final (weights-only) save is the shipped bf16 product: half the bytes through the 16 MiB return limit.
    dtype = torch.bfloat16 if weights_only else torch.float32
    weights = {k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).cpu()
               for k, v in model.state_dict().items()}
    torch.save({'weights': weights, 'state': state}, os.path.join(path, f'{name}_weights.pt'))
    if weights_only:
        return
    moments = {}
    for i, (pname, p) in enumerate(model.named_parameters()):
        st = opt.state.get(p)
        if st:
            moments[pname] = (st['exp_avg'].to(torch.bfloat16).cpu(), st['exp_avg_sq'].to(torch.bfloat16).cpu(),
                              float(st['step']))
    torch.save(moments, os.path.join(path, f'{name}_adam.pt'))


def load_checkpoint(path, name, model, opt):
    blob = torch.load(os.path.join(path, f'{name}_weights.pt'), map_location='cpu')
    model.load_state_dict(blob['weights'])
    moments = torch.load(os.path.join(path, f'{name}_adam.pt'), map_location='cpu')
    for pname, p in model.named_parameters():
        if pname in moments:
            m, v, step = moments[pname]
            # fused AdamW wants its step counters on the parameter's device (a CPU tensor crashed the resume).
            opt.state[p] = {'exp_avg': m.to(p.device, torch.float32), 'exp_avg_sq': v.to(p.device, torch.float32),
                            'step': torch.tensor(step, dtype=torch.float32, device=p.device)}
    return blob['state']


def warm_start(path, name, model):
    """Loads a (possibly bf16, weights-only) save into the fp32 model; returns the earlier stages' summaries.

    The step counter and schedule restart at 0 (a new stage with its own warmup and decay); the seed should
    differ from the earlier stage's so the rows differ too."""
    blob = torch.load(os.path.join(path, f'{name}_weights.pt'), map_location='cpu')
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob['weights'].items()})
    prior = blob['state']
    stages = prior.get('stages', [])
    return stages + [{k: prior[k] for k in ('step', 'tokens', 'train_seconds', 'history')}]


def build_model(name, device):
    torch.manual_seed(1234)  # same init recipe for both models
    model = KimiLinearForCausalLM(CONFIGS[name]()).to(device)
    return model.float()


def main():
    args = parse_args()
    device = 'cuda' if torch.cuda.is_available() else 'cpu'  # cpu: local smoke runs only
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if args.model == 'hybrid':
        kda_fast.install()
    model = build_model(args.model, device)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 or 'norm' in n or 'A_log' in n or 'dt_bias' in n else decay).append(p)
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=device == 'cuda')
    state = {'model': args.model, 'step': 0, 'train_seconds': 0.0, 'tokens': 0, 'history': []}
    if args.ckpt_in and os.path.exists(os.path.join(args.ckpt_in, f'{args.model}_weights.pt')):
        state = load_checkpoint(args.ckpt_in, args.model, model, opt)
    elif args.init_from:
        state['stages'] = warm_start(args.init_from, args.model, model)
    balancer = RouterBalancer(model)
    n_params = sum(p.numel() for p in model.parameters())
    log = open(args.log, 'a') if args.log else None

    def emit(record):
        line = json.dumps(record)
        print(line, flush=True)
        if log:
            log.write(line + '\n')
            log.flush()

    emit({'event': 'start', 'model': args.model, 'params': n_params, 'resumed_step': state['step'],
          'train_seconds': state['train_seconds']})
    loader = iter(make_loader(DATA_DIR, os.path.join(ROOT, 'models', 'ctxbench-hybrid',
                              'tokenizer.json'), args.seq_len, args.batch, args.seed * 100 + state['step'],
                              args.workers, args.curriculum_rows, args.mix))
    budget = args.minutes * 60.0
    start_wall = time.time()
    spent = 0.0
    window = {'loss': 0.0, 'acc_num': 0.0, 'acc_den': 0.0, 'n': 0, 'tok': 0, 't': 0.0}
    leader = Leader(args.follow) if args.follow else None
    published = open(args.publish, 'a') if args.publish else None
    while True:
        if leader:
            lr = leader.lr_for(state['step'] + 1, deadline=start_wall + budget + 180)
            if lr is None:
                break
        else:
            if spent >= budget or (args.max_steps is not None and state['step'] >= args.max_steps):
                break
            lr = lr_at((state['train_seconds'] + spent) / (args.total_minutes * 60.0), args.lr)
        ids, weights = next(loader)
        ids, weights = ids.to(device, non_blocking=True), weights.to(device, non_blocking=True)
        sync()
        t0 = time.time()
        for group in opt.param_groups:
            group['lr'] = lr
        with torch.autocast(device, dtype=torch.bfloat16):
            logits = model(input_ids=ids, use_cache=False).logits
        logits = logits[:, :-1].float()
        target, w = ids[:, 1:], weights[:, 1:]
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction='none')
        loss = (ce * w.reshape(-1)).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loads = balancer.step()
        with torch.no_grad():
            answer = w == 1.0
            correct = (logits.argmax(-1) == target) & answer
        sync()
        dt = time.time() - t0
        spent += dt
        state['step'] += 1
        state['tokens'] += ids.numel()
        if published:
            published.write(f"{state['step']} {lr!r}\n")
            published.flush()
        window['loss'] += loss.item()
        window['acc_num'] += correct.sum().item()
        window['acc_den'] += answer.sum().item()
        window['n'] += 1
        window['tok'] += ids.numel()
        window['t'] += dt
        if state['step'] % 25 == 0:
            rec = {'step': state['step'], 'loss': round(window['loss'] / window['n'], 4),
                   'answer_token_acc': round(window['acc_num'] / max(window['acc_den'], 1), 4),
                   'lr': opt.param_groups[0]['lr'], 'grad_norm': round(grad_norm.item(), 3),
                   'tok_per_s': round(window['tok'] / window['t']), 'train_minutes': round(
                       (state['train_seconds'] + spent) / 60, 2), 'tokens': state['tokens'],
                   'peak_gib': round(torch.cuda.max_memory_allocated() / 2 ** 30, 1) if device == 'cuda' else 0}
            if state['step'] % 200 == 0:
                rec['expert_load'] = {k.split('.')[2]: [round(x, 2) for x in v] for k, v in loads.items()}
            state['history'].append({k: rec[k] for k in ('step', 'loss', 'answer_token_acc', 'tokens')})
            emit(rec)
            window = {'loss': 0.0, 'acc_num': 0.0, 'acc_den': 0.0, 'n': 0, 'tok': 0, 't': 0.0}
    state['train_seconds'] += spent
    save_checkpoint(args.ckpt_out, model, opt, state, args.weights_only)
    if published:
        published.write(f"done {state['step']}\n")
        published.close()
    emit({'event': 'saved', 'step': state['step'], 'train_minutes': round(state['train_seconds'] / 60, 2),
          'tokens': state['tokens']})


if __name__ == '__main__':
    main()
