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
  addMaterializeHook(builder, async (handles, settings) => {
    if (created.entries.length === 0) return
    const runtime = new ReadSideRuntime(created, handles, settings)
    runtimes.set(handles, runtime)
    handles.onStop(() => runtime.stop())
    await runtime.start()
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

/** @internal The running read side of one materialized topology. */
export class ReadSideRuntime {
  readonly #registration: ReadSideRegistration
  readonly #runners = new Map<string, ReaderRunner<unknown>>()
  readonly handles = new Map<string, StoreProjectionHandle<unknown>>()

  constructor(registration: ReadSideRegistration, handles: CqrsHandles, settings: Readonly<CqrsSettings>) {
    this.#registration = registration
    const readJournal = resolveReadJournal(settings, true) as ReadJournal
    for (const { reader, handle } of registration.entries) {
      if (handle.attached) {
        throw new NotConfiguredError(
          'reader',
          `Projection "${reader.name}" is already running in another materialized instance; stop those handles before materializing again.`,
        )
      }
      this.handles.set(reader.name, handle)
      this.#runners.set(
        reader.name,
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
        }),
      )
    }
  }

  get deadLetters(): DeadLetterStore {
    return this.#registration.deadLetters
  }

  async start(): Promise<void> {
    // Readers start independently: one failing to load its offset must not keep the others down.
    const results = await Promise.allSettled([...this.#runners.values()].map((runner) => runner.start()))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#runners.values()].map((runner) => runner.stop()))
  }

  handle(name: string): StoreProjectionHandle<unknown> {
    const handle = this.handles.get(name)
    if (!handle) throw unknownProjection(name, [...this.handles.keys()])
    return handle
  }

  async status(): Promise<ReaderStatus[]> {
    return Promise.all([...this.handles.values()].map((h) => h.refreshStatus()))
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
