import * as hdr from 'hdr-histogram-js'
import {
  type CartCommand,
  commandAt,
  EVENTS_PER_COMMAND,
  type WorkloadSize,
  warmUpCommandAt,
  warmUpOf,
} from './cart-workload.ts'
import { type CpuSplit, cpuBetween, readThreadCpu } from './thread-cpu.ts'

/** A command refused because the cart was not at the expected version; `actual` is its version then. */
export class WorkloadConflict extends Error {
  override readonly name = 'WorkloadConflict'
  constructor(readonly actual: number) {
    super(`Version conflict: the cart is at version ${actual}.`)
  }
}

/**
 * Handles one command on one side of the comparison; resolves with the number of events it recorded and the
 * cart's version afterwards, rejects with {@link WorkloadConflict} when `expectedVersion` did not hold.
 */
export type CommandRunner = (
  cartId: string,
  command: CartCommand,
  expectedVersion: number | undefined,
) => Promise<{ events: number; version: number }>

/** Throughput of one stretch of a run (for throughput against journal size). */
export interface RunWindow {
  /** Commands of the run completed when the window ended. */
  readonly commandsDone: number
  /** Events in the store when the window ended (the run's own, plus what was there before). */
  readonly journalEvents: number
  readonly commandsPerSec: number
}

/** What one closed-loop run reports. */
export interface CommandRunResult {
  readonly commands: number
  readonly streams: number
  readonly kind: string
  readonly concurrency: number
  readonly ok: number
  readonly errors: number
  /** Commands refused by the `expectedVersion` check (zipf workload); not counted in `errors`. */
  readonly conflicts: number
  /** Up to five distinct error messages, for the report. */
  readonly errorKinds: readonly string[]
  readonly seconds: number
  readonly commandsPerSec: number
  readonly eventsPerSec: number
  /** CPU per completed command, in microseconds: event-loop thread, busiest other thread, all other threads. */
  readonly cpuUsPerCommand: { readonly main: number; readonly busiestOther: number; readonly other: number }
  /** The first command of every cart (first contact: a cart brought to life), when the workload is round-robin. */
  readonly firstContact: { readonly commands: number; readonly seconds: number } | undefined
  /** The rest of the run. */
  readonly steadyCommandsPerSec: number
  readonly windows: readonly RunWindow[]
  /** Warm-up commands that failed (reported, not timed). */
  readonly warmUpErrors: number
}

/** Options of {@link driveCommands}. */
export interface DriveOptions {
  /** Called between the warm-up and the timed run. */
  readonly beforeTimedRun?: () => void
  /** Commands per throughput window. Default: the whole run is one window. */
  readonly windowCommands?: number
  /** Events stored before the timed run (for the windows' journal size). Default 0. */
  readonly eventsBefore?: number
  /**
   * Stop handing out commands once the timed run has lasted this long (the commands in flight still
   * complete); `commands` then reports how many ran. Default: no limit.
   */
  readonly maxSeconds?: number
}

const perCommand = (cpu: CpuSplit, commands: number) => ({
  main: cpu.mainUs / Math.max(1, commands),
  busiestOther: cpu.busiestOtherUs / Math.max(1, commands),
  other: cpu.otherUs / Math.max(1, commands),
})

/**
 * Runs the warm-up commands, then the timed workload, each with `concurrency` workers pulling from one
 * shared queue (a closed loop: a worker sends its next command only after the previous one was answered).
 * Every side of the comparison goes through this same driver.
 *
 * @example
 * ```ts
 * const run = await driveCommands({ commands: 20_000, streams: 1_000 }, 100, async () => ({ events: 1, version: 1 }))
 * ```
 */
export async function driveCommands(
  size: WorkloadSize,
  concurrency: number,
  run: CommandRunner,
  options: DriveOptions = {},
): Promise<CommandRunResult> {
  const kind = size.kind ?? 'single'
  const warmUp = await drivePool(
    warmUpOf(size).commands,
    concurrency,
    (i) => warmUpCommandAt(i, size),
    run,
    false,
    () => {},
  )
  options.beforeTimedRun?.()
  const windowCommands = options.windowCommands ?? size.commands
  const windows: RunWindow[] = []
  const eventsPerCommand = EVENTS_PER_COMMAND[kind]
  const roundRobin = kind !== 'zipf'
  let firstContactSeconds: number | undefined
  const cpuBefore = process.cpuUsage()
  const threadsBefore = readThreadCpu()
  const started = performance.now()
  let windowStarted = started
  let done = 0
  const deadline =
    options.maxSeconds === undefined ? Number.POSITIVE_INFINITY : started + options.maxSeconds * 1000
  const result = await drivePool(
    size.commands,
    concurrency,
    (i) => commandAt(i, size),
    run,
    kind === 'zipf',
    () => {
      done++
      const now = performance.now()
      if (roundRobin && done === size.streams) firstContactSeconds = (now - started) / 1000
      if (done % windowCommands === 0 || done === size.commands) {
        const commandsInWindow = done % windowCommands || windowCommands
        windows.push({
          commandsDone: done,
          journalEvents: (options.eventsBefore ?? 0) + done * eventsPerCommand,
          commandsPerSec: commandsInWindow / ((now - windowStarted) / 1000),
        })
        windowStarted = now
      }
    },
    deadline,
  )
  if (done % windowCommands !== 0 && done !== size.commands) {
    // Stopped by the time limit: the last, partial window.
    windows.push({
      commandsDone: done,
      journalEvents: (options.eventsBefore ?? 0) + done * eventsPerCommand,
      commandsPerSec: (done % windowCommands) / ((performance.now() - windowStarted) / 1000),
    })
  }
  const seconds = (performance.now() - started) / 1000
  const total = process.cpuUsage(cpuBefore)
  const cpu = cpuBetween(threadsBefore, readThreadCpu(), total.user + total.system)
  const firstContact =
    firstContactSeconds === undefined ? undefined : { commands: size.streams, seconds: firstContactSeconds }
  const commands = result.ok + result.errors + result.conflicts
  const steadyCommands = commands - (firstContact?.commands ?? 0)
  return {
    commands,
    streams: size.streams,
    kind,
    concurrency,
    ok: result.ok,
    errors: result.errors,
    conflicts: result.conflicts,
    errorKinds: result.errorKinds,
    seconds,
    commandsPerSec: result.ok / seconds,
    eventsPerSec: result.events / seconds,
    cpuUsPerCommand: perCommand(cpu, result.ok),
    firstContact,
    steadyCommandsPerSec: steadyCommands / (seconds - (firstContact?.seconds ?? 0)),
    windows,
    warmUpErrors: warmUp.errors,
  }
}

