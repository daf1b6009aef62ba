import { NotConfiguredError } from '../errors.ts'
import { createInMemoryOffsetStore } from '../persistence/in-memory/in-memory-offset-store.ts'
import type { OffsetStore } from '../persistence/offset-store.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'
import type { CqrsHandles } from '../topology/cqrs-handles.ts'
import {
  addMaterializeHook,
  addReaderDescriber,
  type CqrsBuilder,
  type CqrsSettings,
} from '../topology/cqrs-pattern.ts'
import { createInMemoryDeadLetterStore, type DeadLetterStore } from './dead-letter-store.ts'
import { type ProjectionHandle, type ReaderStatus, StoreProjectionHandle } from './projection-handle.ts'
import { type PlacedReader, placementOf, type ReaderPlacement } from './reader-placement.ts'
import {
  type AnyReader,
  DEFAULT_CHECKPOINT_EVENTS,
  DEFAULT_CHECKPOINT_MS,
  type Reader,
  validateReader,
  validateRetry,
} from './reader.ts'
import { describeFilter, ReaderFilter } from './reader-filter.ts'
import { ReaderRunner } from './reader-runner.ts'

interface Registered {
  readonly reader: AnyReader
  readonly handle: StoreProjectionHandle<unknown>
}

/** What one builder accumulated for its read side. */
interface ReadSideRegistration {
  readonly entries: Registered[]
  /** Defaults that outlive one materialization, so a re-materialized topology resumes in process. */
  readonly defaultOffsets: OffsetStore
  deadLetters: DeadLetterStore
}

const registrations = new WeakMap<CqrsBuilder, ReadSideRegistration>()
const runtimes = new WeakMap<CqrsHandles, ReadSideRuntime>()

/** @internal `builder.withReader(reader)`. */
export function registerReader<TState>(
  builder: CqrsBuilder,
  reader: Reader<TState, any>,
): ProjectionHandle<TState> {
  validateReader(reader)
  const registration = registrationOf(builder)
  const handle = new StoreProjectionHandle<TState>(reader.name, reader.initialState)
  registration.entries.push({ reader, handle: handle as StoreProjectionHandle<unknown> })
  addReaderDescriber(builder, () => ({
    name: reader.name,
    filter: describeFilter(reader.filter ?? ReaderFilter.all()),
    errorPolicy: reader.errorPolicy ?? 'halt',
    retry: reader.retry === false ? 'off' : (reader.retry ?? builder.settings.readerRetry ?? 'off'),
    checkpoint: reader.transactional
      ? 'transactional (offset committed with the read model: exactly-once)'
      : reader.loadState
        ? {
            everyEvents: reader.checkpoint?.everyEvents ?? DEFAULT_CHECKPOINT_EVENTS,
            everyMs: reader.checkpoint?.everyMs ?? DEFAULT_CHECKPOINT_MS,
          }
        : 'in memory (replays from the start at every start)',
  }))
  return handle
}

/** @internal `builder.deadLetterStore(store)`. */
export function setDeadLetterStore(builder: CqrsBuilder, store: DeadLetterStore): void {
  registrationOf(builder).deadLetters = store
}

function registrationOf(builder: CqrsBuilder): ReadSideRegistration {
  let registration = registrations.get(builder)
  if (registration) return registration
  const created: ReadSideRegistration = {
    entries: [],
    defaultOffsets: createInMemoryOffsetStore(),
    deadLetters: createInMemoryDeadLetterStore(),
  }
  registration = created
  registrations.set(builder, created)
  builder.validators.push((settings) => validateReadSide(created, settings))
  addMaterializeHook(builder, async (handles, settings, options) => {
    if (created.entries.length === 0) return
    const runtime = new ReadSideRuntime(created, handles, settings)
    runtimes.set(handles, runtime)
    handles.onStop(() => runtime.stop())
    await runtime.start(options.readerPlacement ?? placementOf(handles.gateway))
  })
  return created
}

