import { spawn } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EmmettRunOptions } from './cases/emmett-case.ts'
import type { JournalAppendResult } from './cases/journal-case.ts'
import type { MemoryResult } from './cases/memory-case.ts'
import { RAW_BATCH, type RawAppendResult } from './cases/raw-case.ts'
import type { ReadSideResult } from './cases/read-side-case.ts'
import type { RecoveryResult } from './cases/recovery-case.ts'
import type { StatesourceRunResult } from './cases/statesource-case.ts'
import type { CaseName } from './child.ts'
import { RESULT_PREFIX } from './child-protocol.ts'
import type { CommandRunResult } from './command-driver.ts'
import { SYNCHRONOUS } from './sqlite-settings.ts'

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CHILD = path.join(PACKAGE_DIR, 'src', 'child.ts')

/** The sizes of one run. `pnpm bench` uses {@link FULL_SIZES}; `--quick` (and the smoke test) {@link QUICK_SIZES}. */
export interface BenchSizes {
  /** Commands of the comparison workload, round-robin over `streams` carts. */
  readonly commands: number
  readonly streams: number
  /** Commands in flight in the concurrent runs. */
  readonly inFlight: number
  /**
   * Concurrent appends in the journal-vs-raw case: as many as raw puts in one transaction, so both sides
   * commit the same number of rows per transaction (raw: {@link RAW_BATCH}).
   */
  readonly journalInFlight: number
  /** Runs of the statesource and raw cases (interleaved; the median is reported). Emmett runs once. */
  readonly rounds: number
  readonly recoveryAggregates: number
  readonly recoveryEventsPerAggregate: number
  readonly bigAggregateEvents: number
  readonly liveAggregates: number
  readonly readSideEvents: number
  /** Live events timed for the read side's lag. */
  readonly liveLagSamples: number
}

/** The sizes the issues ask for. */
export const FULL_SIZES: BenchSizes = {
  commands: 20_000,
  streams: 1_000,
  inFlight: 100,
  journalInFlight: 1_000,
  rounds: 5,
  recoveryAggregates: 10_000,
  recoveryEventsPerAggregate: 20,
  bigAggregateEvents: 100_000,
  liveAggregates: 100_000,
  readSideEvents: 1_000_000,
  liveLagSamples: 1_000,
}

/** A few seconds per case: for the smoke test and for trying changes. */
export const QUICK_SIZES: BenchSizes = {
  commands: 1_000,
  // At least `inFlight`: the kysely journal bench gives each appender its own streams.
  streams: 100,
  inFlight: 100,
  journalInFlight: 100,
  rounds: 1,
  recoveryAggregates: 300,
  recoveryEventsPerAggregate: 20,
  bigAggregateEvents: 5_000,
  liveAggregates: 2_000,
  readSideEvents: 20_000,
  liveLagSamples: 100,
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
}

/** Every measured figure of a run as one flat object (what `bench-results.json` holds). */
export type BenchResults = Record<string, number | string>

/** The raw results of every case of a run, before they are flattened. */
export interface BenchRun {
  readonly quick: boolean
  readonly sizes: BenchSizes
  readonly statesourceConcurrent: StatesourceRunResult[]
  readonly statesourceSequential: StatesourceRunResult[]
  readonly emmettConcurrent: CommandRunResult & { synchronousPragma: number }
  readonly emmettSequential: CommandRunResult & { synchronousPragma: number }
  readonly raw: RawAppendResult[]
  /**
   * Raw at `inFlight` rows per transaction, each run right after the {@link RAW_BATCH}-row one: the most events
   * that many commands in flight can put in one transaction, so a ceiling for any design at that concurrency.
   */
  readonly rawInFlightBatch: RawAppendResult[]
  readonly journal: JournalAppendResult
  readonly recovery: RecoveryResult
  readonly memory: MemoryResult
  readonly readSide: ReadSideResult
}

/** Runs one case in a fresh `node` process and returns its result line, parsed. */
export function runCase<T>(name: CaseName, options: object, config: { exposeGc?: boolean } = {}): Promise<T> {
  const args = [
    ...(config.exposeGc ? ['--expose-gc'] : []),
    // The workspace packages from their sources, as `pnpm bench` runs them (their exports' source condition).
    '--conditions=@statesource/source',
    '--import',
    'tsx',
    CHILD,
    name,
    JSON.stringify(options),
  ]
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX))
      if (code !== 0 || !line) {
        reject(
          new Error(
            `Benchmark case "${name}" failed (exit ${code ?? signal}). Its output ends with:\n${(stderr || stdout).slice(-2000)}`,
          ),
        )
        return
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as T)
    })
  })
}

