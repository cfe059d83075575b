// A Backend made of engine worker processes, one per device. The runner's p-queue sees one backend whose
// concurrency is workers + lookahead; the pool holds the requests it was given and hands the largest waiting
// prompt to whichever worker is idle, so long samples start first and the tail is short. A worker that dies
// fails its in-flight request as engine_error (the runner records it like any engine failure), is restarted
// once, and is retired after that; the run goes on with the workers that are left.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BackendOptions } from '../backends/index.js';
import { BackendUnavailableError } from '../backends/index.js';
import { BackendError, type Backend, type BackendInfo, type GenerationRequest, type GenerationResult } from '../backends/types.js';
import { pinningEnv, type DeviceSlot } from './devices.js';
import { toWireRequest, type ParentMessage, type WorkerMessage } from './protocol.js';

export interface WorkerPoolOptions {
  slots: DeviceSlot[];
  backend: BackendOptions;
  /** Requests held beyond one per worker, to pick the largest from (default: one per worker). */
  lookahead?: number;
  /** Restarts a slot gets after its worker dies (default 1); then it is retired. */
  restartsPerSlot?: number;
  /** How long a worker may take to stop a cancelled request before it is killed (default 30 s). */
  cancelGraceMs?: number;
  /** Called as a request goes to a worker (tests use it to kill a worker mid-sample). */
  onDispatch?: (event: { device: number; pid: number; dispatched: number }) => void;
  log?: (line: string) => void;
}

/** What one device did in this invocation; times in milliseconds of wall clock. */
export interface DeviceStats {
  device: number;
  pciBusId: string | null;
  label: string;
  /** The adapter the worker's engine opened (from its BackendInfo). */
  adapter: string | null;
  samples: number;
  errors: number;
  crashes: number;
  restarts: number;
  retired: boolean;
  /** Worker alive and ready. */
  liveMs: number;
  /** Running a request. */
  busyMs: number;
  promptTokens: number;
  completionTokens: number;
}

interface Job {
  id: number;
  request: GenerationRequest;
  size: number;
  resolve: (result: GenerationResult) => void;
  reject: (err: Error) => void;
  detachAbort: () => void;
  /** Set once cancelled: a worker that then dies or is killed leaves it pending (interrupted), not failed. */
  cancelKill?: NodeJS.Timeout;
}

interface Worker {
  slot: DeviceSlot;
  child?: ChildProcess;
  ready: boolean;
  job?: Job;
  busySince: number;
  liveSince: number;
  restartsLeft: number;
  stats: DeviceStats;
}

/** Prompt size in characters: a cheap stand-in for tokens when ordering largest first. */
function promptSize(request: GenerationRequest): number {
  if (request.prompt !== undefined) return request.prompt.length;
  return (request.messages ?? []).reduce((n, m) => n + m.content.length, 0) + (request.answerPrefix?.length ?? 0);
}

function workerEntry(): { path: string; execArgv: string[] } {
  // Under tsx/vitest this module is TypeScript and so is the worker; from dist/ both are JavaScript.
  const ts = import.meta.url.endsWith('.ts');
  return { path: fileURLToPath(new URL(`./worker-main.${ts ? 'ts' : 'js'}`, import.meta.url)), execArgv: ts ? ['--import', 'tsx'] : [] };
}

export class WorkerPoolBackend implements Backend {
  info: BackendInfo;
  readonly concurrency: number;
  private readonly workers: Worker[];
  private pending: Job[] = [];
  private nextId = 1;
  private dispatched = 0;
  private closing = false;
  private firstDispatchAt: number | null = null;
  private lastDoneAt: number | null = null;
  private readonly log: (line: string) => void;

  private constructor(private readonly options: WorkerPoolOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.workers = options.slots.map((slot) => ({
      slot, ready: false, busySince: 0, liveSince: 0, restartsLeft: options.restartsPerSlot ?? 1,
      stats: { device: slot.index, pciBusId: slot.pciBusId, label: slot.label, adapter: null, samples: 0, errors: 0,
        crashes: 0, restarts: 0, retired: false, liveMs: 0, busyMs: 0, promptTokens: 0, completionTokens: 0 },
    }));
    this.concurrency = options.slots.length + (options.lookahead ?? options.slots.length);
    process.on('exit', this.killAll);
    this.info = { backend: options.backend.kind, model: options.backend.model };
  }

