"""Dense retrieval drills: samples where most target tokens are lookups, to grow the copy circuit NIAH needs.

The first run (25 M tokens) learned the answer *format* but never copied a needle: a RULER sample has one
answer (~9 tokens) per 200–4000 prompt tokens, too sparse a signal. Two drills raise the density:

* key_value_recall: multi-query associative recall in NIAH's own words. A haystack of needle lines (and some
  noise lines), then a chat of many questions, each answered in the harness's exact prefix + value form, so every
  answer is a lookup the model must copy from the context.
* repeated_span: a span of random token ids repeated 2–4 times; after its first copy every token is predictable
  only by finding the earlier occurrence (the induction-head drill).

A drill is a list of segments (text or ids, loss weight), tokenized piece by piece the way the harness tokenizes
the prompt apart from what the model generates.
"""
import random

from chat_format import IM_END, IM_START
from synth_tasks import NIAH_NEEDLE, NOISE_SENTENCE, random_value, singular_rewrite

KV_HEAD = ('Some special magic {type_v} are hidden within the following text. Make sure to memorize it. '
           'I will quiz you about the {type_v} afterwards.\n{context}\n')
KV_QUESTION = 'What are all the special magic {type_v} for {query} mentioned in the provided text?'
KV_PREFIX = ' The special magic {type_v} for {query} mentioned in the provided text are'


def key_value_recall(vocab, rng: random.Random, n_pairs: int, weights):
    """n_pairs needle lines (values mostly 7-digit numbers, as niah_single_1), then up to 16 queried one per turn."""
    w_prompt, w_target = weights
    value_kind = rng.choices(['numbers', 'words', 'uuids'], [6, 1, 1])[0]
    keys = []
    while len(keys) < n_pairs:
        key = vocab.key_word(rng)
        if key not in keys:
            keys.append(key)
    values = {k: random_value(rng, value_kind, vocab) for k in keys}
    lines = [NIAH_NEEDLE.format(type_v=value_kind, key=k, value=values[k]) for k in keys]
    noise_share = rng.choice([0.0, 0.3, 0.6, 0.85])  # from a dense table to a sparse haystack
    n_noise = int(len(lines) * noise_share / (1 - noise_share))
    lines += [NOISE_SENTENCE] * n_noise
    rng.shuffle(lines)
    queried = rng.sample(keys, min(len(keys), rng.randint(4, 16)))
    singular = singular_rewrite(KV_QUESTION), singular_rewrite(KV_PREFIX)
    type_v = value_kind[:-1]
    head = singular_rewrite(KV_HEAD).format(type_v=type_v, context='\n'.join(lines))
    segments = [(f'{IM_START}user\n' + head, w_prompt)]
    for i, key in enumerate(queried):
        question = singular[0].format(type_v=type_v, query=key)
        opener = '' if i == 0 else f'{IM_START}user\n'
        segments.append((opener + question + f'{IM_END}\n{IM_START}assistant\n', w_prompt))
        # The answer prefix repeats the key from the question: a short copy, so it carries half weight.
        segments.append((singular[1].format(type_v=type_v, query=key), (w_prompt + w_target) / 2))
        segments.append((f' {values[key]}.{IM_END}', w_target))
        segments.append(('\n', w_prompt))
    return segments


def repeated_span(rng: random.Random, n_tokens: int, vocab_size: int, first_id: int, weight: float):
    """Random ids (no specials) of span length 8–128, repeated until about n_tokens; repeats carry the weight."""
    length = rng.randint(8, max(8, min(128, n_tokens // 2)))
    span = [rng.randrange(first_id, vocab_size) for _ in range(length)]
    copies = max(2, min(4, n_tokens // length))
    return [(span, 0.1)] + [(span, weight)] * (copies - 1)
