// One engine, one request at a time: a p-queue of concurrency 1 with a bound on admitted requests (running +
// waiting). Past the bound a request is refused at once (429) with a Retry-After estimated from recent service
// times, instead of piling up until clients time out.
import PQueue from 'p-queue';
import { ApiError } from './api-error.js';

export class QueueFullError extends ApiError {
  constructor(maxQueue: number, retryAfterS: number) {
    super(429, 'rate_limit_error', `server queue is full (${maxQueue} requests admitted); retry after ${retryAfterS} s`,
      'queue_full', null, retryAfterS);
  }
}

export class ShuttingDownError extends ApiError {
  constructor() {
    super(503, 'service_unavailable', 'server is shutting down', 'shutting_down');
  }
}

interface Admitted {
  controller: AbortController;
  started: boolean;
}

export class AdmissionQueue {
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly admitted = new Set<Admitted>();
  /** Smoothed seconds per request, for Retry-After. */
  private serviceS = 1;
  private closing = false;

  constructor(readonly maxQueue: number) {
    if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new Error(`max queue must be a positive integer, got ${maxQueue}`);
  }

  get size(): number {
    return this.admitted.size;
  }

  /**
   * Runs `work` when its turn comes. `controller` aborts it while waiting (it never starts) or while running
   * (the work sees the signal). Throws QueueFullError / ShuttingDownError before admitting.
   */
  async run<T>(controller: AbortController, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closing) throw new ShuttingDownError();
    if (this.admitted.size >= this.maxQueue) throw new QueueFullError(this.maxQueue, this.retryAfterS());
    const entry: Admitted = { controller, started: false };
    this.admitted.add(entry);
    // p-queue rejects a running task the moment its signal aborts and starts the next one, while the engine is
    // still winding the cancelled one down (a submitted prefill runs to its end). So the queue only sees an abort
    // that comes while waiting; a running request keeps its slot until its work has really ended.
    const whileWaiting = new AbortController();
    const onAbort = () => { if (!entry.started) whileWaiting.abort(controller.signal.reason); };
    if (controller.signal.aborted) whileWaiting.abort(controller.signal.reason);
    else controller.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.queue.add(async () => {
        controller.signal.throwIfAborted();
        entry.started = true;
        const t0 = performance.now();
        try {
          return await work(controller.signal);
        } finally {
          this.serviceS = 0.8 * this.serviceS + 0.2 * ((performance.now() - t0) / 1000);
        }
      }, { signal: whileWaiting.signal });
    } finally {
      controller.signal.removeEventListener('abort', onAbort);
      this.admitted.delete(entry);
    }
  }

  /** Seconds until a slot is likely free: everyone admitted ahead, at the recent pace. */
  private retryAfterS(): number {
    return Math.min(600, Math.max(1, Math.ceil(this.serviceS * this.admitted.size)));
  }

  /**
   * Refuses new work, cancels every request still waiting, lets the running one finish for up to `graceMs`,
   * then aborts it. Resolves when nothing runs.
   */
  async drain(graceMs: number): Promise<void> {
    this.closing = true;
    for (const entry of this.admitted) if (!entry.started) entry.controller.abort(new ShuttingDownError());
    const idle = this.queue.onIdle();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const entry of this.admitted) entry.controller.abort(new ShuttingDownError());
        resolve();
      }, graceMs);
    });
    await Promise.race([idle, deadline]);
    clearTimeout(timer);
    await idle;
  }

  /** Aborts everything admitted, running included (a second shutdown signal). */
  cancelAll(): void {
    this.closing = true;
    for (const entry of this.admitted) entry.controller.abort(new ShuttingDownError());
  }
}