interface PoolResult {
  ok: number
  errors: number
  conflicts: number
  events: number
  errorKinds: string[]
}

/** Commands `0 .. commands - 1`, handled by `concurrency` workers that each wait for a reply before taking the next. */
async function drivePool(
  commands: number,
  concurrency: number,
  commandOf: (i: number) => { cartId: string; command: CartCommand },
  run: CommandRunner,
  withVersions: boolean,
  onDone: () => void,
  deadline = Number.POSITIVE_INFINITY,
): Promise<PoolResult> {
  let next = 0
  const result: PoolResult = { ok: 0, errors: 0, conflicts: 0, events: 0, errorKinds: [] }
  const kinds = new Set<string>()
  // The version the client last saw per cart: what it sends as `expectedVersion` (zipf workload).
  const versions = new Map<string, number>()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < commands && (next % 64 !== 0 || performance.now() < deadline)) {
        const { cartId, command } = commandOf(next++)
        try {
          const reply = await run(cartId, command, withVersions ? (versions.get(cartId) ?? 0) : undefined)
          result.events += reply.events
          result.ok++
          if (withVersions && reply.version > (versions.get(cartId) ?? 0)) versions.set(cartId, reply.version)
        } catch (error) {
          if (error instanceof WorkloadConflict) {
            result.conflicts++
            // The client learns the cart's version from the refusal, as it would by reloading.
            if (error.actual > (versions.get(cartId) ?? 0)) versions.set(cartId, error.actual)
          } else {
            result.errors++
            if (kinds.size < 5) kinds.add(String((error as Error)?.message ?? error).slice(0, 160))
          }
        }
        onDone()
      }
    }),
  )
  result.errorKinds = [...kinds]
  return result
}

/** What one open-loop run reports: latency per command from its scheduled send to its reply. */
export interface OpenLoopResult {
  readonly targetPerSec: number
  readonly achievedPerSec: number
  readonly commands: number
  readonly errors: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
  readonly maxMs: number
}

/**
 * An open-loop driver: sends the workload's commands at a fixed rate whatever the replies (a command's
 * latency counts from the moment it was due, so a stall delays the clock of every command behind it and is
 * not hidden: no coordinated omission), and records each latency in an HdrHistogram (microseconds, 3
 * significant digits). The warm-up runs first, closed loop with 100 in flight.
 *
 * @example
 * ```ts
 * const r = await driveOpenLoop({ commands: 30_000, streams: 1_500 }, 10_000, run)
 * console.log(r.p99Ms)
 * ```
 */
export async function driveOpenLoop(
  size: WorkloadSize,
  perSec: number,
  run: CommandRunner,
): Promise<OpenLoopResult> {
  await drivePool(
    warmUpOf(size).commands,
    100,
    (i) => warmUpCommandAt(i, size),
    run,
    false,
    () => {},
  )
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  })
  let errors = 0
  let sent = 0
  let answered = 0
  const intervalMs = 1000 / perSec
  const started = performance.now()
  await new Promise<void>((resolve) => {
    const send = (i: number, dueAt: number) => {
      const { cartId, command } = commandAt(i, size)
      run(cartId, command, undefined)
        .then(
          () => histogram.recordValue(Math.max(1, Math.round((performance.now() - dueAt) * 1000))),
          () => {
            errors++
          },
        )
        .finally(() => {
          answered++
          if (answered === size.commands) resolve()
        })
    }
    const tick = () => {
      const now = performance.now()
      while (sent < size.commands && started + sent * intervalMs <= now) {
        send(sent, started + sent * intervalMs)
        sent++
      }
      if (sent < size.commands) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()))
    }
    tick()
  })
  const seconds = (performance.now() - started) / 1000
  const ms = (us: number) => us / 1000
  const result: OpenLoopResult = {
    targetPerSec: perSec,
    achievedPerSec: (size.commands - errors) / seconds,
    commands: size.commands,
    errors,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
  }
  histogram.destroy()
  return result
}
