import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WorkloadKind, WorkloadSize } from './cart-workload.ts'
import type { CommandCaseOptions, CommandCaseResult } from './cases/command-case.ts'
import type { JournalAppendResult } from './cases/journal-case.ts'
import type { MemoryResult } from './cases/memory-case.ts'
import type { RawAppendRun } from './cases/raw-case.ts'
import { RAW_BATCH } from './cases/raw-case.ts'
import type { CatchupResult, LagResult } from './cases/read-side-case.ts'
import type { ColdRecoveryResult } from './cases/recovery-case.ts'
import type { CaseName } from './child.ts'
import { RESULT_PREFIX } from './child-protocol.ts'
import type { OpenLoopResult } from './command-driver.ts'
import { SWEEP_PEERS } from './peers.ts'
import { type SqliteSynchronous, SYNCHRONOUS } from './sqlite-settings.ts'

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CHILD = path.join(PACKAGE_DIR, 'src', 'child.ts')

/** The sizes of one run. `pnpm bench` uses {@link FULL_SIZES}; `--quick` (and the smoke test) {@link QUICK_SIZES}. */
export interface BenchSizes {
  /** statesource's workload (and the storage limit's, the in-memory peers'): commands round-robin over carts. */
  readonly commands: number
  readonly streams: number
  /** The workload of peers that run one command at a time (Emmett durable, the Kysely repository). */
  readonly peerCommands: number
  readonly peerStreams: number
  /** Commands in flight of the sweep. */
  readonly concurrencies: readonly number[]
  /** Concurrencies the sweep runs the other peers at (statesource runs all of `concurrencies`). */
  readonly peerConcurrencies: readonly number[]
  /** The concurrency of the headline ratios. */
  readonly headline: number
  /** Warm-up commands before each timed command run (four per warm-up cart). */
  readonly warmUp: number
  /**
   * A closed-loop run stops handing out commands after this many seconds (its report says how many ran):
   * keeps a slow side or a loaded machine from stretching the run. The scale run has no limit.
   */
  readonly maxSeconds: number
  /** Rounds of every command case (interleaved; medians and spread are reported). */
  readonly rounds: number
  /** Seconds of each open-loop rate. */
  readonly openLoopSeconds: number
  readonly loadFractions: readonly number[]
  readonly scaleCommands: number
  readonly scaleStreams: number
  readonly scaleWindow: number
  /** The 3-events and Zipf workloads (statesource and Emmett durable, at `headline` in flight). */
  readonly workloadCommands: number
  readonly workloadStreams: number
  readonly peerWorkloadCommands: number
  readonly bigEvents: number
  readonly bigTail: number
  readonly snapshotEvery: number
  readonly recoveryAggregates: number
  readonly recoveryEventsPerAggregate: number
  readonly recoveryMaxTail: number
  readonly liveAggregates: number
  readonly lagCommands: number
  readonly pollIntervalMs: number
  /** The journal-vs-raw case of packages/sqlite/bench. */
  readonly journalEvents: number
  readonly journalInFlight: number
}

/** The sizes the issue asks for, sized to finish in about ten minutes on 2 cores. */
export const FULL_SIZES: BenchSizes = {
  commands: 30_000,
  streams: 1_500,
  peerCommands: 4_000,
  peerStreams: 200,
  concurrencies: [1, 10, 100, 1000],
  peerConcurrencies: [1, 10, 100, 1000],
  headline: 100,
  warmUp: 1_000,
  maxSeconds: 10,
  rounds: 3,
  openLoopSeconds: 5,
  loadFractions: [0.25, 0.5, 0.75, 0.9],
  scaleCommands: 1_000_000,
  scaleStreams: 10_000,
  scaleWindow: 50_000,
  workloadCommands: 30_000,
  workloadStreams: 1_500,
  peerWorkloadCommands: 4_000,
  bigEvents: 100_000,
  bigTail: 999,
  snapshotEvery: 1_000,
  recoveryAggregates: 10_000,
  recoveryEventsPerAggregate: 20,
  recoveryMaxTail: 19,
  liveAggregates: 100_000,
  lagCommands: 30_000,
  pollIntervalMs: 10,
  journalEvents: 20_000,
  journalInFlight: 1_000,
}

