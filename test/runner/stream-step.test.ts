// Streaming a reply that is re-decoded whole after each token: the streamed pieces must add up to the final text,
// with characters split across tokens (U+FFFD until their last byte arrives) and stop strings that arrive in parts.
import { describe, expect, it } from 'vitest';
import { streamStep } from '../../src/runner/backends/stream-step.js';

/** Streams `tokens` (byte chunks of UTF-8) like the webgpu backend: returns the pieces and the final text. */
function stream(tokens: Uint8Array[], stops: string[]): { pieces: string[]; text: string; stopped: boolean } {
  const pieces: string[] = [];
  let emitted = '';
  const bytes: number[] = [];
  for (const token of tokens) {
    bytes.push(...token);
    // TextDecoder, like a byte-level tokenizer's decode, renders an unfinished character as U+FFFD.
    const step = streamStep(new TextDecoder().decode(Uint8Array.from(bytes)), emitted, stops);
    if (step.piece) pieces.push(step.piece);
    emitted = step.emitted;
    if (step.stop) return { pieces, text: emitted, stopped: true };
  }
  const text = new TextDecoder().decode(Uint8Array.from(bytes));
  if (text.startsWith(emitted) && text.length > emitted.length) pieces.push(text.slice(emitted.length));
  return { pieces, text, stopped: false };
}

const chunks = (text: string, sizes: number[]) => {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = sizes[k % sizes.length];
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
};

describe('streamStep', () => {
  it('holds a character split across tokens until its last byte arrives', () => {
    expect(streamStep('ab\uFFFD', '', [])).toEqual({ piece: 'ab', emitted: 'ab', stop: false });
    expect(streamStep('ab😀', 'ab', [])).toEqual({ piece: '😀', emitted: 'ab😀', stop: false });
    const { pieces, text } = stream(chunks('naïve 😀 日本語 done', [1, 2, 3]), []);
    expect(pieces.join('')).toBe(text);
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false);
  });

  it('holds an end that may grow into a stop string, cuts at the stop, and lets a false start through', () => {
    expect(streamStep('hello ST', '', ['STOP'])).toEqual({ piece: 'hello ', emitted: 'hello ', stop: false });
    expect(streamStep('hello STOP now', 'hello ', ['STOP'])).toEqual({ piece: '', emitted: 'hello ', stop: true });
    expect(streamStep('hello STAR', 'hello ', ['STOP'])).toEqual({ piece: 'STAR', emitted: 'hello STAR', stop: false });
    const cut = stream(chunks('one two</s> three', [2]), ['</s>']);
    expect([cut.stopped, cut.text, cut.pieces.join('')]).toEqual([true, 'one two', 'one two']);
  });

  it('streamed pieces always add up to the final text (random texts, token sizes and stops)', () => {
    const alphabet = ['a', 'b', ' ', 'é', '😀', '日', '\n', 'S', 'T'];
    for (let trial = 0; trial < 300; trial++) {
      const text = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
      const sizes = Array.from({ length: 3 }, () => 1 + Math.floor(Math.random() * 4));
      const stops = Math.random() < 0.5 ? [] : [alphabet[Math.floor(Math.random() * alphabet.length)] + alphabet[Math.floor(Math.random() * alphabet.length)]];
      const r = stream(chunks(text, sizes), stops);
      expect(r.pieces.join(''), JSON.stringify({ text, sizes, stops })).toBe(r.text);
      expect(r.pieces.join('').includes('\uFFFD')).toBe(false);
      const at = stops.length ? text.indexOf(stops[0]) : -1;
      expect(r.text).toBe(at >= 0 ? text.slice(0, at) : text);
    }
  });
});
