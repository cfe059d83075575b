// Streaming a reply that is re-decoded whole after every token (the built-in engine's backend).
/**
 * One streaming step: `full` is the whole reply decoded so far, `emitted` what was already streamed. A stop string
 * cuts the text where it starts. Without one, two tails wait: U+FFFD at the end (a character whose last byte has
 * not arrived yet decodes so, and would otherwise be streamed for good) and an end that could still grow into a stop
 * string (streamed text cannot be taken back).
 */
export function streamStep(full: string, emitted: string, stops: readonly string[]): { piece: string; emitted: string; stop: boolean } {
  const hits = stops.filter((s) => s.length > 0).map((s) => full.indexOf(s)).filter((i) => i >= 0);
  let visible: string;
  if (hits.length) visible = full.slice(0, Math.min(...hits));
  else {
    visible = full.replace(/\uFFFD+$/, '');
    let hold = 0;
    for (const s of stops) {
      for (let n = Math.min(s.length - 1, visible.length); n > hold; n--) if (visible.endsWith(s.slice(0, n))) { hold = n; break; }
    }
    visible = visible.slice(0, visible.length - hold);
  }
  if (visible.length <= emitted.length || !visible.startsWith(emitted)) return { piece: '', emitted: hits.length ? visible : emitted, stop: hits.length > 0 };
  return { piece: visible.slice(emitted.length), emitted: visible, stop: hits.length > 0 };
}