/** `--scale=10m`: the scale run with 10,000,000 events (about 10 minutes more). */
export const TEN_MILLION: Partial<BenchSizes> = {
  scaleCommands: 10_000_000,
  scaleStreams: 100_000,
  scaleWindow: 500_000,
}

/** A few seconds per case: for the smoke test and for trying changes. */
export const QUICK_SIZES: BenchSizes = {
  ...FULL_SIZES,
  commands: 1_000,
  streams: 50,
  peerCommands: 200,
  peerStreams: 10,
  // Every concurrency and every load, as in a full run, so that the smoke test runs every code path.
  peerConcurrencies: [1, 10, 100, 1000],
  warmUp: 200,
  maxSeconds: 60,
  rounds: 1,
  openLoopSeconds: 0.25,
  loadFractions: [0.25, 0.5, 0.75, 0.9],
  scaleCommands: 5_000,
  scaleStreams: 250,
  scaleWindow: 1_000,
  workloadCommands: 1_000,
  workloadStreams: 50,
  peerWorkloadCommands: 200,
  bigEvents: 3_000,
  recoveryAggregates: 200,
  liveAggregates: 2_000,
  lagCommands: 1_000,
  journalEvents: 2_000,
  journalInFlight: 100,
}

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Use {@link QUICK_SIZES}. Default false. */
  readonly quick?: boolean
  /** Override single sizes (after `quick` picked the defaults). */
  readonly sizes?: Partial<BenchSizes>
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void
  /** Directory for the scratch databases. Default: the OS temp dir. */
  readonly dir?: string
  /**
   * Run the cases in this process instead of one fresh process each (default: only in quick mode, where
   * process start-ups would cost more than the cases). The figures are then only good for checking that
   * everything runs.
   */
  readonly inProcess?: boolean
  /**
   * `PRAGMA synchronous` of every SQLite file, on every side. Default {@link SYNCHRONOUS} (`FULL`: an
   * acknowledged command survives power loss). The smoke test uses `NORMAL` so that a loaded machine's slow
   * syncs do not stretch it.
   */
  readonly synchronous?: SqliteSynchronous
  /**
   * Called before every case with the run so far (`complete: false`; the finished run is what `runBench`
   * returns), so that a crash or a stop late in the run keeps the figures measured before it. `pnpm bench`
   * writes the report each time.
   */
  readonly onProgress?: (run: BenchRun) => void | Promise<void>
}

/** Every measured figure of a run as one flat object (what `bench-results.json` holds). */
export type BenchResults = Record<string, number | string>

/** A case that failed or timed out: the run goes on, and the report shows the reason where the figure would be. */
export interface CaseFailure {
  /** What the report looks the failure up by (`statesource@100`, `raw@100`, `scale`, `recovery:big`, …). */
  readonly key: string
  /** The case's progress label (`round 2/3: statesource, 100 in flight`). */
  readonly label: string
  readonly reason: string
}

/**
 * One round of the sweep at one concurrency: statesource, the storage limit paired with it, the other peers.
 * A side that failed is absent (its failure is in {@link BenchRun.failures}).
 */
export interface SweepRound {
  readonly concurrency: number
  readonly statesource: CommandCaseResult | undefined
  /** statesource's events per transaction in this run: what the storage limit runs at (NaN if it failed). */
  readonly rowsPerTransaction: number
  /** Raw at `round(rowsPerTransaction)`, at `concurrency` rows and (at the headline) at 1,000 rows per transaction. */
  readonly raw: readonly RawAppendRun[]
  readonly peers: Readonly<Record<string, CommandCaseResult>>
}

