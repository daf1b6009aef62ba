import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import type { BenchResults, BenchRun } from './bench-runner.ts'
import { RAW_BATCH } from './cases/raw-case.ts'
import { SYNCHRONOUS } from './sqlite-settings.ts'

/** The keys every run must produce as finite numbers (the smoke test checks them). */
export const REQUIRED_KEYS = [
  'e2e_vs_emmett',
  'e2e_vs_raw',
  'e2e_vs_raw_at_in_flight',
  'journal_append_vs_raw',
  'recovery_100k_snapshot_ms',
  'heap_per_live_aggregate_bytes',
  'catchup_events_per_s',
  'live_lag_p99_ms',
] as const

/** Where the generated table goes in docs/benchmarks.md. */
export const MARKERS = { start: '<!-- bench:results:start -->', end: '<!-- bench:results:end -->' } as const

/** `over[i] / under[i]` for each round (both sides of a round ran one right after the other). */
function pairedRatios(over: readonly number[], under: readonly number[]): number[] {
  return over.map((value, i) => value / (under[i] ?? Number.NaN))
}

const eventRates = (runs: readonly { eventsPerSec: number }[]) => runs.map((r) => r.eventsPerSec)
const rowRates = (runs: readonly { rowsPerSec: number }[]) => runs.map((r) => r.rowsPerSec)
const formatRounds = (ratios: readonly number[]) => ratios.map((r) => r.toFixed(2)).join(' ')

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const byRate = <T extends { commandsPerSec?: number; rowsPerSec?: number }>(runs: readonly T[]): T => {
  const sorted = [...runs].sort(
    (a, b) => (a.commandsPerSec ?? a.rowsPerSec ?? 0) - (b.commandsPerSec ?? b.rowsPerSec ?? 0),
  )
  return sorted[Math.floor(sorted.length / 2)]!
}

const round = (value: number, digits = 0) => Number(value.toFixed(digits))

/**
 * Flattens a run into one object of figures: rates per second, times in milliseconds, ratios as plain
 * numbers (statesource ÷ baseline). For the statesource and raw cases the median run is used.
 *
 * @example
 * ```ts
 * const results = toResults(await runBench({ quick: true }))
 * results.e2e_vs_emmett // e.g. 12.3
 * ```
 */
