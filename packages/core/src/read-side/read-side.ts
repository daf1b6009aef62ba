import type { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { NotConfiguredError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { createInMemoryOffsetStore } from '../persistence/in-memory/in-memory-offset-store.ts'
import type { OffsetStore } from '../persistence/offset-store.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'
import { createInMemoryDeadLetterStore, type DeadLetterStore } from './dead-letter-store.ts'
import { type ProjectionHandle, type ReaderStatus, StoreProjectionHandle } from './projection-handle.ts'
import {
  type AnyReader,
  DEFAULT_CHECKPOINT_EVENTS,
  DEFAULT_CHECKPOINT_MS,
  type Reader,
  type ReaderRetry,
  validateReader,
  validateRetry,
} from './reader.ts'
import { describeFilter, ReaderFilter } from './reader-filter.ts'
import type { PlacedReader, ReaderPlacement } from './reader-placement.ts'
import { ReaderRunner } from './reader-runner.ts'

/**
 * @internal What the read side takes from the configuration of the topology that runs it. Passed in by the
 * builder and the topology, so that this folder never imports theirs.
 */
export interface ReadSideConfig {
  /** Offers `readJournal()` when no read journal is set. */
  readonly journal: object
  readonly readJournal: ReadJournal | undefined
  readonly offsetStore: OffsetStore | undefined
  /** The builder's `readerRetry`, for readers that do not set their own. */
  readonly readerRetry: ReaderRetry | undefined
  readonly pollIntervalMs: number
  readonly logger: Logger
}

/** @internal How `describe()` shows one reader. */
export type ReaderDescription = {
  readonly name: string
  readonly filter: unknown
  readonly errorPolicy: string
  readonly retry: ReaderRetry | 'off'
  readonly checkpoint: string | { readonly everyEvents: number; readonly everyMs: number }
}

interface Registered {
  readonly reader: AnyReader
  readonly handle: StoreProjectionHandle<unknown>
}

/**
 * @internal The readers one builder registered (`withReader`), with the stores that outlive one
 * materialization, so that a re-materialized topology resumes in process.
 */
export class ReadSide {
  readonly #entries: Registered[] = []
  readonly #defaultOffsets: OffsetStore = createInMemoryOffsetStore()
  /** `builder.deadLetterStore(store)`; in memory by default. */
  deadLetters: DeadLetterStore = createInMemoryDeadLetterStore()

  /** `builder.withReader(reader)`. */
  add<TState>(reader: Reader<TState, any>): ProjectionHandle<TState> {
    validateReader(reader)
    const handle = new StoreProjectionHandle<TState>(reader.name, reader.initialState)
    this.#entries.push({ reader, handle: handle as StoreProjectionHandle<unknown> })
    return handle
  }

  /** Run by `build()`: unique names, a valid retry, and a read journal to follow. */
  validate(config: ReadSideConfig): void {
    if (this.#entries.length === 0) return
    const names = new Set<string>()
    for (const { reader } of this.#entries) {
      if (names.has(reader.name)) {
        throw new NotConfiguredError(
          'reader',
          `Two readers are named "${reader.name}"; reader names must be unique per CQRS instance (they key offsets and dead letters).`,
        )
      }
      names.add(reader.name)
    }
    if (config.readerRetry) validateRetry(config.readerRetry, 'readerRetry')
    if (!resolveReadJournal(config, false)) {
      throw new NotConfiguredError(
        'readJournal',
        'Readers are registered but there is no read journal: set one with readJournal(readJournal), or use a journal that offers readJournal().',
      )
    }
  }

  /** The readers as `topology.describe()` shows them. */
  describe(config: Pick<ReadSideConfig, 'readerRetry'>): ReaderDescription[] {
    return this.#entries.map(({ reader }) => ({
      name: reader.name,
      filter: describeFilter(reader.filter ?? ReaderFilter.all()),
      errorPolicy: reader.errorPolicy ?? 'halt',
      retry: reader.retry === false ? 'off' : (reader.retry ?? config.readerRetry ?? 'off'),
      checkpoint: reader.transactional
        ? 'transactional (offset committed with the read model: exactly-once)'
        : reader.loadState
          ? {
              everyEvents: reader.checkpoint?.everyEvents ?? DEFAULT_CHECKPOINT_EVENTS,
              everyMs: reader.checkpoint?.everyMs ?? DEFAULT_CHECKPOINT_MS,
            }
          : 'in memory (replays from the start at every start)',
    }))
  }

  /**
   * The runners of one materialization (not started yet), or `undefined` when no reader is registered.
   * Throws when a projection is still attached to another materialized instance.
   */
  materialize(config: ReadSideConfig & { readonly codecs: EventCodecRegistry }): ReadSideRuntime | undefined {
    if (this.#entries.length === 0) return undefined
    return new ReadSideRuntime(this, this.#entries, config, this.#defaultOffsets)
  }
}

/** The configured read journal, or the journal's own (`journal.readJournal()`), created once per materialize. */
function resolveReadJournal(config: ReadSideConfig, create: boolean): ReadJournal | boolean | undefined {
  if (config.readJournal) return config.readJournal
  const journal = config.journal as { readJournal?: (config?: { pollIntervalMs?: number }) => ReadJournal }
  if (typeof journal.readJournal !== 'function') return undefined
  return create ? journal.readJournal({ pollIntervalMs: config.pollIntervalMs }) : true
}

/** @internal The running read side of one materialized topology. */
export class ReadSideRuntime {
  readonly #readSide: ReadSide
  readonly #entries: readonly Registered[]
  readonly #runners = new Map<string, ReaderRunner<unknown>>()
  readonly #createRunner: (entry: Registered) => ReaderRunner<unknown>
  readonly handles = new Map<string, StoreProjectionHandle<unknown>>()
  #unplace: (() => Promise<void>) | undefined
  #stopped = false

  constructor(
    readSide: ReadSide,
    entries: readonly Registered[],
    config: ReadSideConfig & { readonly codecs: EventCodecRegistry },
    defaultOffsets: OffsetStore,
  ) {
    this.#readSide = readSide
    this.#entries = entries
    const readJournal = resolveReadJournal(config, true) as ReadJournal
    this.#createRunner = ({ reader, handle }) =>
      new ReaderRunner({
        reader,
        handle,
        readJournal,
        codecs: config.codecs,
        offsetStore: config.offsetStore ?? defaultOffsets,
        deadLetters: readSide.deadLetters,
        retry: config.readerRetry,
        logger: config.logger,
        pollIntervalMs: config.pollIntervalMs,
      })
    for (const { reader, handle } of entries) {
      if (handle.attached || handle.placed) {
        throw new NotConfiguredError(
          'reader',
          `Projection "${reader.name}" is already running in another materialized instance; stop those handles before materializing again.`,
        )
      }
      this.handles.set(reader.name, handle)
    }
  }

  get deadLetters(): DeadLetterStore {
    return this.#readSide.deadLetters
  }

  /** Starts every reader here, or hands them to `placement`, which starts each where it should run. */
  async start(placement?: ReaderPlacement): Promise<void> {
    if (placement) {
      this.#unplace = placement.place(this.#entries.map((entry) => this.#placed(entry)))
      return
    }
    for (const entry of this.#entries) this.#runners.set(entry.reader.name, this.#createRunner(entry))
    // Readers start independently: one failing to load its offset must not keep the others down.
    const results = await Promise.allSettled([...this.#runners.values()].map((runner) => runner.start()))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  async stop(): Promise<void> {
    this.#stopped = true
    const unplace = this.#unplace
    this.#unplace = undefined
    if (unplace) await unplace().catch(() => undefined)
    await Promise.allSettled([...this.#runners.values()].map((runner) => runner.stop()))
    for (const handle of this.handles.values()) handle.placed = false
  }

  /**
   * A reader as its placement drives it: every start runs a fresh runner (from the stored offset), and a
   * start after a stop waits until that stop has finished, so two runners of one reader never overlap here.
   */
  #placed(entry: Registered): PlacedReader {
    const name = entry.reader.name
    entry.handle.placed = true
    let current: ReaderRunner<unknown> | undefined
    let stopping: Promise<void> = Promise.resolve()
    // Every stop cancels the starts asked for before it, even one still waiting for an earlier stop.
    let calls = 0
    return {
      name,
      start: async () => {
        const call = ++calls
        await stopping
        if (this.#stopped || current || call !== calls) return
        const runner = this.#createRunner(entry)
        current = runner
        this.#runners.set(name, runner)
        await runner.start()
      },
      stop: async () => {
        calls++
        const runner = current
        current = undefined
        if (!runner) return stopping
        if (this.#runners.get(name) === runner) this.#runners.delete(name)
        // The runner stops applying within this call; the promise settles after its in-flight apply.
        stopping = runner.stop().catch(() => undefined)
        return stopping
      },
    }
  }

  handle(name: string): StoreProjectionHandle<unknown> {
    const handle = this.handles.get(name)
    if (!handle) throw unknownProjection(name, [...this.handles.keys()])
    return handle
  }

  async status(): Promise<ReaderStatus[]> {
    // A placed reader that runs in another process has no runner here: its last known status.
    return Promise.all([...this.handles.values()].map((h) => (h.attached ? h.refreshStatus() : h.status)))
  }
}

/** @internal The error of `handles.projection(name)` for a name no reader has. */
export function unknownProjection(name: string, known: readonly string[]): NotConfiguredError {
  return new NotConfiguredError(
    'reader',
    `No projection named "${name}"${known.length ? ` (registered: ${known.map((k) => `"${k}"`).join(', ')})` : ''}. Add it with builder.withReader(reader).`,
  )
}
