#!/usr/bin/env python3
"""Golden logits of the two shipped checkpoints (models/ctxbench-hybrid, models/ctxbench-mla) from transformers'
KimiLinearForCausalLM, for test/train/bundled-golden.test.ts (issue #10: engine logits must match transformers).

The prompt is a short RULER-style needle question rendered through the models' chat template, so the positions
that matter (the needle, the answer prefix) are in it. The bf16 weights are upcast to f32 on both sides.
Writes test/fixtures/bundled/<name>/{golden.json, logits.bin} (logits: raw little-endian f32 [T, vocab]).
Run (CPU is enough; transformers 5.17): python3 tools/golden/bundled_logits.py
"""
import json
import os

import torch
from transformers import AutoTokenizer, KimiLinearForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = ('Some special magic numbers are hidden within the following text. Make sure to memorize it. '
          'The grass is green. The sky is blue. One of the special magic numbers for quiet-river is: 4819203. '
          'The sun is yellow. Here we go. There and back again.\n'
          'What is the special magic number for quiet-river mentioned in the provided text?')
GREEDY_TOKENS = 12

torch.manual_seed(0)
for name in ['ctxbench-hybrid', 'ctxbench-mla']:
    model_dir = os.path.join(ROOT, 'models', name)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    text = tokenizer.apply_chat_template([{'role': 'user', 'content': PROMPT}], tokenize=False, add_generation_prompt=True)
    text += 'The special magic number for quiet-river mentioned in the provided text is'
    ids = tokenizer(text, add_special_tokens=False)['input_ids']
    model = KimiLinearForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()
        # Greedy continuation by repeated full forwards (no cache path), eos ignored.
        seq = list(ids)
        for _ in range(GREEDY_TOKENS):
            nxt = int(model(input_ids=torch.tensor([seq]), use_cache=False).logits[0, -1].argmax())
            seq.append(nxt)
    out = os.path.join(ROOT, 'test', 'fixtures', 'bundled', name)
    os.makedirs(out, exist_ok=True)
    logits.numpy().astype('<f4').tofile(os.path.join(out, 'logits.bin'))
    json.dump({'model': f'models/{name}', 'input_ids': ids, 'greedy_ids': seq[len(ids):],
               'logits_shape': list(logits.shape), 'greedy_text': tokenizer.decode(seq[len(ids):]),
               'transformers': __import__('transformers').__version__, 'torch': torch.__version__},
              open(os.path.join(out, 'golden.json'), 'w'), indent=1)
    print(name, len(ids), 'tokens; greedy:', repr(tokenizer.decode(seq[len(ids):])))
