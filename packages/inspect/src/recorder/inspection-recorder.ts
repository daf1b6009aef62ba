import { createWriteStream, type WriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { StatelyInspectionEvent } from '@statelyai/inspect'
import { StatesourceError } from '@statesource/core'
import type { AnyActorRef, AnyEventObject, InspectionEvent, MachineContext } from 'xstate'
import { toStatelyConfig } from '../export/chart-export.ts'

/**
 * A statesource pipeline event (`@statesource.command`, `@statesource.persisted`, ...) as recorded: the
 * gateway's data fields plus the session id of the actor that emitted it.
 */
export interface StatesourceInspectionRecord {
  readonly type: `@statesource.${string}`
  readonly sessionId: string
  readonly createdAt: string
  readonly [key: string]: unknown
}

/** One line of a recording: what the Stately inspector receives, or a statesource event. */
export type RecordedInspectionEvent = StatelyInspectionEvent | StatesourceInspectionRecord

/** An actor seen in a recording. */
export interface RecordedActor {
  readonly sessionId: string
  /** The actor id: `type|id` for an aggregate, the gateway's name for the gateway. */
  readonly name: string
  readonly parentId: string | undefined
  /** The machine config as JSON (what Stately tools draw), when the actor is a machine. */
  readonly definition: string | undefined
}

/** What {@link createInspectionRecorder} is created with; every field has a default. */
export interface InspectionRecorderConfig {
  /** Appends each event as one JSON line to this file. Default: no file. */
  readonly file?: string
  /** How many events to keep in memory for `records`, `actors()` and `eventsOf()`; the oldest go first. Default 10,000. */
  readonly maxInMemory?: number
  /** Which events to record. Default all. */
  readonly filter?: (event: RecordedInspectionEvent) => boolean
  /** Replaces context before it is recorded (secrets, large values). */
  readonly sanitizeContext?: (context: MachineContext) => MachineContext
  /** Replaces events before they are recorded. */
  readonly sanitizeEvent?: (event: AnyEventObject) => AnyEventObject
}

/** @deprecated Use {@link InspectionRecorderConfig}: a factory's input is an `XConfig`. */
export type InspectionRecorderOptions = InspectionRecorderConfig

/** An in-process inspection recorder; pass `inspect` to `materialize({ inspect })` or `createActor`. */
export interface InspectionRecorder {
  /** The XState inspection observer. */
  readonly inspect: (event: InspectionEvent) => void
  /** The recorded events still in memory, oldest first. */
  readonly records: readonly RecordedInspectionEvent[]
  /** Inspection events that could not be converted (and were skipped, not thrown). */
  readonly failures: number
  /** Every actor registered so far (one per aggregate id, plus the gateway). */
  actors(): RecordedActor[]
  /** The events an actor received, by its name (`'order|o-1'`), in order. */
  eventsOf(name: string): { type: string; [key: string]: unknown }[]
  /** Flushes and closes the file. Later events are still kept in memory but not written. */
  close(): Promise<void>
}

/**
 * Records XState and statesource inspection events in memory and, optionally, as JSON lines in a file,
 * in the same form the Stately inspector receives them (`@xstate.actor` with the machine definition,
 * `@xstate.event`, `@xstate.snapshot`).
 *
 * @example
 * ```ts
 * const recorder = createInspectionRecorder({ file: 'inspection.jsonl' })
 * const handles = await topology.materialize({ inspect: recorder.inspect })
 * await handles.repository(order).send('o-1', { type: 'addItem', sku: 'tea' })
 * console.log(recorder.eventsOf('order|o-1').map((e) => e.type)) // ['itemAdded']
 * await recorder.close()
 * ```
 *
 * @remarks
 * Events are converted synchronously, when XState reports them, into the shape `@statelyai/inspect` sends
 * (so `statesource replay` can send a recording to the Stately inspector); the `definition` of a machine
 * actor is its {@link toStatelyConfig} JSON. The gateway's snapshot is recorded as its counters only (its
 * `toJSON`). The gateway's pipeline events are not inspection events but events it emits: the recorder
 * listens to them on each actor that is not a machine as it appears, so they are recorded whether the
 * recorder was given to `materialize` or to your own `createActor`. Writes to the file are buffered by a
 * Node stream; `close()` waits for them.
 */
export function createInspectionRecorder(options: InspectionRecorderConfig = {}): InspectionRecorder {
  const maxInMemory = options.maxInMemory ?? 10_000
  if (!Number.isInteger(maxInMemory) || maxInMemory < 0) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `maxInMemory must be an integer of at least 0, got ${maxInMemory}.`,
    )
  }
  const records: RecordedInspectionEvent[] = []
  let stream: WriteStream | undefined = options.file
    ? createWriteStream(options.file, { flags: 'a' })
    : undefined
  let streamError: Error | undefined
  stream?.on('error', (error) => {
    streamError = error
  })

  const record = (event: RecordedInspectionEvent) => {
    if (options.filter && !options.filter(event)) return
    if (maxInMemory > 0) {
      records.push(event)
      if (records.length > maxInMemory) records.shift()
    }
    stream?.write(`${JSON.stringify(event)}\n`)
  }

  let failures = 0
  const listening = new WeakSet<AnyActorRef>()
  // The gateway's pipeline events are its emitted events, not inspection events: listen to them on every
  // actor that is not a state machine (gateways, interceptor and tap actors), as soon as it appears.
  const listen = (ref: AnyActorRef) => {
    if (listening.has(ref) || (ref as { logic?: { root?: unknown } }).logic?.root) return
    listening.add(ref)
    ref.on('*', (emitted: { type: string }) => {
      if (!emitted.type.startsWith('@statesource.')) return
      try {
        record(
          plain({
            ...emitted,
            sessionId: ref.sessionId,
            createdAt: Date.now().toString(),
          }) as StatesourceInspectionRecord,
        )
      } catch {
        failures++
      }
    })
  }
  const inspect = (event: InspectionEvent) => {
    // An observer that throws would fail the actor being inspected: a recorder must never do that.
    try {
      if (event.type === '@xstate.actor') listen(event.actorRef as AnyActorRef)
      const converted = toRecordedEvent(event, options)
      if (converted) record(converted)
    } catch {
      failures++
    }
  }

  return {
    inspect,
    get records() {
      return records
    },
    get failures() {
      return failures
    },
    actors() {
      return records
        .filter(
          (r): r is Extract<StatelyInspectionEvent, { type: '@xstate.actor' }> => r.type === '@xstate.actor',
        )
        .map((r) => ({
          sessionId: r.sessionId,
          name: r.name,
          parentId: r.parentId,
          definition: r.definition,
        }))
    },
    eventsOf(name) {
      const sessions = new Set(
        this.actors()
          .filter((a) => a.name === name)
          .map((a) => a.sessionId),
      )
      return records
        .filter((r) => r.type === '@xstate.event' && sessions.has(r.sessionId))
        .map((r) => (r as Extract<StatelyInspectionEvent, { type: '@xstate.event' }>).event as never)
    },
    async close() {
      const s = stream
      stream = undefined
      if (!s) return
      await new Promise<void>((resolve, reject) => {
        s.end(() => (streamError ? reject(streamError) : resolve()))
      })
      if (streamError) throw streamError
    },
  }
}