/**
 * The raw results of every case of a run, before they are flattened. While the run is under way (and when
 * cases failed) parts are missing: `complete` says whether every case has been attempted, `failures` which
 * of them failed and why.
 */
export interface BenchRun {
  readonly quick: boolean
  readonly sizes: BenchSizes
  readonly synchronous: SqliteSynchronous
  readonly startedAt: string
  readonly seconds: number
  /** Every case has been attempted (false in the snapshots written while the run is under way). */
  readonly complete: boolean
  readonly failures: readonly CaseFailure[]
  readonly sweep: readonly SweepRound[]
  /** Emmett's shared connection at the headline concurrency (acknowledges before commit), per round. */
  readonly emmettShared: readonly CommandCaseResult[]
  /** statesource at the headline concurrency with `synchronous=NORMAL`, per round. */
  readonly statesourceNormal: readonly CommandCaseResult[]
  /** In-memory peers at 1 and the headline concurrency, per round. */
  readonly inMemory: readonly CommandCaseResult[]
  /** The 3-events and Zipf workloads, statesource and Emmett durable, per round. */
  readonly workloads: readonly CommandCaseResult[]
  readonly latency: {
    /** NaN until the sweep has a statesource figure. */
    readonly maxPerSec: number
    readonly rates: readonly (OpenLoopResult & { fraction: number })[]
  }
  readonly scale: SoFar<Scale>
  readonly recovery: SoFar<Recovery>
  readonly memory?: MemoryResult | undefined
  readonly catchup?: CatchupResult | undefined
  readonly lag?: LagResult | undefined
  readonly journal?: JournalAppendResult | undefined
}

/** The parts measured so far (a part whose case failed stays undefined). */
type SoFar<T> = { [K in keyof T]?: T[K] | undefined }
interface Scale {
  readonly statesource: CommandCaseResult
  readonly raw: RawAppendRun
}
interface Recovery {
  readonly big: ColdRecoveryResult
  readonly bigNoSnapshot: ColdRecoveryResult
  readonly many: ColdRecoveryResult
}

/** How long a case may run in its own process before it is stopped and reported as failed. */
function timeoutSecondsOf(name: CaseName, options: Record<string, unknown>, sizes: BenchSizes): number {
  if (name === 'command') {
    const workload = options.workload as WorkloadSize
    // The scale run has no time limit of its own: allow 500 commands/s at least.
    if (options.windowCommands !== undefined) return 600 + workload.commands / 500
    if (options.perSec !== undefined) return 300 + 3 * (workload.commands / (options.perSec as number))
    return 300 + 3 * sizes.maxSeconds
  }
  if (name === 'raw' && options.windowRows !== undefined) return 600 + sizes.scaleCommands / 1_000
  if (name === 'catchup') return 600 + sizes.scaleCommands / 2_000
  return 900
}