export function toResults(run: BenchRun): BenchResults {
  const ssC = byRate(run.statesourceConcurrent)
  const ssS = byRate(run.statesourceSequential)
  const raw = byRate(run.raw)
  const rawAtInFlight = byRate(run.rawInFlightBatch)
  const e2eVsRaw = pairedRatios(eventRates(run.statesourceConcurrent), rowRates(run.raw))
  const e2eVsRawAtInFlight = pairedRatios(
    eventRates(run.statesourceConcurrent),
    rowRates(run.rawInFlightBatch),
  )
  const rawAtInFlightVsRaw = pairedRatios(rowRates(run.rawInFlightBatch), rowRates(run.raw))
  const em = run.emmettConcurrent
  const emS = run.emmettSequential
  const lagFromReadSide = run.readSide.liveLagP99Ms !== undefined
  return {
    mode: run.quick ? 'quick' : 'full',
    generated_at: new Date().toISOString(),
    node_version: process.version,
    cpu: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    sqlite_settings: `WAL, synchronous=${SYNCHRONOUS}`,
    commands: run.sizes.commands,
    streams: run.sizes.streams,
    in_flight: run.sizes.inFlight,
    journal_in_flight: run.sizes.journalInFlight,
    rounds: run.sizes.rounds,
    statesource_c100_cmd_per_s: round(ssC.commandsPerSec),
    statesource_c100_events_per_s: round(ssC.eventsPerSec),
    statesource_c100_errors: ssC.errors,
    statesource_c100_warm_up_errors: ssC.warmUpErrors,
    statesource_c100_stored_events: ssC.storedEvents,
    statesource_c100_transactions: ssC.transactions,
    statesource_c100_mean_batch: round(ssC.ok / Math.max(1, ssC.transactions), 1),
    statesource_seq_cmd_per_s: round(ssS.commandsPerSec),
    statesource_seq_errors: ssS.errors,
    statesource_seq_stored_events: ssS.storedEvents,
    emmett_c100_cmd_per_s: round(em.commandsPerSec),
    emmett_c100_errors: em.errors,
    emmett_c100_warm_up_errors: em.warmUpErrors,
    emmett_c100_stored_events: em.storedEvents,
    emmett_seq_cmd_per_s: round(emS.commandsPerSec),
    emmett_seq_errors: emS.errors,
    emmett_seq_stored_events: emS.storedEvents,
    emmett_synchronous_pragma: em.synchronousPragma,
    // Ratios keep their full precision here and are rounded once, in the table.
    e2e_vs_emmett: ssC.commandsPerSec / em.commandsPerSec,
    e2e_vs_emmett_sequential: ssS.commandsPerSec / emS.commandsPerSec,
    raw_batch: RAW_BATCH,
    raw_rows_per_s: round(raw.rowsPerSec),
    raw_stored_rows: raw.storedRows,
    // Paired per round (both raw runs come right before statesource in each round), so drift of a shared
    // machine between rounds does not enter the ratio; the median of the rounds is reported.
    e2e_vs_raw: medianOf(e2eVsRaw),
    e2e_vs_raw_rounds: formatRounds(e2eVsRaw),
    // Raw with as many rows per transaction as there are commands in flight: no design that answers each
    // command after its commit can put more events into one transaction at that concurrency.
    raw_at_in_flight_rows_per_s: round(rawAtInFlight.rowsPerSec),
    raw_at_in_flight_stored_rows: rawAtInFlight.storedRows,
    raw_at_in_flight_vs_raw: medianOf(rawAtInFlightVsRaw),
    raw_at_in_flight_vs_raw_rounds: formatRounds(rawAtInFlightVsRaw),
    e2e_vs_raw_at_in_flight: medianOf(e2eVsRawAtInFlight),
    e2e_vs_raw_at_in_flight_rounds: formatRounds(e2eVsRawAtInFlight),
    journal_raw_rows_per_s: run.journal.raw_rows_per_s,
    journal_rows_per_s: run.journal.journal_rows_per_s,
    journal_append_vs_raw: run.journal.journal_append_vs_raw,
    journal_mean_batch: run.journal.journal_mean_batch,
    recovery_aggregates: run.recovery.aggregates,
    recovery_events_per_aggregate: run.recovery.eventsPerAggregate,
    recovery_10k_no_snapshot_ms: round(run.recovery.manyNoSnapshotMs, 1),
    recovery_10k_snapshot_ms: round(run.recovery.manySnapshotMs, 1),
    recovery_10k_snapshot_hits: run.recovery.manySnapshotHits,
    recovery_big_aggregate_events: run.recovery.bigAggregateEvents,
    recovery_100k_no_snapshot_ms: round(run.recovery.bigNoSnapshotMs, 2),
    recovery_100k_snapshot_ms: round(run.recovery.bigSnapshotMs, 2),
    live_aggregates: run.memory.aggregates,
    heap_per_live_aggregate_bytes: round(run.memory.heapPerLiveAggregateBytes),
    heap_growth_per_aggregate_bytes: round(run.memory.heapGrowthPerAggregateBytes),
    rss_per_live_aggregate_bytes: round(run.memory.rssPerLiveAggregateBytes),
    heap_used_mb_live: round(run.memory.heapUsedMb, 1),
    catchup_events: run.readSide.events,
    catchup_events_per_s: round(run.readSide.catchupEventsPerSec),
    catchup_source: run.readSide.source,
    live_lag_p50_ms: lagFromReadSide ? run.readSide.liveLagP50Ms! : run.journal.live_lag_p50_ms,
    live_lag_p99_ms: lagFromReadSide ? run.readSide.liveLagP99Ms! : run.journal.live_lag_p99_ms,
    live_lag_source: lagFromReadSide ? 'core/bench/read-side-bench.ts' : 'sqlite/bench/journal-bench.ts',
  }
}

const int = (value: number | string | undefined) =>
  typeof value === 'number' ? Math.round(value).toLocaleString('en-US') : String(value)
const num = (value: number | string | undefined, digits: number) =>
  typeof value === 'number' ? value.toFixed(digits) : String(value)
const verdict = (met: boolean) => (met ? 'met' : '**not met**')

