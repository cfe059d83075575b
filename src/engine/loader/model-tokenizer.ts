// A model directory's tokenizer (tokenizer.json through src/tokenize, or Kimi's tiktoken.model) and chat template
// (chat_template.jinja, or tokenizer_config.json's chat_template) rendered with @huggingface/jinja.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from '../../tasks/types.js';
import type { TextTokenizer } from '../../tokenize/tokenizer.js';
import { loadTokenizer } from '../../tokenize/tokenizer.js';
import { ModelLoadError, oneLine } from '../checkpoint.js';
import { loadTiktokenModel } from './tiktoken.js';

/** tokenizer.json wins when both are present: it carries its own pre-tokenizer and specials. */
export async function loadModelTokenizer(dirArg: string): Promise<TextTokenizer> {
  const dir = resolve(dirArg);
  tokenizerConfig(dir); // a broken tokenizer_config.json is named as such, not as "tokenizer could not be loaded"
  const file = ['tokenizer.json', 'tiktoken.model'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (file) {
    try {
      return file.endsWith('.json') ? await loadTokenizer(dir) : loadTiktokenModel(dir);
    } catch (err) {
      if (err instanceof ModelLoadError) throw err;
      throw new ModelLoadError(`${file} could not be loaded: ${oneLine((err as Error).message)}`);
    }
  }
  throw new ModelLoadError(`no tokenizer in ${dir}: expected tokenizer.json or tiktoken.model`);
}

export interface ChatTemplate {
  source: string;
  render(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}

function tokenizerConfig(dir: string): Record<string, unknown> {
  const path = join(dir, 'tokenizer_config.json');
  if (!existsSync(path)) return {};
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`${path} is not valid JSON: ${oneLine((err as Error).message)}`);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new ModelLoadError(`${path} is not a JSON object`);
  return cfg as Record<string, unknown>;
}

/** Special-token strings the template may refer to (bos_token, eos_token, ...), as plain strings. */
function tokenStrings(cfg: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
    const v = cfg[key] as unknown;
    if (typeof v === 'string') out[key] = v;
    else if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') out[key] = (v as { content: string }).content;
  }
  return out;
}

/** The model's chat template, or null when the directory has none (base models: raw prompts only). */
export function loadChatTemplate(dirArg: string): ChatTemplate | null {
  const dir = resolve(dirArg);
  const cfg = tokenizerConfig(dir);
  let text: string | undefined;
  let source = '';
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaPath)) {
    text = readFileSync(jinjaPath, 'utf8');
    source = jinjaPath;
  } else if (typeof cfg.chat_template === 'string') {
    text = cfg.chat_template;
    source = `${join(dir, 'tokenizer_config.json')} chat_template`;
  } else if (Array.isArray(cfg.chat_template)) {
    const named = (cfg.chat_template as { name?: string; template?: string }[]).find((t) => t.name === 'default');
    text = named?.template;
    source = `${join(dir, 'tokenizer_config.json')} chat_template[default]`;
  }
  if (!text) return null;
  let template: Template;
  try {
    template = new Template(text);
  } catch (err) {
    throw new ModelLoadError(`chat template in ${source} does not parse: ${oneLine((err as Error).message)}`);
  }
  const specials = tokenStrings(cfg);
  return {
    source,
    render(messages, options = {}) {
      // raise_exception() or a bad lookup in the template: say which template failed, in one line.
      try {
        return template.render({ ...specials, messages, add_generation_prompt: options.addGenerationPrompt ?? true });
      } catch (err) {
        throw new ModelLoadError(`chat template in ${source} failed to render: ${oneLine((err as Error).message)}`);
      }
    },
  };
}