// Process groups of the cases running now: stopped if the runner ends first, by an exception or by Ctrl-C (the
// lag case starts a process of its own, and a detached group is not stopped with the runner otherwise).
const running = new Set<number>()
function stopRunning(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
}
function onSignal(signal: NodeJS.Signals): void {
  stopRunning()
  process.kill(process.pid, signal)
}
function track(pid: number): void {
  if (running.size === 0) {
    process.on('exit', stopRunning)
    // Only while a case runs: the default handling of the signal comes back afterwards.
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }
  running.add(pid)
}
function untrack(pid: number): void {
  running.delete(pid)
  if (running.size === 0) {
    process.off('exit', stopRunning)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

/**
 * Runs one case in a fresh `node` process and returns its result line, parsed; with `inProcess` (quick mode),
 * in this process instead (its flags are then not applied: the memory case exposes `gc` itself). A process
 * that has not answered after `timeoutSeconds` is stopped (with any process it started) and the case rejects.
 */
export async function runCaseIn<T>(
  name: CaseName,
  options: object,
  config: { exposeGc?: boolean; maxOldSpaceMb?: number; inProcess?: boolean; timeoutSeconds?: number } = {},
): Promise<T> {
  if (config.inProcess) {
    const { runCaseHere } = await import('./child.ts')
    return JSON.parse(JSON.stringify(await runCaseHere(name, options as Record<string, unknown>))) as T
  }
  const args = [
    ...(config.exposeGc ? ['--expose-gc'] : []),
    ...(config.maxOldSpaceMb ? [`--max-old-space-size=${config.maxOldSpaceMb}`] : []),
    // The workspace packages from their sources, as `pnpm bench` runs them (their exports' source condition).
    '--conditions=@statesource/source',
    '--import',
    'tsx',
    CHILD,
    name,
    JSON.stringify(options),
  ]
  return new Promise<T>((resolve, reject) => {
    // A process group of its own, so that a stuck case is stopped together with the processes it started.
    const child = spawn(process.execPath, args, {
      cwd: PACKAGE_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const pid = child.pid
    if (pid !== undefined) track(pid)
    let timedOut = false
    const timer =
      config.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            try {
              if (pid !== undefined) process.kill(-pid, 'SIGKILL')
            } catch {
              child.kill('SIGKILL')
            }
          }, config.timeoutSeconds * 1000)
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      // Keep the end only: the reason of a failure is at the end.
      stderr = (stderr + chunk).slice(-20_000)
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (pid !== undefined) untrack(pid)
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
      if (timedOut) {
        reject(
          new Error(`Benchmark case "${name}" timed out after ${config.timeoutSeconds} s and was stopped.`),
        )
      } else if (code !== 0 || !line) {
        reject(
          new Error(
            `Benchmark case "${name}" failed (exit ${code ?? signal}). Its output ends with:\n${(stderr || stdout).slice(-2000)}`,
          ),
        )
      } else {
        resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as T)
      }
    })
  })
}

