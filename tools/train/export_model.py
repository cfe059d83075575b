"""Writes a trained checkpoint as a transformers save_pretrained directory under models/ (bf16 safetensors).

  python3 export_model.py hybrid .train-data/ck models/ctxbench-hybrid
Tokenizer files are written there by train_tokenizer.py; the config comes from model_config.py.
"""
import json
import os
import sys

import torch
from transformers import KimiLinearForCausalLM

from model_config import CONFIGS


def main():
    name, ckpt, out = sys.argv[1:4]
    blob = torch.load(os.path.join(ckpt, f'{name}_weights.pt'), map_location='cpu')
    model = KimiLinearForCausalLM(CONFIGS[name]())
    model.load_state_dict(blob['weights'])
    model.to(torch.bfloat16).save_pretrained(out)
    state = blob['state']
    summary = {k: state[k] for k in ('model', 'step', 'tokens', 'train_seconds')}
    summary['loss_history'] = state['history']
    # Earlier warm-start stages (train.py --init-from), oldest first: their steps and tokens add to this one's.
    summary['earlier_stages'] = [{k: st[k] for k in ('step', 'tokens', 'train_seconds')} for st in state.get('stages', [])]
    summary['total_tokens'] = state['tokens'] + sum(st['tokens'] for st in state.get('stages', []))
    with open(os.path.join(out, 'training_state.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: summary[k] for k in ('model', 'step', 'tokens', 'train_seconds', 'total_tokens')}))


if __name__ == '__main__':
    main()