  /** Starts every worker; fails in one line only when none comes up. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPoolBackend> {
    if (options.slots.length === 0) throw new BackendUnavailableError('--devices selected no device');
    const pool = new WorkerPoolBackend(options);
    const failures = await Promise.all(pool.workers.map((w) => pool.spawn(w)));
    const up = pool.workers.filter((w) => w.ready);
    if (up.length === 0) {
      await pool.close();
      throw new BackendUnavailableError(`no engine worker started: ${failures.find(Boolean)}`);
    }
    failures.forEach((f, i) => { if (f) pool.log(`ctxbench: device ${pool.workers[i].slot.index} retired at start: ${f}`); });
    const adapters = [...new Set(up.map((w) => w.stats.adapter ?? '?'))];
    const first = up[0];
    pool.info = { ...pool.info, ...pool.infoOf(first), device: `${up.length}× ${adapters.join(' | ')}` };
    return pool;
  }

  private workerInfo = new Map<Worker, BackendInfo>();
  private infoOf(w: Worker): BackendInfo { return this.workerInfo.get(w)!; }

  /** Forks the worker and waits for its engine; resolves with a failure message, or null once ready. */
  private spawn(w: Worker): Promise<string | null> {
    const entry = workerEntry();
    const child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, ...pinningEnv(w.slot), CTXBENCH_WORKER_DEVICE: String(w.slot.index) },
      // The worker's stdout goes to our stderr so `--json` stays one clean line.
      stdio: ['ignore', 2, 2, 'ipc'],
      // Its own process group: a terminal Ctrl-C reaches only the parent, which cancels and closes the workers. In
      // ours, a Ctrl-C while a worker was still loading (before its SIGINT handler) killed it, and the run ended
      // "no engine worker started" (exit 2) instead of interrupted (130). It still exits when the parent goes.
      detached: true,
    });
    w.child = child;
    // A send to a worker that just died fails with EPIPE; its 'exit' handles the death, so the error is only noted
    // (unhandled, it would crash the parent and leave the other workers running).
    child.on('error', (err) => this.log(`ctxbench: engine worker on device ${w.slot.index}: ${err.message}`));
    return new Promise((resolve) => {
      let started = false;
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          started = true;
          w.ready = true;
          w.liveSince = performance.now();
          w.stats.adapter = message.info.device ?? null;
          this.workerInfo.set(w, message.info);
          resolve(null);
          this.dispatch();
        } else if (message.type === 'start_failed') {
          started = true;
          this.retire(w);
          if (child.connected) child.disconnect();
          child.kill('SIGKILL');
          resolve(message.message);
        } else this.finish(w, message);
      });
      child.on('exit', (code, signal) => {
        if (!started) {
          // A death while loading is a crash too (a restart killed again read "crashes 1" for a twice-dead device).
          if (!this.closing) w.stats.crashes++;
          started = true; this.retire(w); resolve(`worker exited during start (${signal ?? `code ${code}`})`);
        }
        this.onExit(w, child, code, signal);
      });
      this.send(child, { type: 'start', options: this.options.backend });
    });
  }

  generate(request: GenerationRequest): Promise<GenerationResult> {
    return new Promise((resolve, reject) => {
      if (request.signal?.aborted) { reject(new BackendError('interrupted', 'request aborted before it started')); return; }
      const job: Job = { id: this.nextId++, request, size: promptSize(request), resolve, reject, detachAbort: () => {} };
      const onAbort = () => this.abort(job);
      request.signal?.addEventListener('abort', onAbort, { once: true });
      job.detachAbort = () => request.signal?.removeEventListener('abort', onAbort);
      if (!this.workers.some((w) => !w.stats.retired)) {
        this.settle(job, new BackendError('engine_error', 'every engine worker has died'));
        return;
      }
      this.pending.push(job);
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const w of this.workers) {
      if (this.pending.length === 0) return;
      if (!w.ready || w.job || !w.child) continue;
      let best = 0;
      for (let i = 1; i < this.pending.length; i++) if (this.pending[i].size > this.pending[best].size) best = i;
      const [job] = this.pending.splice(best, 1);
      w.job = job;
      w.busySince = performance.now();
      this.firstDispatchAt ??= w.busySince;
      const child = w.child;
      // A worker can die just after its last result, before its exit is seen: a request that never reached it
      // goes back to the queue (its exit counts the crash) instead of failing as if it had run there.
      const requeue = () => {
        if (w.job !== job) return false;
        w.job = undefined;
        w.ready = false;
        this.pending.push(job);
        child.kill('SIGKILL');
        return true;
      };
      if (!this.send(child, { type: 'generate', id: job.id, request: toWireRequest(job.request) }, () => { if (requeue()) this.dispatch(); })) {
        requeue();
        continue;
      }
      this.options.onDispatch?.({ device: w.slot.index, pid: child.pid!, dispatched: ++this.dispatched });
    }
  }

  private finish(w: Worker, message: Extract<WorkerMessage, { type: 'result' | 'error' }>): void {
    const job = w.job;
    if (!job || job.id !== message.id) return;
    this.endBusy(w);
    // A cancelled request (Ctrl-C) is neither done nor failed: the runner leaves it pending for the resume.
    if (message.type === 'error' && message.kind === 'interrupted') {
      this.settle(job, new BackendError(message.kind, message.message));
      this.dispatch();
      return;
    }
    w.stats.samples++;
    if (message.type === 'result') {
      w.stats.promptTokens += message.result.perf.promptTokens ?? 0;
      w.stats.completionTokens += message.result.perf.completionTokens ?? 0;
      this.settle(job, null, message.result);
    } else {
      w.stats.errors++;
      this.settle(job, new BackendError(message.kind, message.message));
    }
    this.dispatch();
  }

  /**
   * Sends unless the channel is gone (false). A send that fails later is the worker dying: `onFail` runs (by
   * default a kill; its 'exit' event handles the death).
   */
  private send(child: ChildProcess, message: ParentMessage, onFail = () => { child.kill('SIGKILL'); }): boolean {
    if (!child.connected) return false;
    child.send(message, (err) => { if (err) onFail(); });
    return true;
  }

  private endBusy(w: Worker): void {
    const now = performance.now();
    w.stats.busyMs += now - w.busySince;
    this.lastDoneAt = now;
    w.job = undefined;
  }

  private settle(job: Job, err: Error | null, result?: GenerationResult): void {
    job.detachAbort();
    clearTimeout(job.cancelKill);
    if (err) job.reject(err); else job.resolve(result!);
  }

  private abort(job: Job): void {
    const waiting = this.pending.indexOf(job);
    if (waiting >= 0) {
      this.pending.splice(waiting, 1);
      this.settle(job, new BackendError('interrupted', 'request aborted'));
      return;
    }
    const w = this.workers.find((x) => x.job === job);
    if (!w?.child) return;
    this.send(w.child, { type: 'cancel', id: job.id });
    // A hung worker (stuck driver call, stopped process) never answers the cancel, and the run's Ctrl-C would wait
    // on it for ever: past the grace period it is killed and the sample stays pending for the resume.
    const child = w.child;
    job.cancelKill = setTimeout(() => {
      this.log(`ctxbench: engine worker on device ${w.slot.index} did not stop its cancelled request; killing it`);
      child.kill('SIGKILL');
    }, this.options.cancelGraceMs ?? 30_000);
  }

  /** On the parent's exit (a second Ctrl-C, a crash): a hung worker would never see its IPC channel close. */
  private readonly killAll = (): void => {
    for (const w of this.workers) if (w.child && w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  };

  private onExit(w: Worker, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (w.child !== child) return;
    w.child = undefined;
    if (w.ready) w.stats.liveMs += performance.now() - w.liveSince;
    w.ready = false;
    const job = w.job;
    if (job?.cancelKill) {
      // Cancelled, then gone (killed after the grace period): neither done nor failed, and not a crash.
      this.endBusy(w);
      this.settle(job, new BackendError('interrupted', `engine worker on device ${w.slot.index} stopped after the cancel`));
      if (!this.closing && !w.stats.retired) void this.spawn(w).then(() => this.failIfNoneLeft());
      return;
    }
    if (job) {
      this.endBusy(w);
      w.stats.samples++;
      w.stats.errors++;
      this.settle(job, new BackendError('engine_error',
        `engine worker on device ${w.slot.index} died (${signal ?? `exit code ${code}`}) while running this sample`));
    }
    if (this.closing || w.stats.retired) return;
    w.stats.crashes++;
    if (w.restartsLeft > 0) {
      w.restartsLeft--;
      w.stats.restarts++;
      this.log(`ctxbench: engine worker on device ${w.slot.index} died (${signal ?? `exit code ${code}`}); restarting it`);
      void this.spawn(w).then((failure) => {
        if (failure) this.log(`ctxbench: device ${w.slot.index} retired: restart failed: ${failure}`);
        this.failIfNoneLeft();
      });
    } else {
      this.log(`ctxbench: engine worker on device ${w.slot.index} died again (${signal ?? `exit code ${code}`}); device retired`);
      this.retire(w);
      this.failIfNoneLeft();
    }
  }

  private retire(w: Worker): void {
    w.stats.retired = true;
    w.ready = false;
  }

  private failIfNoneLeft(): void {
    if (this.workers.some((w) => !w.stats.retired)) { this.dispatch(); return; }
    for (const job of this.pending.splice(0)) this.settle(job, new BackendError('engine_error', 'every engine worker has died'));
  }

  /** Per-device work of this invocation (valid during and after the run). */
  deviceStats(): DeviceStats[] {
    const now = performance.now();
    return this.workers.map((w) => ({
      ...w.stats,
      liveMs: w.stats.liveMs + (w.ready ? now - w.liveSince : 0),
      busyMs: w.stats.busyMs + (w.job ? now - w.busySince : 0),
    }));
  }

  /** From the first request handed to a worker to the last one finished. */
  elapsedMs(): number {
    return this.firstDispatchAt === null || this.lastDoneAt === null ? 0 : this.lastDoneAt - this.firstDispatchAt;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const job of this.pending.splice(0)) this.settle(job, new BackendError('interrupted', 'pool closed'));
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      const child = w.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      if (child.connected) this.send(child, { type: 'close' }); else child.kill('SIGKILL');
    })));
    process.off('exit', this.killAll);
  }
}