/**
 * Reads a recording written by {@link createInspectionRecorder}.
 *
 * @example
 * ```ts
 * const events = await readInspectionLog('inspection.jsonl')
 * console.log(events.filter((e) => e.type === '@xstate.actor').length)
 * ```
 */
export async function readInspectionLog(file: string): Promise<RecordedInspectionEvent[]> {
  const text = await readFile(file, 'utf8')
  const out: RecordedInspectionEvent[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    try {
      out.push(JSON.parse(line) as RecordedInspectionEvent)
    } catch (error) {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Line ${i + 1} of "${file}" is not JSON (${(error as Error).message}). Pass a file written by createInspectionRecorder.`,
      )
    }
  }
  return out
}

const VERSION = '0.7.2'

/** @internal Converts one XState inspection event to the recorded form, or `undefined` to skip it. */
export function toRecordedEvent(
  event: InspectionEvent,
  options: Pick<InspectionRecorderConfig, 'sanitizeContext' | 'sanitizeEvent'> = {},
): RecordedInspectionEvent | undefined {
  const type = event.type as string
  const ref = event.actorRef as AnyActorRef & { _parent?: { sessionId: string }; logic?: unknown }
  const createdAt = Date.now().toString()
  const base = {
    sessionId: ref.sessionId,
    rootId: event.rootId,
    _version: VERSION,
    createdAt,
    id: null as never,
  }
  const sanitizeEvent = (e: unknown) => (options.sanitizeEvent ? options.sanitizeEvent(e as never) : e)
  switch (type) {
    case '@xstate.actor': {
      const logic = ref.logic as { config?: { id?: string }; root?: unknown } | undefined
      const name = ref.id === ref.sessionId && logic?.config?.id ? logic.config.id : ref.id
      const definition =
        logic?.root && logic.config
          ? JSON.stringify(toStatelyConfig(logic as never).config)
          : JSON.stringify({ id: name })
      return {
        ...base,
        type: '@xstate.actor',
        name,
        definition,
        parentId: ref._parent?.sessionId,
        snapshot: snapshotOf(ref, readSnapshot(ref), options),
      } as RecordedInspectionEvent
    }
    case '@xstate.event': {
      const e = event as Extract<InspectionEvent, { type: '@xstate.event' }>
      return {
        ...base,
        type: '@xstate.event',
        event: plain(sanitizeEvent(e.event)),
        sourceId: e.sourceRef?.sessionId,
      } as RecordedInspectionEvent
    }
    case '@xstate.snapshot': {
      const e = event as Extract<InspectionEvent, { type: '@xstate.snapshot' }>
      return {
        ...base,
        type: '@xstate.snapshot',
        event: plain(sanitizeEvent(e.event)),
        snapshot: snapshotOf(ref, e.snapshot, options),
      } as unknown as RecordedInspectionEvent
    }
    default:
      // Actions and microsteps are not what the Stately inspector draws; leave them out.
      return undefined
  }
}

// XState reports a new actor before its first snapshot exists; the first @xstate.snapshot carries it.
function readSnapshot(ref: AnyActorRef): unknown {
  try {
    return ref.getSnapshot()
  } catch {
    return undefined
  }
}

function snapshotOf(
  ref: AnyActorRef,
  snapshot: unknown,
  options: Pick<InspectionRecorderConfig, 'sanitizeContext'>,
): Record<string, unknown> {
  // Through toJSON first: the gateway's snapshot turns into its counters there.
  const s = plain(snapshot) as
    | { status?: string; value?: unknown; context?: unknown; output?: unknown }
    | undefined
  let context = s?.context
  if (options.sanitizeContext && context && typeof context === 'object')
    context = options.sanitizeContext(context as never)
  return plain({ status: s?.status, value: s?.value, context, output: s?.output, id: ref.id }) as Record<
    string,
    unknown
  >
}

/** JSON-safe copy: functions become `{ type: name }`, cycles and values past depth 12 become strings. */
function plain(value: unknown): unknown {
  const seen = new WeakSet<object>()
  const copy = (v: unknown, depth: number): unknown => {
    if (typeof v === 'function') return { type: (v as Function).name || '(anonymous)' }
    if (typeof v === 'bigint') return v.toString()
    if (v === null || typeof v !== 'object') return v
    if (seen.has(v)) return '[Circular]'
    if (depth > 12) return '[Too deep]'
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function' && !Array.isArray(v)) {
      return copy((v as { toJSON(): unknown }).toJSON(), depth)
    }
    seen.add(v)
    const out: unknown = Array.isArray(v)
      ? v.map((item) => copy(item, depth + 1))
      : Object.fromEntries(Object.entries(v).map(([k, item]) => [k, copy(item, depth + 1)]))
    seen.delete(v)
    return out
  }
  return copy(value, 0)
}