function validateReadSide(registration: ReadSideRegistration, settings: CqrsSettings): void {
  if (registration.entries.length === 0) return
  const names = new Set<string>()
  for (const { reader } of registration.entries) {
    if (names.has(reader.name)) {
      throw new NotConfiguredError(
        'reader',
        `Two readers are named "${reader.name}"; reader names must be unique per CQRS instance (they key offsets and dead letters).`,
      )
    }
    names.add(reader.name)
  }
  if (settings.readerRetry) validateRetry(settings.readerRetry, 'withReaderRetry')
  if (!resolveReadJournal(settings, false)) {
    throw new NotConfiguredError(
      'readJournal',
      'Readers are registered but there is no read journal: set one with readJournal(readJournal), or use a journal that offers readJournal().',
    )
  }
}

/** The builder's read journal, or the journal's own (`journal.readJournal()`), created once per materialize. */
function resolveReadJournal(
  settings: Readonly<CqrsSettings>,
  create: boolean,
): ReadJournal | boolean | undefined {
  if (settings.readJournal) return settings.readJournal
  const journal = settings.journal as { readJournal?: (config?: { pollIntervalMs?: number }) => ReadJournal }
  if (typeof journal.readJournal !== 'function') return undefined
  return create ? journal.readJournal({ pollIntervalMs: settings.pollIntervalMs }) : true
}

/** Handles of readers handed to a placement: not attached while they run elsewhere, yet in use. */
const placedHandles = new WeakSet<StoreProjectionHandle<unknown>>()

/** @internal The running read side of one materialized topology. */
export class ReadSideRuntime {
  readonly #registration: ReadSideRegistration
  readonly #runners = new Map<string, ReaderRunner<unknown>>()
  readonly #createRunner: (entry: Registered) => ReaderRunner<unknown>
  readonly handles = new Map<string, StoreProjectionHandle<unknown>>()
  #unplace: (() => Promise<void>) | undefined
  #stopped = false

  constructor(registration: ReadSideRegistration, handles: CqrsHandles, settings: Readonly<CqrsSettings>) {
    this.#registration = registration
    const readJournal = resolveReadJournal(settings, true) as ReadJournal
    this.#createRunner = ({ reader, handle }) =>
      new ReaderRunner({
        reader,
        handle,
        readJournal,
        codecs: handles.codecs,
        offsetStore: settings.offsetStore ?? registration.defaultOffsets,
        deadLetters: registration.deadLetters,
        retry: settings.readerRetry,
        logger: settings.logger,
        pollIntervalMs: settings.pollIntervalMs,
      })
    for (const { reader, handle } of registration.entries) {
      if (handle.attached || placedHandles.has(handle)) {
        throw new NotConfiguredError(
          'reader',
          `Projection "${reader.name}" is already running in another materialized instance; stop those handles before materializing again.`,
        )
      }
      this.handles.set(reader.name, handle)
    }
  }

  get deadLetters(): DeadLetterStore {
    return this.#registration.deadLetters
  }

  /** Starts every reader here, or hands them to `placement`, which starts each where it should run. */
  async start(placement?: ReaderPlacement): Promise<void> {
    if (placement) {
      this.#unplace = placement.place(this.#registration.entries.map((entry) => this.#placed(entry)))
      return
    }
    for (const entry of this.#registration.entries)
      this.#runners.set(entry.reader.name, this.#createRunner(entry))
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
    for (const handle of this.handles.values()) placedHandles.delete(handle)
  }

  /**
   * A reader as its placement drives it: every start runs a fresh runner (from the stored offset), and a
   * start after a stop waits until that stop has finished, so two runners of one reader never overlap here.
   */
  #placed(entry: Registered): PlacedReader {
    const name = entry.reader.name
    placedHandles.add(entry.handle)
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

function unknownProjection(name: string, known: readonly string[]): NotConfiguredError {
  return new NotConfiguredError(
    'reader',
    `No projection named "${name}"${known.length ? ` (registered: ${known.map((k) => `"${k}"`).join(', ')})` : ''}. Add it with builder.withReader(reader).`,
  )
}

/** @internal The read side of materialized handles, if it has readers. */
export function readSideOf(handles: CqrsHandles): ReadSideRuntime | undefined {
  return runtimes.get(handles)
}

/** @internal `handles.projection(name)`. */
export function projectionOf<TState>(handles: CqrsHandles, name: string): ProjectionHandle<TState> {
  const runtime = runtimes.get(handles)
  if (!runtime) throw unknownProjection(name, [])
  return runtime.handle(name) as ProjectionHandle<TState>
}