/** Median of numbers (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Runs every benchmark case, each in its own child process, and returns their results. Command cases run
 * `rounds` times, interleaved (every peer and concurrency once per round), so drift of a noisy machine
 * spreads over all sides; the storage limit runs right after the statesource run it is paired with. A case
 * that fails or times out is recorded in `failures` and the run goes on; `onProgress` sees the run before
 * every case.
 *
 * @example
 * ```ts
 * const run = await runBench({ quick: true })
 * console.log(toResults(run).e2e_vs_emmett_durable_100)
 * ```
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchRun> {
  const quick = options.quick ?? false
  const sizes: BenchSizes = { ...(quick ? QUICK_SIZES : FULL_SIZES), ...options.sizes }
  const log = options.log ?? (() => {})
  const inProcess = options.inProcess ?? quick
  const dir = mkdtempSync(path.join(options.dir ?? os.tmpdir(), 'statesource-bench-'))
  const synchronous = options.synchronous ?? SYNCHRONOUS
  const startedAt = new Date().toISOString()
  const started = performance.now()
  const warmUp = sizes.warmUp
  const main: WorkloadSize = { commands: sizes.commands, streams: sizes.streams, warmUp }
  const peerWorkload: WorkloadSize = { commands: sizes.peerCommands, streams: sizes.peerStreams, warmUp }

  // The run so far: filled in case by case, handed to `onProgress` after each.
  const failures: CaseFailure[] = []
  const sweep: SweepRound[] = []
  const emmettShared: CommandCaseResult[] = []
  const statesourceNormal: CommandCaseResult[] = []
  const inMemory: CommandCaseResult[] = []
  const workloads: CommandCaseResult[] = []
  const latency = { maxPerSec: Number.NaN, rates: [] as (OpenLoopResult & { fraction: number })[] }
  const scale: { -readonly [K in keyof Scale]?: Scale[K] | undefined } = {}
  const recovery: { -readonly [K in keyof Recovery]?: Recovery[K] | undefined } = {}
  const rest: {
    memory?: MemoryResult | undefined
    catchup?: CatchupResult | undefined
    lag?: LagResult | undefined
    journal?: JournalAppendResult | undefined
  } = {}
  const snapshot = (complete: boolean): BenchRun => ({
    quick,
    sizes,
    synchronous,
    startedAt,
    seconds: (performance.now() - started) / 1000,
    complete,
    failures: [...failures],
    sweep: [...sweep],
    emmettShared: [...emmettShared],
    statesourceNormal: [...statesourceNormal],
    inMemory: [...inMemory],
    workloads: [...workloads],
    latency: { maxPerSec: latency.maxPerSec, rates: [...latency.rates] },
    scale: { ...scale },
    recovery: { ...recovery },
    ...rest,
  })
  const progress = async () => {
    try {
      await options.onProgress?.(snapshot(false))
    } catch (error) {
      log(`writing the results so far failed: ${(error as Error).message}`)
    }
  }

  /**
   * Runs one case, after handing the run so far to `onProgress`; on failure records it under `key` (the
   * report shows the reason) and returns undefined.
   */
  const attempt = async <T>(
    key: string,
    label: string,
    name: CaseName,
    caseOptions: Record<string, unknown>,
    config: { exposeGc?: boolean; maxOldSpaceMb?: number } = {},
  ): Promise<T | undefined> => {
    // What the cases before this one measured (and the failures among them) is written first.
    await progress()
    const t0 = performance.now()
    try {
      const result = await runCaseIn<T>(name, caseOptions, {
        ...config,
        inProcess,
        timeoutSeconds: timeoutSecondsOf(name, caseOptions, sizes),
      })
      log(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      return result
    } catch (error) {
      const reason = String((error as Error)?.message ?? error)
      failures.push({ key, label, reason })
      log(`${label}: FAILED after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${reason}`)
      return undefined
    }
  }
  const command = (
    key: string,
    label: string,
    o: Omit<CommandCaseOptions, 'synchronous'> & { synchronous?: SqliteSynchronous },
  ) =>
    attempt<CommandCaseResult>(key, label, 'command', {
      synchronous,
      dir,
      maxSeconds: sizes.maxSeconds,
      ...o,
    })
  const raw = (
    key: string,
    label: string,
    workload: WorkloadSize,
    batches: number[],
    windowRows?: number,
    commands?: number,
  ) =>
    attempt<RawAppendRun[]>(
      key,
      label,
      'raw',
      { synchronous, dir, workload, batches, windowRows, commands },
      { maxOldSpaceMb: 8192 },
    )

  try {
    for (let round = 1; round <= Math.max(1, sizes.rounds); round++) {
      const r = `round ${round}/${sizes.rounds}`
      for (const concurrency of sizes.concurrencies) {
        const statesource = await command(
          `statesource@${concurrency}`,
          `${r}: statesource, ${concurrency} in flight`,
          { peer: 'statesource', workload: main, concurrency },
        )
        const rowsPerTransaction = statesource
          ? statesource.ok / Math.max(1, statesource.counters.transactions ?? 1)
          : Number.NaN
        const entry: SweepRound & { raw: RawAppendRun[]; peers: Record<string, CommandCaseResult> } = {
          concurrency,
          statesource,
          rowsPerTransaction,
          raw: [],
          peers: {},
        }
        sweep.push(entry)
        if (statesource) {
          const batches = [...new Set([Math.max(1, Math.round(rowsPerTransaction)), concurrency])]
          if (concurrency === sizes.headline) batches.push(RAW_BATCH)
          // The same rows statesource wrote: the first `commands` of the workload (all, unless its run hit
          // the time limit).
          const rawRuns = await raw(
            `raw@${concurrency}`,
            `${r}: storage limit at ${batches.join(', ')} rows per transaction`,
            main,
            batches,
            undefined,
            statesource.commands,
          )
          entry.raw.push(...(rawRuns ?? []))
        }
        if (sizes.peerConcurrencies.includes(concurrency)) {
          for (const { peer, workload } of SWEEP_PEERS) {
            const result = await command(
              `${peer}@${concurrency}`,
              `${r}: ${peer}, ${concurrency} in flight`,
              {
                peer,
                workload: workload === 'main' ? main : peerWorkload,
                concurrency,
              },
            )
            if (result) entry.peers[peer] = result
          }
        }
      }
      const shared = await command(
        'emmett-shared',
        `${r}: Emmett shared connection, ${sizes.headline} in flight`,
        { peer: 'emmett-shared', workload: peerWorkload, concurrency: sizes.headline },
      )
      if (shared) emmettShared.push(shared)
      const normal = await command(
        'statesource-normal',
        `${r}: statesource NORMAL, ${sizes.headline} in flight`,
        { peer: 'statesource', workload: main, concurrency: sizes.headline, synchronous: 'NORMAL' },
      )
      if (normal) statesourceNormal.push(normal)
      for (const peer of ['statesource-memory', 'emmett-memory']) {
        for (const concurrency of [1, sizes.headline]) {
          const result = await command(`${peer}@${concurrency}`, `${r}: ${peer}, ${concurrency} in flight`, {
            peer,
            workload: main,
            concurrency,
          })
          if (result) inMemory.push(result)
        }
      }
      for (const kind of ['triple', 'zipf'] as WorkloadKind[]) {
        const size = (commands: number) => ({
          commands,
          streams: kind === 'zipf' ? 1_000 : (commands / sizes.workloadCommands) * sizes.workloadStreams,
          kind,
          warmUp,
        })
        const ours = await command(`${kind}/statesource`, `${r}: statesource, ${kind}`, {
          peer: 'statesource',
          workload: size(sizes.workloadCommands),
          concurrency: sizes.headline,
        })
        if (ours) workloads.push(ours)
        const theirs = await command(`${kind}/emmett-durable`, `${r}: Emmett durable, ${kind}`, {
          peer: 'emmett-durable',
          workload: size(sizes.peerWorkloadCommands),
          concurrency: sizes.headline,
        })
        if (theirs) workloads.push(theirs)
      }
    }

    // Open loop at fractions of the highest closed-loop rate statesource reached (median per concurrency).
    const medians = sizes.concurrencies
      .map((c) =>
        median(
          sweep
            .filter((s) => s.concurrency === c && s.statesource !== undefined)
            .map((s) => s.statesource!.commandsPerSec),
        ),
      )
      .filter((v) => Number.isFinite(v))
    latency.maxPerSec = medians.length > 0 ? Math.max(...medians) : Number.NaN
    // Without a closed-loop figure (every statesource run failed), the rates that depend on it use a modest guess.
    const maxPerSec = Number.isFinite(latency.maxPerSec) ? latency.maxPerSec : 1_000
    for (const fraction of sizes.loadFractions) {
      const perSec = Math.round(maxPerSec * fraction)
      const commands = Math.max(1_000, Math.round(perSec * sizes.openLoopSeconds))
      const result = await attempt<OpenLoopResult>(
        `latency@${fraction}`,
        `open loop at ${fraction * 100} % of ${Math.round(maxPerSec)} cmd/s`,
        'command',
        {
          synchronous,
          dir,
          peer: 'statesource',
          workload: { commands, streams: Math.max(1, Math.round(commands / 20)), warmUp },
          concurrency: sizes.headline,
          perSec,
        },
      )
      if (result) latency.rates.push({ ...result, fraction })
    }

    // Scale: statesource fills a large journal (the throughput of each window against the journal's size),
    // then the storage limit writes the same rows at the rows per transaction statesource committed.
    const scaleFile = path.join(dir, 'scale.db')
    const scaleWorkload = { commands: sizes.scaleCommands, streams: sizes.scaleStreams, warmUp }
    scale.statesource = await attempt<CommandCaseResult>(
      'scale',
      `scale: statesource, ${sizes.scaleCommands.toLocaleString('en-US')} commands`,
      'command',
      {
        synchronous,
        dir,
        peer: 'statesource',
        workload: scaleWorkload,
        concurrency: 1000,
        windowCommands: sizes.scaleWindow,
        keepFileAs: scaleFile,
      },
      { maxOldSpaceMb: 8192 },
    )
    if (scale.statesource) {
      const scaleBatch = Math.max(
        1,
        Math.round(scale.statesource.ok / Math.max(1, scale.statesource.counters.transactions ?? 1)),
      )
      scale.raw = (
        await raw(
          'scale-raw',
          `scale: storage limit at ${scaleBatch} rows per transaction`,
          scaleWorkload,
          [scaleBatch],
          sizes.scaleWindow,
        )
      )?.[0]
      rest.catchup = await attempt<CatchupResult>(
        'catchup',
        'read side: catch-up over the scale journal',
        'catchup',
        { file: scaleFile, synchronous },
        { maxOldSpaceMb: 8192 },
      )
    } else {
      failures.push({
        key: 'catchup',
        label: 'read side: catch-up over the scale journal',
        reason: 'not run: it reads the journal of the scale run, which failed',
      })
    }
    for (const suffix of ['', '-wal', '-shm']) rmSync(scaleFile + suffix, { force: true })

    rest.lag = await attempt<LagResult>('lag', 'read side: lag under load', 'lag', {
      synchronous,
      dir,
      commands: sizes.lagCommands,
      streams: Math.max(1, Math.round(sizes.lagCommands / 20)),
      perSec: Math.round(maxPerSec * 0.5),
      pollIntervalMs: sizes.pollIntervalMs,
      warmUp,
    })

    const recoveryFile = path.join(dir, 'recovery.db')
    const prepared = await attempt<{ events: number }>(
      'recovery-prep',
      'recovery: preparing the journal',
      'recovery-prep',
      {
        file: recoveryFile,
        synchronous,
        bigEvents: sizes.bigEvents,
        bigTail: sizes.bigTail,
        snapshotEvery: sizes.snapshotEvery,
        aggregates: sizes.recoveryAggregates,
        eventsPerAggregate: sizes.recoveryEventsPerAggregate,
        maxTail: sizes.recoveryMaxTail,
      },
    )
    const targets = [
      ['big', 'big'],
      ['bigNoSnapshot', 'big-no-snapshot'],
      ['many', 'many'],
    ] as const
    for (const [field, target] of targets) {
      if (!prepared) {
        failures.push({
          key: `recovery:${target}`,
          label: `recovery, cold: ${target}`,
          reason: 'not run: preparing its journal failed',
        })
        continue
      }
      recovery[field] = await attempt<ColdRecoveryResult>(
        `recovery:${target}`,
        `recovery, cold: ${target}`,
        'recovery-cold',
        {
          file: recoveryFile,
          synchronous,
          target,
          aggregates: sizes.recoveryAggregates,
          concurrency: sizes.headline,
        },
      )
    }
    rmSync(recoveryFile, { force: true })

    rest.memory = await attempt<MemoryResult>(
      'memory',
      'heap per live aggregate',
      'memory',
      { synchronous, dir, aggregates: sizes.liveAggregates, concurrency: sizes.headline },
      { exposeGc: true },
    )
    rest.journal = await attempt<JournalAppendResult>(
      'journal',
      'journal append vs raw (packages/sqlite/bench)',
      'journal',
      {
        synchronous,
        dir,
        events: sizes.journalEvents,
        // The journal bench gives each appender streams of its own: at least one per appender.
        // A multiple of the appenders, so each owns the same number of streams and no stream has two appends in flight.
        streams:
          Math.ceil(Math.max(sizes.streams, sizes.journalInFlight) / sizes.journalInFlight) *
          sizes.journalInFlight,
        inFlight: sizes.journalInFlight,
      },
    )
    return snapshot(true)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