/**
 * Runs every benchmark case, each in its own child process, and returns their results. The statesource
 * and raw cases run `rounds` times, interleaved with the Emmett runs, so drift of a noisy machine spreads
 * over all sides.
 *
 * @example
 * ```ts
 * const run = await runBench({ quick: true })
 * console.log(toResults(run).e2e_vs_emmett)
 * ```
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchRun> {
  const quick = options.quick ?? false
  const sizes: BenchSizes = { ...(quick ? QUICK_SIZES : FULL_SIZES), ...options.sizes }
  const log = options.log ?? (() => {})
  const dir = options.dir ?? os.tmpdir()
  const workload = { commands: sizes.commands, streams: sizes.streams, synchronous: SYNCHRONOUS, dir }
  const timed = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now()
    log(`${label} ...`)
    const result = await run()
    log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
    return result
  }
  const statesource = (concurrency: number) =>
    timed(`statesource, ${concurrency} in flight`, () =>
      runCase<StatesourceRunResult>('statesource', { ...workload, concurrency }),
    )
  const emmett = (concurrency: number) =>
    timed(`Emmett, ${concurrency} in flight`, () =>
      runCase<CommandRunResult & { synchronousPragma: number }>('emmett', {
        ...workload,
        concurrency,
      } satisfies Omit<EmmettRunOptions, 'file'> & { dir: string }),
    )
  const raw = (batch: number) =>
    timed(`raw better-sqlite3, ${batch} rows per transaction`, () =>
      runCase<RawAppendResult>('raw', { ...workload, batch }),
    )

  const statesourceConcurrent: StatesourceRunResult[] = []
  const statesourceSequential: StatesourceRunResult[] = []
  const raws: RawAppendResult[] = []
  const rawsInFlightBatch: RawAppendResult[] = []
  let emmettConcurrent: (CommandRunResult & { synchronousPragma: number }) | undefined
  let emmettSequential: (CommandRunResult & { synchronousPragma: number }) | undefined
  for (let round = 0; round < Math.max(1, sizes.rounds); round++) {
    raws.push(await raw(RAW_BATCH))
    rawsInFlightBatch.push(await raw(sizes.inFlight))
    statesourceConcurrent.push(await statesource(sizes.inFlight))
    if (round === 0) emmettConcurrent = await emmett(sizes.inFlight)
    statesourceSequential.push(await statesource(1))
    if (round === Math.min(1, sizes.rounds - 1)) emmettSequential = await emmett(1)
  }
  const journal = await timed('journal append vs raw (packages/sqlite/bench)', () =>
    runCase<JournalAppendResult>('journal', {
      ...workload,
      events: sizes.commands,
      inFlight: sizes.journalInFlight,
    }),
  )
  const recovery = await timed('recovery', () =>
    runCase<RecoveryResult>('recovery', {
      dir,
      synchronous: SYNCHRONOUS,
      aggregates: sizes.recoveryAggregates,
      eventsPerAggregate: sizes.recoveryEventsPerAggregate,
      bigAggregateEvents: sizes.bigAggregateEvents,
      concurrency: sizes.inFlight,
      repetitions: 5,
    }),
  )
  const memory = await timed('heap per live aggregate', () =>
    runCase<MemoryResult>(
      'memory',
      { dir, synchronous: SYNCHRONOUS, aggregates: sizes.liveAggregates, concurrency: sizes.inFlight },
      { exposeGc: true },
    ),
  )
  const readSide = await timed('read side', () =>
    runCase<ReadSideResult>('read-side', {
      dir,
      synchronous: SYNCHRONOUS,
      events: sizes.readSideEvents,
      streams: sizes.streams,
      liveSamples: sizes.liveLagSamples,
    }),
  )
  return {
    quick,
    sizes,
    statesourceConcurrent,
    statesourceSequential,
    emmettConcurrent: emmettConcurrent!,
    emmettSequential: emmettSequential!,
    raw: raws,
    rawInFlightBatch: rawsInFlightBatch,
    journal,
    recovery,
    memory,
    readSide,
  }
}