/**
 * The results as a Markdown table: absolute figures, the baseline measured in the same run, the ratio, the
 * target and whether it was met; then the run's settings and checks.
 *
 * @example
 * ```ts
 * console.log(formatTable(toResults(run)))
 * ```
 */
export function formatTable(r: BenchResults): string {
  const n = (key: string) => r[key] as number
  const commands = `${int(r.commands)} commands over ${int(r.streams)} carts`
  const rows: string[][] = [
    [
      `Commands/s, ${r.in_flight} in flight (${commands})`,
      int(r.statesource_c100_cmd_per_s),
      `Emmett: ${int(r.emmett_c100_cmd_per_s)}`,
      `${num(r.e2e_vs_emmett, 1)}×`,
      '≥ 10× Emmett',
      verdict(n('e2e_vs_emmett') >= 10),
    ],
    [
      `Commands/s, sequential (${commands})`,
      int(r.statesource_seq_cmd_per_s),
      `Emmett: ${int(r.emmett_seq_cmd_per_s)}`,
      `${num(r.e2e_vs_emmett_sequential, 1)}×`,
      '—',
      '—',
    ],
    [
      `Events/s end to end, ${r.in_flight} in flight, vs raw better-sqlite3 inserts of the same rows (${r.raw_batch} per transaction)`,
      int(r.statesource_c100_events_per_s),
      `raw: ${int(r.raw_rows_per_s)}`,
      num(r.e2e_vs_raw, 2),
      '≥ 0.50 of raw (perf baseline)',
      verdict(n('e2e_vs_raw') >= 0.5),
    ],
    [
      `Events/s end to end, ${r.in_flight} in flight, vs raw at ${r.in_flight} rows per transaction (the most ${r.in_flight} commands in flight can share one)`,
      int(r.statesource_c100_events_per_s),
      `raw ${r.in_flight}/txn: ${int(r.raw_at_in_flight_rows_per_s)}`,
      num(r.e2e_vs_raw_at_in_flight, 2),
      '—',
      '—',
    ],
    [
      `Journal append rows/s, group commit, ${r.journal_in_flight} concurrent appends (raw: ${r.raw_batch} rows per transaction) (packages/sqlite/bench)`,
      int(r.journal_rows_per_s),
      `raw: ${int(r.journal_raw_rows_per_s)}`,
      num(r.journal_append_vs_raw, 2),
      '≥ 0.60 of raw',
      verdict(n('journal_append_vs_raw') >= 0.6),
    ],
    [
      `Recovery of ${int(r.recovery_aggregates)} passivated aggregates × ${r.recovery_events_per_aggregate} events, no snapshots (ms)`,
      int(r.recovery_10k_no_snapshot_ms),
      '',
      '',
      '—',
      '—',
    ],
    [
      `Recovery of ${int(r.recovery_aggregates)} passivated aggregates, from snapshots (ms)`,
      int(r.recovery_10k_snapshot_ms),
      `no snapshots: ${int(r.recovery_10k_no_snapshot_ms)}`,
      num(n('recovery_10k_snapshot_ms') / n('recovery_10k_no_snapshot_ms'), 2),
      '—',
      '—',
    ],
    [
      `Recovery of 1 aggregate with ${int(r.recovery_big_aggregate_events)} events, no snapshot (ms)`,
      num(r.recovery_100k_no_snapshot_ms, 1),
      '',
      '',
      '—',
      '—',
    ],
    [
      `Recovery of 1 aggregate with ${int(r.recovery_big_aggregate_events)} events, from its snapshot (ms)`,
      num(r.recovery_100k_snapshot_ms, 2),
      `no snapshot: ${num(r.recovery_100k_no_snapshot_ms, 1)}`,
      '',
      '< 20 ms',
      verdict(n('recovery_100k_snapshot_ms') < 20),
    ],
    [
      `Heap per live aggregate, ${int(r.live_aggregates)} live (bytes)`,
      int(r.heap_per_live_aggregate_bytes),
      '',
      '',
      '< 5,000 B',
      verdict(n('heap_per_live_aggregate_bytes') < 5000),
    ],
    [
      `Read side: catch-up of one reader over ${int(r.catchup_events)} stored events (events/s)`,
      int(r.catchup_events_per_s),
      '',
      '',
      '≥ 200,000/s (perf baseline)',
      verdict(n('catchup_events_per_s') >= 200_000),
    ],
    [
      'Read side: live lag, commit to subscriber, p50 / p99 (ms)',
      `${num(r.live_lag_p50_ms, 2)} / ${num(r.live_lag_p99_ms, 2)}`,
      '',
      '',
      '—',
      '—',
    ],
  ]
  const header = ['measurement', 'statesource', 'baseline (same run)', 'ratio', 'target', 'target met?']
  // Padded to aligned columns, the way the repository's formatter (Biome) writes Markdown tables.
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  const table = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
  const checks = [
    `- Run: ${r.mode} mode, ${r.generated_at}, Node ${r.node_version}, ${r.cpu}; every SQLite file ${r.sqlite_settings}.`,
    `- Each case ran in its own child process. statesource and raw ran ${r.rounds} time(s) interleaved with the Emmett runs (median shown); Emmett ran once per concurrency. Each ratio against raw is the median of the per-round ratios (both raw runs came right before statesource in each round), so it need not equal the ratio of the two medians shown: end to end over raw at ${r.raw_batch} rows per transaction ${r.e2e_vs_raw_rounds}; end to end over raw at ${r.in_flight} ${r.e2e_vs_raw_at_in_flight_rounds}; raw at ${r.in_flight} over raw at ${r.raw_batch} ${r.raw_at_in_flight_vs_raw_rounds} (median ${num(r.raw_at_in_flight_vs_raw, 2)}).`,
    `- Stored events (counted in the database afterwards): statesource ${int(r.statesource_c100_stored_events)} (${r.in_flight} in flight) and ${int(r.statesource_seq_stored_events)} (sequential); Emmett ${int(r.emmett_c100_stored_events)} and ${int(r.emmett_seq_stored_events)}; raw ${int(r.raw_stored_rows)} (${r.raw_batch} per transaction) and ${int(r.raw_at_in_flight_stored_rows)} (${r.in_flight} per transaction).`,
    `- Failed commands: statesource ${r.statesource_c100_errors} / ${r.statesource_seq_errors}; Emmett ${r.emmett_c100_errors} / ${r.emmett_seq_errors} (${r.in_flight} in flight / sequential); in the warm-up at ${r.in_flight} in flight: statesource ${r.statesource_c100_warm_up_errors}, Emmett ${r.emmett_c100_warm_up_errors}. Emmett's \`PRAGMA synchronous\` read back: ${r.emmett_synchronous_pragma} (2 = FULL).`,
    `- statesource's journal committed the ${r.in_flight}-in-flight run in ${int(r.statesource_c100_transactions)} transactions (${r.statesource_c100_mean_batch} events each on average).`,
    `- Snapshot recovery: ${int(r.recovery_10k_snapshot_hits)} of ${int(r.recovery_aggregates)} aggregates came back from a snapshot.`,
    `- Heap cross-check: heap growth from before the first command ${int(r.heap_growth_per_aggregate_bytes)} B per aggregate; RSS growth ${int(r.rss_per_live_aggregate_bytes)} B; total heap with all live ${r.heap_used_mb_live} MB.`,
    `- Catch-up measured by ${r.catchup_source}; live lag by ${r.live_lag_source}.`,
  ]
  return `${table}\n\n${checks.join('\n')}\n`
}

/**
 * Writes the table into `docsPath` between {@link MARKERS} (the text around them is kept) and the flat
 * results into `jsonPath`.
 *
 * @example
 * ```ts
 * writeReport(results, 'docs/benchmarks.md', 'bench-results.json')
 * ```
 */
export function writeReport(results: BenchResults, docsPath: string, jsonPath: string): void {
  const page = readFileSync(docsPath, 'utf8')
  const start = page.indexOf(MARKERS.start)
  const end = page.indexOf(MARKERS.end)
  if (start < 0 || end < start) {
    throw new Error(
      `${docsPath} has no "${MARKERS.start}" … "${MARKERS.end}" pair; add them where the table goes.`,
    )
  }
  const updated = `${page.slice(0, start + MARKERS.start.length)}\n${formatTable(results)}${page.slice(end)}`
  writeFileSync(docsPath, updated)
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`)
}
