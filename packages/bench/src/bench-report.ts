import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type ChartFile, renderCharts } from './bench-charts.ts'
import type { BenchResults, BenchRun, SweepRound } from './bench-runner.ts'
import { median } from './bench-runner.ts'
import type { CommandCaseResult } from './cases/command-case.ts'
import { RAW_BATCH } from './cases/raw-case.ts'
import { peerNamed, SWEEP_PEERS } from './peers.ts'

/** The keys every run must produce as finite numbers (the issue's list; the smoke test checks them). */
export const REQUIRED_KEYS = [
  'e2e_vs_emmett_durable_100',
  'e2e_vs_storage_limit_same_rows',
  'cmds_per_s_1',
  'cmds_per_s_10',
  'cmds_per_s_100',
  'cmds_per_s_1000',
  'latency_p99_ms_at_50pct',
  'recovery_100k_tail_cold_ms',
  'heap_per_live_aggregate_bytes',
  'catchup_events_per_s',
  'live_lag_p99_ms_under_load',
  'cpu_us_per_command',
] as const

/** Where the generated charts and tables go in docs/benchmarks.md. */
export const MARKERS = { start: '<!-- bench:results:start -->', end: '<!-- bench:results:end -->' } as const

const round = (value: number, digits = 0) =>
  Number.isFinite(value) ? Number(value.toFixed(digits)) : Number.NaN
const int = (value: number | string | undefined) =>
  typeof value === 'number'
    ? Number.isFinite(value)
      ? Math.round(value).toLocaleString('en-US')
      : '—'
    : String(value ?? '—')
const num = (value: number | string | undefined, digits: number) =>
  typeof value === 'number' ? (Number.isFinite(value) ? value.toFixed(digits) : '—') : String(value ?? '—')
/** Whether a target was met; a figure that was not measured (its case failed) is no verdict. */
const verdict = (value: number, met: (value: number) => boolean) =>
  Number.isFinite(value) ? (met(value) ? 'met' : '**not met**') : 'not measured'

/** `median [min..max]` of the rounds, formatted. */
function spread(values: readonly number[], format: (v: number) => string = (v) => int(v)): string {
  if (values.length === 0) return '—'
  if (values.length === 1) return format(values[0]!)
  return `${format(median(values))} [${format(Math.min(...values))}..${format(Math.max(...values))}]`
}

/** The failures recorded under `key`, as a short cell text (`failed: …`), or undefined. */
function failedText(run: BenchRun, key: string): string | undefined {
  const failed = run.failures.filter((f) => f.key === key)
  if (failed.length === 0) return undefined
  const reason = failed[0]!.reason.split('\n')[0]!.replaceAll('|', '/')
  return `failed: ${reason.length > 90 ? `${reason.slice(0, 87)}...` : reason}`
}

/**
 * A table cell of the rounds that ran: `median [min..max]`; where none did, the reason its case failed
 * (`—` when it has not run yet); where some failed, how many.
 */
function cell(
  run: BenchRun,
  key: string,
  values: readonly number[],
  format: (v: number) => string = (v) => int(v),
): string {
  const finite = values.filter((v) => Number.isFinite(v))
  const failed = run.failures.filter((f) => f.key === key).length
  if (finite.length === 0) return failedText(run, key) ?? '—'
  return failed > 0 ? `${spread(finite, format)} (${failed} failed)` : spread(finite, format)
}

type MeasuredRound = SweepRound & { readonly statesource: CommandCaseResult }
const roundsOf = (sweep: readonly SweepRound[], concurrency: number) =>
  sweep.filter((s): s is MeasuredRound => s.concurrency === concurrency && s.statesource !== undefined)
const rawAt = (s: SweepRound, batch: number) => s.raw.find((r) => r.batch === batch)
const sameRowsBatch = (s: SweepRound) => Math.max(1, Math.round(s.rowsPerTransaction))
const peerRuns = (sweep: readonly SweepRound[], peer: string, concurrency: number) =>
  sweep
    .filter((s) => s.concurrency === concurrency)
    .map((s) => s.peers[peer])
    .filter((r): r is CommandCaseResult => r !== undefined)
/** statesource ÷ a peer, per round in which both ran. */
const peerRatios = (sweep: readonly SweepRound[], peer: string, concurrency: number) =>
  roundsOf(sweep, concurrency)
    .filter((s) => s.peers[peer] !== undefined)
    .map((s) => s.statesource.commandsPerSec / s.peers[peer]!.commandsPerSec)
const pairedRatios = (over: readonly number[], under: readonly number[]) =>
  over.map((v, i) => v / (under[i] ?? Number.NaN))
/** Per-round ratios where both sides ran every round, else the ratio of the medians. */
const ratioOf = (over: readonly number[], under: readonly number[]) =>
  over.length === under.length ? median(pairedRatios(over, under)) : median(over) / median(under)
const formatRounds = (ratios: readonly number[]) => ratios.map((r) => r.toFixed(2)).join(' ')
const writerUs = (r: CommandCaseResult) => r.cpuUsPerCommand.busiestOther

/**
 * Flattens a run into one object of figures: rates per second, times in milliseconds, ratios as plain
 * numbers (statesource ÷ baseline, the median of the per-round ratios). Medians over rounds, with `_min` and
 * `_max` beside the main rates.
 *
 * @example
 * ```ts
 * const results = toResults(await runBench({ quick: true }))
 * results.e2e_vs_emmett_durable_100 // e.g. 25.1
 * ```
 */
export function toResults(run: BenchRun): BenchResults {
  const { sizes, sweep } = run
  const r: BenchResults = {
    mode: run.quick ? 'quick' : 'full',
    generated_at: run.startedAt,
    run_seconds: round(run.seconds),
    node_version: process.version,
    cpu: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    synchronous: run.synchronous,
    sqlite_settings: `WAL, synchronous=${run.synchronous} (set explicitly on every connection)`,
    commands: sizes.commands,
    streams: sizes.streams,
    peer_commands: sizes.peerCommands,
    peer_streams: sizes.peerStreams,
    rounds: sizes.rounds,
    headline_in_flight: sizes.headline,
  }
  for (const c of sizes.concurrencies) {
    const rounds = roundsOf(sweep, c)
    const cmds = rounds.map((s) => s.statesource.commandsPerSec)
    r[`cmds_per_s_${c}`] = round(median(cmds))
    r[`cmds_per_s_${c}_min`] = round(Math.min(...cmds))
    r[`cmds_per_s_${c}_max`] = round(Math.max(...cmds))
    r[`events_per_s_${c}`] = round(median(rounds.map((s) => s.statesource.eventsPerSec)))
    r[`rows_per_txn_${c}`] = round(median(rounds.map((s) => s.rowsPerTransaction)), 1)
    const sameRows = rounds.map((s) => rawAt(s, sameRowsBatch(s))?.rowsPerSec ?? Number.NaN)
    const inFlight = rounds.map((s) => rawAt(s, c)?.rowsPerSec ?? Number.NaN)
    r[`storage_limit_same_rows_${c}`] = round(median(sameRows))
    r[`storage_limit_in_flight_${c}`] = round(median(inFlight))
    const vsSame = pairedRatios(
      rounds.map((s) => s.statesource.eventsPerSec),
      sameRows,
    )
    r[`e2e_vs_storage_limit_same_rows_${c}`] = round(median(vsSame), 3)
    r[`e2e_vs_storage_limit_same_rows_${c}_rounds`] = formatRounds(vsSame)
    r[`e2e_vs_storage_limit_in_flight_${c}`] = round(
      median(
        pairedRatios(
          rounds.map((s) => s.statesource.eventsPerSec),
          inFlight,
        ),
      ),
      3,
    )
    r[`cpu_main_us_${c}`] = round(median(rounds.map((s) => s.statesource.cpuUsPerCommand.main)), 1)
    r[`cpu_writer_us_${c}`] = round(median(rounds.map((s) => writerUs(s.statesource))), 1)
    r[`cpu_other_us_${c}`] = round(median(rounds.map((s) => s.statesource.cpuUsPerCommand.other)), 1)
    r[`first_contact_cmds_per_s_${c}`] = round(
      median(
        rounds.map((s) =>
          s.statesource.firstContact
            ? s.statesource.firstContact.commands / s.statesource.firstContact.seconds
            : Number.NaN,
        ),
      ),
    )
    r[`steady_cmds_per_s_${c}`] = round(median(rounds.map((s) => s.statesource.steadyCommandsPerSec)))
    r[`errors_${c}`] = rounds.reduce((sum, s) => sum + s.statesource.errors + s.statesource.warmUpErrors, 0)
    r[`stored_events_${c}`] = median(rounds.map((s) => s.statesource.storedEvents))
    for (const { peer } of SWEEP_PEERS) {
      const runs = peerRuns(sweep, peer, c)
      if (runs.length === 0) continue
      const key = peer.replaceAll('-', '_')
      r[`${key}_cmds_per_s_${c}`] = round(median(runs.map((p) => p.commandsPerSec)))
      r[`${key}_cmds_per_s_${c}_min`] = round(Math.min(...runs.map((p) => p.commandsPerSec)))
      r[`${key}_cmds_per_s_${c}_max`] = round(Math.max(...runs.map((p) => p.commandsPerSec)))
      r[`${key}_cpu_main_us_${c}`] = round(median(runs.map((p) => p.cpuUsPerCommand.main)), 1)
      r[`${key}_cpu_other_us_${c}`] = round(median(runs.map((p) => p.cpuUsPerCommand.other)), 1)
      r[`${key}_errors_${c}`] = runs.reduce((sum, p) => sum + p.errors + p.warmUpErrors, 0)
      r[`${key}_stored_events_${c}`] = median(runs.map((p) => p.storedEvents))
      const vs = peerRatios(sweep, peer, c)
      r[`e2e_vs_${key}_${c}`] = round(median(vs), 2)
      r[`e2e_vs_${key}_${c}_rounds`] = formatRounds(vs)
    }
  }
  const h = sizes.headline
  const headline = roundsOf(sweep, h)
  r.e2e_vs_emmett_durable_100 = r[`e2e_vs_emmett_durable_${h}`] ?? Number.NaN
  r.e2e_vs_storage_limit_same_rows = r[`e2e_vs_storage_limit_same_rows_${h}`] ?? Number.NaN
  r.e2e_vs_storage_limit_in_flight = r[`e2e_vs_storage_limit_in_flight_${h}`] ?? Number.NaN
  const raw1000 = headline.map((s) => rawAt(s, RAW_BATCH)?.rowsPerSec ?? Number.NaN)
  r.raw_1000_rows_per_s = round(median(raw1000))
  r.e2e_vs_raw_1000 = round(
    median(
      pairedRatios(
        headline.map((s) => s.statesource.eventsPerSec),
        raw1000,
      ),
    ),
    3,
  )
  r.emmett_durable_synchronous_pragma =
    peerRuns(sweep, 'emmett-durable', h)[0]?.counters.synchronousPragma ?? Number.NaN

  const shared = run.emmettShared.map((e) => e.commandsPerSec)
  r.emmett_shared_cmds_per_s_100 = round(median(shared))
  r.emmett_shared_errors = run.emmettShared.reduce((sum, e) => sum + e.errors, 0)
  r.e2e_vs_emmett_shared_100 = round(
    ratioOf(
      headline.map((s) => s.statesource.commandsPerSec),
      shared,
    ),
    2,
  )
  r.statesource_normal_cmds_per_s_100 = round(median(run.statesourceNormal.map((e) => e.commandsPerSec)))
  for (const peer of ['statesource-memory', 'emmett-memory']) {
    for (const c of [1, h]) {
      const runs = run.inMemory.filter((m) => m.peer === peer && m.concurrency === c)
      r[`${peer.replace('-', '_')}_cmds_per_s_${c}`] = round(median(runs.map((m) => m.commandsPerSec)))
      r[`${peer.replace('-', '_')}_cpu_main_us_${c}`] = round(
        median(runs.map((m) => m.cpuUsPerCommand.main)),
        1,
      )
    }
  }
  for (const kind of ['triple', 'zipf']) {
    for (const peer of ['statesource', 'emmett-durable']) {
      const runs = run.workloads.filter((w) => w.kind === kind && w.peer === peer)
      const key = `${kind}_${peer.replace('-', '_')}`
      r[`${key}_cmds_per_s`] = round(median(runs.map((w) => w.commandsPerSec)))
      r[`${key}_events_per_s`] = round(median(runs.map((w) => w.eventsPerSec)))
      r[`${key}_conflicts`] = round(median(runs.map((w) => w.conflicts)))
      r[`${key}_commands`] = runs[0]?.commands ?? 0
      r[`${key}_errors`] = runs.reduce((sum, w) => sum + w.errors, 0)
    }
  }

  r.max_cmds_per_s = round(run.latency.maxPerSec)
  for (const rate of run.latency.rates) {
    const pct = Math.round(rate.fraction * 100)
    r[`latency_target_per_s_at_${pct}pct`] = rate.targetPerSec
    r[`latency_achieved_per_s_at_${pct}pct`] = round(rate.achievedPerSec)
    r[`latency_p50_ms_at_${pct}pct`] = round(rate.p50Ms, 2)
    r[`latency_p99_ms_at_${pct}pct`] = round(rate.p99Ms, 2)
    r[`latency_p999_ms_at_${pct}pct`] = round(rate.p999Ms, 2)
    r[`latency_max_ms_at_${pct}pct`] = round(rate.maxMs, 2)
  }

  const NA = Number.NaN
  const scale = run.scale.statesource
  const scaleRaw = run.scale.raw
  r.scale_events = scale?.commands ?? NA
  r.scale_streams = scale?.streams ?? NA
  r.scale_cmds_per_s = round(scale?.commandsPerSec ?? NA)
  r.scale_first_contact_cmds_per_s = round(
    scale?.firstContact ? scale.firstContact.commands / scale.firstContact.seconds : NA,
  )
  r.scale_steady_cmds_per_s = round(scale?.steadyCommandsPerSec ?? NA)
  r.scale_rows_per_txn = round(scale ? scale.ok / Math.max(1, scale.counters.transactions ?? 1) : NA, 1)
  r.scale_storage_limit_rows_per_s = round(scaleRaw?.rowsPerSec ?? NA)
  r.scale_e2e_vs_storage_limit = round((scale?.eventsPerSec ?? NA) / (scaleRaw?.rowsPerSec ?? NA), 3)
  r.scale_last_window_cmds_per_s = round(scale?.windows.at(-1)?.commandsPerSec ?? NA)
  r.scale_storage_limit_last_window_rows_per_s = round(scaleRaw?.windows.at(-1)?.rowsPerSec ?? NA)

  const { big, bigNoSnapshot, many } = run.recovery
  r.recovery_big_events = sizes.bigEvents + sizes.bigTail
  r.recovery_100k_tail_cold_ms = round(big?.ms ?? NA, 2)
  r.recovery_100k_tail_snapshot_hits = big?.snapshotHits ?? NA
  r.recovery_100k_tail_events_replayed = big?.eventsReplayed ?? NA
  r.recovery_100k_tail_open_ms = round(big?.openMs ?? NA, 1)
  r.recovery_100k_no_snapshot_cold_ms = round(bigNoSnapshot?.ms ?? NA, 1)
  r.recovery_100k_no_snapshot_events_replayed = bigNoSnapshot?.eventsReplayed ?? NA
  r.recovery_10k_cold_ms = round(many?.ms ?? NA, 1)
  r.recovery_10k_aggregates = many?.aggregates ?? NA
  r.recovery_10k_snapshot_hits = many?.snapshotHits ?? NA
  r.recovery_10k_events_replayed = many?.eventsReplayed ?? NA

  const { memory, catchup, lag, journal } = run
  r.live_aggregates = memory?.aggregates ?? NA
  r.heap_per_live_aggregate_bytes = round(memory?.heapPerLiveAggregateBytes ?? NA)
  r.heap_growth_per_aggregate_bytes = round(memory?.heapGrowthPerAggregateBytes ?? NA)
  r.rss_per_live_aggregate_bytes = round(memory?.rssPerLiveAggregateBytes ?? NA)

  r.catchup_events = catchup?.events ?? NA
  r.catchup_events_per_s = round(catchup?.eventsPerSec ?? NA)
  r.catchup_events_per_cpu_s = round(catchup?.eventsPerCpuSec ?? NA)
  r.catchup_payload_bytes = round(catchup?.payloadBytes ?? NA)
  r.lag_load_per_s = lag?.perSec ?? NA
  r.lag_load_achieved_per_s = round(lag?.achievedPerSec ?? NA)
  r.live_lag_p50_ms_under_load = round(lag?.sameProcess.p50Ms ?? NA, 2)
  r.live_lag_p99_ms_under_load = round(lag?.sameProcess.p99Ms ?? NA, 2)
  r.live_lag_max_ms_under_load = round(lag?.sameProcess.maxMs ?? NA, 2)
  r.second_process_lag_p50_ms = round(lag?.secondProcess.p50Ms ?? NA, 2)
  r.second_process_lag_p99_ms = round(lag?.secondProcess.p99Ms ?? NA, 2)
  r.second_process_lag_max_ms = round(lag?.secondProcess.maxMs ?? NA, 2)
  r.second_process_poll_interval_ms = lag?.pollIntervalMs ?? NA

  r.cpu_us_per_command = round(
    median(headline.map((s) => s.statesource.cpuUsPerCommand.main + writerUs(s.statesource))),
    1,
  )
  // Where the time goes at the headline concurrency, from counters of the same runs (medians over rounds):
  // how busy each thread was, and how long a transaction took against the CPU the writer spent on it.
  const busy = (s: MeasuredRound, us: number) => (us * s.statesource.ok) / (s.statesource.seconds * 1e6)
  const transactions = (s: MeasuredRound) => Math.max(1, s.statesource.counters.transactions ?? 1)
  r.event_loop_busy_pct = round(
    median(headline.map((s) => 100 * busy(s, s.statesource.cpuUsPerCommand.main))),
    1,
  )
  r.writer_thread_busy_pct = round(median(headline.map((s) => 100 * busy(s, writerUs(s.statesource)))), 1)
  r.ms_per_transaction = round(
    median(headline.map((s) => (s.statesource.seconds * 1000) / transactions(s))),
    2,
  )
  r.writer_cpu_ms_per_transaction = round(
    median(headline.map((s) => (writerUs(s.statesource) * s.statesource.ok) / transactions(s) / 1000)),
    2,
  )
  r.storage_limit_ms_per_transaction = round(
    median(
      headline.map((s) => (1000 * sameRowsBatch(s)) / (rawAt(s, sameRowsBatch(s))?.rowsPerSec ?? Number.NaN)),
    ),
    2,
  )
  r.first_contact_share_pct = round(
    median(headline.map((s) => (100 * (s.statesource.firstContact?.seconds ?? 0)) / s.statesource.seconds)),
    1,
  )
  r.journal_append_vs_raw = journal?.journal_append_vs_raw ?? NA
  r.journal_rows_per_s = journal?.journal_rows_per_s ?? NA
  r.journal_raw_rows_per_s = journal?.raw_rows_per_s ?? NA
  // What did not run, and why (the tables show the same reasons where the figures would be).
  r.complete = run.complete ? 'yes' : 'no: the run was under way or stopped when this was written'
  r.failed_cases = run.failures.length
  r.failures = run.failures.map((f) => `${f.label}: ${f.reason.split('\n')[0]}`).join(' | ')
  return r
}

/** A Markdown table padded to aligned columns, the way the repository's formatter writes them. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    `| ${header.map((_, i) => (cells[i] ?? '').padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/**
 * The run as Markdown: the charts, the headline table (figures, baseline of the same run, ratio, durability,
 * target), then one table per measurement with medians and the spread over rounds.
 *
 * @example
 * ```ts
 * console.log(formatReport(run, toResults(run), []))
 * ```
 */
export function formatReport(run: BenchRun, r: BenchResults, charts: readonly ChartFile[]): string {
  const n = (key: string) => r[key] as number
  const { sizes, sweep } = run
  const h = sizes.headline
  const sync = run.synchronous
  const headline = roundsOf(sweep, h)
  const emmettDurable = peerRuns(sweep, 'emmett-durable', h)
  const durable = peerNamed('statesource').durability(sync)
  const out: string[] = []
  // A figure, or why it is missing (its case failed) where it would be.
  const fig = (value: number | string | undefined, key: string, format: (v: number) => string) =>
    typeof value === 'number' && Number.isFinite(value) ? format(value) : (failedText(run, key) ?? '—')
  const at = (key: string) => `${key}@${h}`
  if (!run.complete) {
    out.push(
      `**Partial results**: written while the run was under way (or after it stopped), ${int(r.run_seconds)} s after it started; the figures of cases that had not run yet show as —.`,
      '',
    )
  }
  for (const chart of charts) out.push(`![${chart.title}](${chart.file})`, '')

  out.push(
    table(
      [
        'measurement',
        'statesource',
        'baseline (same run)',
        'ratio (median, rounds)',
        'durability',
        'target',
        'target met?',
      ],
      [
        [
          `Commands/s, ${h} in flight, vs Emmett's best durable setup`,
          cell(
            run,
            at('statesource'),
            headline.map((s) => s.statesource.commandsPerSec),
          ),
          `Emmett durable: ${cell(
            run,
            at('emmett-durable'),
            emmettDurable.map((e) => e.commandsPerSec),
          )}`,
          `${num(r.e2e_vs_emmett_durable_100, 1)}× (${r[`e2e_vs_emmett_durable_${h}_rounds`] ?? ''})`,
          `both: ${durable}`,
          '≥ 10×',
          verdict(n('e2e_vs_emmett_durable_100'), (v) => v >= 10),
        ],
        [
          `Events/s end to end, ${h} in flight, vs the storage limit at the same rows per transaction (${num(r[`rows_per_txn_${h}`], 1)}, what statesource committed)`,
          cell(
            run,
            at('statesource'),
            headline.map((s) => s.statesource.eventsPerSec),
          ),
          `raw: ${cell(
            run,
            at('raw'),
            headline.map((s) => rawAt(s, sameRowsBatch(s))?.rowsPerSec ?? Number.NaN),
          )}`,
          `${num(r.e2e_vs_storage_limit_same_rows, 2)} (${r[`e2e_vs_storage_limit_same_rows_${h}_rounds`] ?? ''})`,
          `both: ${sync}`,
          '≥ 0.75',
          verdict(n('e2e_vs_storage_limit_same_rows'), (v) => v >= 0.75),
        ],
        [
          `Same, vs the storage limit at ${h} rows per transaction (the most ${h} in flight allow)`,
          cell(
            run,
            at('statesource'),
            headline.map((s) => s.statesource.eventsPerSec),
          ),
          `raw: ${cell(
            run,
            at('raw'),
            headline.map((s) => rawAt(s, h)?.rowsPerSec ?? Number.NaN),
          )}`,
          num(r.e2e_vs_storage_limit_in_flight, 2),
          `both: ${sync}`,
          '—',
          '—',
        ],
        [
          `Same, vs raw at ${RAW_BATCH} rows per transaction (context)`,
          cell(
            run,
            at('statesource'),
            headline.map((s) => s.statesource.eventsPerSec),
          ),
          `raw: ${cell(
            run,
            at('raw'),
            headline.map((s) => rawAt(s, RAW_BATCH)?.rowsPerSec ?? Number.NaN),
          )}`,
          num(r.e2e_vs_raw_1000, 2),
          `both: ${sync}`,
          '—',
          '—',
        ],
        [
          `Commands/s, ${h} in flight, vs Emmett's shared connection (**acknowledges before commit**)`,
          cell(
            run,
            at('statesource'),
            headline.map((s) => s.statesource.commandsPerSec),
          ),
          `Emmett shared: ${cell(
            run,
            'emmett-shared',
            run.emmettShared.map((e) => e.commandsPerSec),
          )}`,
          `${num(r.e2e_vs_emmett_shared_100, 1)}×`,
          `statesource: ${durable}; Emmett: acknowledges before commit`,
          '—',
          '—',
        ],
        [
          'Latency at 50 % of the maximum rate, p99 (ms)',
          fig(r.latency_p99_ms_at_50pct, 'latency@0.5', (v) => num(v, 2)),
          '',
          '',
          durable,
          '≤ 10 ms',
          verdict(n('latency_p99_ms_at_50pct'), (v) => v <= 10),
        ],
        [
          `Cold recovery of one aggregate of ${int(r.recovery_big_events)} events, snapshot + worst tail of ${sizes.bigTail} (ms)`,
          fig(r.recovery_100k_tail_cold_ms, 'recovery:big', (v) => num(v, 1)),
          `no snapshot: ${fig(r.recovery_100k_no_snapshot_cold_ms, 'recovery:big-no-snapshot', (v) => num(v, 0))}`,
          '',
          '—',
          '< 20 ms',
          verdict(n('recovery_100k_tail_cold_ms'), (v) => v < 20),
        ],
        [
          `Heap per live aggregate, ${int(r.live_aggregates)} live (bytes)`,
          fig(r.heap_per_live_aggregate_bytes, 'memory', int),
          '',
          '',
          '—',
          '< 5,000 B',
          verdict(n('heap_per_live_aggregate_bytes'), (v) => v < 5000),
        ],
        [
          `Catch-up of one reader over ${int(r.catchup_events)} events of ~${r.catchup_payload_bytes} B (events/s)`,
          fig(r.catchup_events_per_s, 'catchup', int),
          `per CPU second: ${fig(r.catchup_events_per_cpu_s, 'catchup', int)}`,
          '',
          '—',
          '≥ 200,000/s',
          verdict(n('catchup_events_per_s'), (v) => v >= 200_000),
        ],
        [
          `Live lag commit → subscriber, same process, under ${int(r.lag_load_per_s)} cmd/s, p99 (ms)`,
          fig(r.live_lag_p99_ms_under_load, 'lag', (v) => num(v, 2)),
          '',
          '',
          durable,
          '< 10 ms',
          verdict(n('live_lag_p99_ms_under_load'), (v) => v < 10),
        ],
        [
          `CPU per command, ${h} in flight: event loop + writer thread (µs)`,
          `${num(r.cpu_us_per_command, 1)} (${num(r[`cpu_main_us_${h}`], 1)} + ${num(r[`cpu_writer_us_${h}`], 1)})`,
          `Emmett durable: ${num(r[`emmett_durable_cpu_main_us_${h}`], 1)} + ${num(r[`emmett_durable_cpu_other_us_${h}`], 1)}`,
          '',
          '—',
          '—',
          '—',
        ],
      ],
    ),
  )

  out.push(
    '',
    `**Concurrency sweep** (commands/s, median [min..max] of ${sizes.rounds} rounds; events/s equal commands/s here):`,
    '',
  )
  const cs = sizes.concurrencies
  const sweepRows: string[][] = [
    [
      peerNamed('statesource').label,
      durable,
      ...cs.map((c) =>
        cell(
          run,
          `statesource@${c}`,
          roundsOf(sweep, c).map((s) => s.statesource.commandsPerSec),
        ),
      ),
    ],
    [
      'storage limit at the same rows per transaction (rows/s)',
      `same (${sync})`,
      ...cs.map((c) =>
        cell(
          run,
          `raw@${c}`,
          roundsOf(sweep, c).map((s) => rawAt(s, sameRowsBatch(s))?.rowsPerSec ?? Number.NaN),
        ),
      ),
    ],
    [
      'rows per transaction statesource committed',
      '',
      ...cs.map((c) =>
        spread(
          roundsOf(sweep, c).map((s) => s.rowsPerTransaction),
          (v) => v.toFixed(1),
        ),
      ),
    ],
    [
      'storage limit at rows per transaction = in flight (rows/s)',
      `same (${sync})`,
      ...cs.map((c) =>
        cell(
          run,
          `raw@${c}`,
          roundsOf(sweep, c).map((s) => rawAt(s, c)?.rowsPerSec ?? Number.NaN),
        ),
      ),
    ],
    [
      'statesource ÷ storage limit at the same rows',
      '',
      ...cs.map((c) => num(r[`e2e_vs_storage_limit_same_rows_${c}`], 2)),
    ],
  ]
  for (const { peer } of SWEEP_PEERS) {
    const def = peerNamed(peer)
    sweepRows.push([
      def.label,
      def.durability(sync),
      ...cs.map((c) =>
        cell(
          run,
          `${peer}@${c}`,
          peerRuns(sweep, peer, c).map((p) => p.commandsPerSec),
        ),
      ),
    ])
    sweepRows.push([
      `statesource ÷ ${def.label}`,
      '',
      ...cs.map((c) =>
        r[`e2e_vs_${peer.replaceAll('-', '_')}_${c}`] === undefined
          ? '—'
          : `${num(r[`e2e_vs_${peer.replaceAll('-', '_')}_${c}`], 1)}×`,
      ),
    ])
  }
  sweepRows.push([
    peerNamed('emmett-shared').label,
    '**acknowledges before commit**',
    ...cs.map((c) =>
      c === h
        ? cell(
            run,
            'emmett-shared',
            run.emmettShared.map((e) => e.commandsPerSec),
          )
        : '—',
    ),
  ])
  sweepRows.push([
    `${peerNamed('statesource').label}, NORMAL`,
    peerNamed('statesource').durability('NORMAL'),
    ...cs.map((c) =>
      c === h
        ? cell(
            run,
            'statesource-normal',
            run.statesourceNormal.map((e) => e.commandsPerSec),
          )
        : '—',
    ),
  ])
  out.push(table(['side', 'durability', ...cs.map((c) => `${c} in flight`)], sweepRows))

  out.push(
    '',
    `**Latency**, open loop (commands sent at a fixed rate whatever the replies; the maximum is ${int(r.max_cmds_per_s)} cmd/s, statesource's best closed-loop median above; HdrHistogram):`,
    '',
  )
  out.push(
    table(
      ['load', 'target cmd/s', 'achieved cmd/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
      sizes.loadFractions.map((fraction) => {
        const rate = run.latency.rates.find((x) => x.fraction === fraction)
        const load = `${Math.round(fraction * 100)} %`
        if (!rate) return [load, failedText(run, `latency@${fraction}`) ?? '—', '', '', '', '', '']
        return [
          load,
          int(rate.targetPerSec),
          int(rate.achievedPerSec),
          num(rate.p50Ms, 2),
          num(rate.p99Ms, 2),
          num(rate.p999Ms, 2),
          num(rate.maxMs, 2),
        ]
      }),
    ),
  )

  const ours = (value: number | string | undefined) => fig(value, 'scale', int)
  const limit = (value: number | string | undefined) => fig(value, 'scale-raw', int)
  out.push(
    '',
    `**Scale**: ${int(sizes.scaleCommands)} commands over ${int(sizes.scaleStreams)} carts, 1,000 in flight, into one journal:`,
    '',
  )
  out.push(
    table(
      ['phase', 'statesource cmd/s', 'storage limit rows/s (same rows per transaction)'],
      [
        [
          `first contact (each cart's first command, ${int(sizes.scaleStreams)} commands)`,
          ours(r.scale_first_contact_cmds_per_s),
          '',
        ],
        ['steady state (the rest)', ours(r.scale_steady_cmds_per_s), ''],
        [
          'whole run',
          ours(r.scale_cmds_per_s),
          `${limit(r.scale_storage_limit_rows_per_s)} at ${num(r.scale_rows_per_txn, 1)} rows per transaction`,
        ],
        [
          `last ${int(sizes.scaleWindow)} (journal at ${int(sizes.scaleCommands)})`,
          ours(r.scale_last_window_cmds_per_s),
          limit(r.scale_storage_limit_last_window_rows_per_s),
        ],
      ],
    ),
  )

  out.push('', `**Workloads**, ${h} in flight (${sizes.rounds} rounds each, median):`, '')
  const workloadRow = (kind: string, label: string) =>
    ['statesource', 'emmett-durable'].map((peer) => {
      const key = `${kind}_${peer.replace('-', '_')}`
      return [
        label,
        peerNamed(peer).label,
        int(r[`${key}_commands`]),
        fig(r[`${key}_cmds_per_s`], `${kind}/${peer}`, int),
        int(r[`${key}_events_per_s`]),
        int(r[`${key}_conflicts`]),
      ]
    })
  out.push(
    table(
      ['workload', 'side', 'commands', 'cmd/s', 'events/s', 'version conflicts'],
      [
        [
          '1 event of ~220 B',
          peerNamed('statesource').label,
          int(sizes.commands),
          int(r[`cmds_per_s_${h}`]),
          int(r[`events_per_s_${h}`]),
          '0',
        ],
        [
          '1 event of ~220 B',
          peerNamed('emmett-durable').label,
          int(sizes.peerCommands),
          int(r[`emmett_durable_cmds_per_s_${h}`]),
          int(r[`emmett_durable_cmds_per_s_${h}`]),
          '0',
        ],
        ...workloadRow('triple', '3 events of ~340 B (~1 KB)'),
        ...workloadRow('zipf', 'Zipf(0.99) over 1,000 carts, expectedVersion'),
      ],
    ),
  )

  out.push('', '**Recovery, cold** (each in a fresh process; the OS page cache is not dropped):', '')
  out.push(
    table(
      ['what', 'ms', 'snapshot hits', 'events replayed'],
      [
        [
          `1 aggregate, ${int(r.recovery_big_events)} events, snapshot every ${int(sizes.snapshotEvery)}, tail ${sizes.bigTail}`,
          fig(r.recovery_100k_tail_cold_ms, 'recovery:big', (v) => num(v, 1)),
          int(r.recovery_100k_tail_snapshot_hits),
          int(r.recovery_100k_tail_events_replayed),
        ],
        [
          'same aggregate, no snapshot store',
          fig(r.recovery_100k_no_snapshot_cold_ms, 'recovery:big-no-snapshot', (v) => num(v, 1)),
          '0',
          int(r.recovery_100k_no_snapshot_events_replayed),
        ],
        [
          `${int(sizes.recoveryAggregates)} passivated aggregates (${sizes.recoveryEventsPerAggregate} events + snapshot + tails of 1–${sizes.recoveryMaxTail}), ${h} in flight`,
          fig(r.recovery_10k_cold_ms, 'recovery:many', (v) => num(v, 0)),
          int(r.recovery_10k_snapshot_hits),
          int(r.recovery_10k_events_replayed),
        ],
      ],
    ),
  )

  out.push('', '**Read side**:', '')
  out.push(
    table(
      ['what', 'p50 ms', 'p99 ms', 'max ms'],
      [
        [
          `lag commit → subscriber, same process, under ${int(r.lag_load_achieved_per_s)} cmd/s`,
          fig(r.live_lag_p50_ms_under_load, 'lag', (v) => num(v, 2)),
          num(r.live_lag_p99_ms_under_load, 2),
          num(r.live_lag_max_ms_under_load, 2),
        ],
        [
          `lag commit → subscriber, second process polling every ${r.second_process_poll_interval_ms} ms`,
          fig(r.second_process_lag_p50_ms, 'lag', (v) => num(v, 2)),
          num(r.second_process_lag_p99_ms, 2),
          num(r.second_process_lag_max_ms, 2),
        ],
      ],
    ),
  )

  out.push(
    '',
    `**CPU per command** (µs, ${h} in flight, median; "other threads": the writer thread or driver threads plus V8's helpers):`,
    '',
  )
  const cpuRows: string[][] = [
    [
      peerNamed('statesource').label,
      num(r[`cpu_main_us_${h}`], 1),
      `${num(r[`cpu_writer_us_${h}`], 1)} (writer thread)`,
      num(r[`cpu_other_us_${h}`], 1),
    ],
  ]
  for (const { peer } of SWEEP_PEERS) {
    const runs = peerRuns(sweep, peer, h)
    cpuRows.push([
      peerNamed(peer).label,
      num(median(runs.map((p) => p.cpuUsPerCommand.main)), 1),
      num(median(runs.map((p) => p.cpuUsPerCommand.busiestOther)), 1),
      num(median(runs.map((p) => p.cpuUsPerCommand.other)), 1),
    ])
  }
  for (const peer of ['statesource-memory', 'emmett-memory']) {
    const runs = run.inMemory.filter((m) => m.peer === peer && m.concurrency === h)
    cpuRows.push([
      peerNamed(peer).label,
      num(median(runs.map((m) => m.cpuUsPerCommand.main)), 1),
      num(median(runs.map((m) => m.cpuUsPerCommand.busiestOther)), 1),
      num(median(runs.map((m) => m.cpuUsPerCommand.other)), 1),
    ])
  }
  out.push(table(['side', 'event loop', 'busiest other thread', 'all other threads'], cpuRows))

  out.push('', '**In memory** (no I/O; the framework alone), commands/s:', '')
  out.push(
    table(
      ['side', '1 in flight', `${h} in flight`],
      ['statesource-memory', 'emmett-memory'].map((peer) => [
        peerNamed(peer).label,
        ...[1, h].map((c) =>
          cell(
            run,
            `${peer}@${c}`,
            run.inMemory.filter((m) => m.peer === peer && m.concurrency === c).map((m) => m.commandsPerSec),
          ),
        ),
      ]),
    ),
  )

  out.push('', ...whereTheTimeGoes(r, h))
  if (run.failures.length > 0) {
    out.push(
      '',
      `**Failed cases** (${run.failures.length}; the run went on without them):`,
      '',
      ...run.failures.map(
        (f) =>
          `- ${f.label}: ${f.reason.split('\n').slice(0, 4).join(' ').replaceAll('|', '/').slice(0, 400)}`,
      ),
    )
  }

  const stored = (runs: readonly CommandCaseResult[]) =>
    [...new Set(runs.map((x) => x.storedEvents))].map((v) => int(v)).join('/')
  out.push(
    '',
    `- Run: ${r.mode} mode, started ${r.generated_at}, ${int(r.run_seconds)} s, Node ${r.node_version}, ${r.cpu}; every SQLite file ${r.sqlite_settings}; Emmett's \`PRAGMA synchronous\` read back: ${r.emmett_durable_synchronous_pragma} (2 = FULL).`,
    `- Workloads: statesource, the storage limit and the in-memory peers ${int(sizes.commands)} commands over ${int(sizes.streams)} carts; the peers that run one command at a time ${int(sizes.peerCommands)} over ${int(sizes.peerStreams)} (the same 20 commands per cart, so the same stream lengths). ${run.quick ? 'Quick mode ran the cases in one process' : 'Every case ran in its own process'}, ${sizes.rounds} round(s), all peers and concurrencies interleaved in each round; ratios are the median of per-round ratios.`,
    `- Stored events counted afterwards: statesource ${cs.map((c) => stored(roundsOf(sweep, c).map((s) => s.statesource))).join(', ')} (per concurrency); failed commands: statesource ${cs.map((c) => r[`errors_${c}`]).join(', ')}; ${SWEEP_PEERS.map(({ peer }) => `${peerNamed(peer).label} ${cs.map((c) => r[`${peer.replaceAll('-', '_')}_errors_${c}`] ?? '—').join(', ')}`).join('; ')}; Emmett shared connection ${r.emmett_shared_errors}.`,
    `- Journal append alone (packages/sqlite/bench, ${int(sizes.journalEvents)} events, ${sizes.journalInFlight} concurrent appends) vs raw at 1,000 rows per transaction: ${num(r.journal_append_vs_raw, 2)} (${int(r.journal_rows_per_s)} vs ${int(r.journal_raw_rows_per_s)} rows/s).`,
  )
  return `${out.join('\n')}\n`
}

/**
 * For each target the run missed, what its own counters say about where the time went (no guesses: every
 * figure is measured in the same run).
 */
function whereTheTimeGoes(r: BenchResults, h: number): string[] {
  const n = (key: string) => r[key] as number
  const lines: string[] = [
    '**Where the time goes** (counters of the same runs, medians; for every target missed):',
    '',
  ]
  const missed: string[] = []
  // A target missed by a measured figure (a figure whose case failed is listed under the failed cases).
  const miss = (key: string, met: (value: number) => boolean) => Number.isFinite(n(key)) && !met(n(key))
  if (
    miss('e2e_vs_storage_limit_same_rows', (v) => v >= 0.75) ||
    miss('e2e_vs_emmett_durable_100', (v) => v >= 10)
  ) {
    missed.push(
      `- Throughput at ${h} in flight: a transaction of ${num(r[`rows_per_txn_${h}`], 1)} events took ${num(r.ms_per_transaction, 2)} ms end to end, of which the writer thread spent ${num(r.writer_cpu_ms_per_transaction, 2)} ms on CPU (inserts, commit); the rest of the writer's time (busy ${num(r.writer_thread_busy_pct, 0)} %) is waiting for the sync of the WAL and for the next batch. The storage limit took ${num(r.storage_limit_ms_per_transaction, 2)} ms per transaction of the same size. The event loop was busy ${num(r.event_loop_busy_pct, 0)} % of the run (${num(r[`cpu_main_us_${h}`], 1)} µs per command: gateway, XState, encoding, replies); the first contact with each cart (creating and recovering its aggregate) took ${num(r.first_contact_share_pct, 0)} % of the run.`,
    )
  }
  if (miss('latency_p99_ms_at_50pct', (v) => v <= 10)) {
    missed.push(
      `- Latency at 50 % of the maximum: p50 ${num(r.latency_p50_ms_at_50pct, 2)} ms, p99 ${num(r.latency_p99_ms_at_50pct, 2)} ms against ${num(r.ms_per_transaction, 2)} ms per group-commit transaction at ${h} in flight: a command waits for the transaction in progress, then for its own (two commits at worst); the tail beyond that is stalls of the event loop or of the sync (the p99.9 and max columns).`,
    )
  }
  if (miss('recovery_100k_tail_cold_ms', (v) => v < 20)) {
    missed.push(
      `- Cold recovery: ${int(r.recovery_100k_tail_events_replayed)} events replayed after ${int(r.recovery_100k_tail_snapshot_hits)} snapshot hit in ${num(r.recovery_100k_tail_cold_ms, 1)} ms, in a process whose code had not run before (the journal read, JSON decoding and XState folding are compiled on first use); the whole journal without a snapshot took ${num(r.recovery_100k_no_snapshot_cold_ms, 0)} ms for ${int(r.recovery_100k_no_snapshot_events_replayed)} events.`,
    )
  }
  if (miss('heap_per_live_aggregate_bytes', (v) => v < 5000)) {
    missed.push(
      `- Heap: ${int(r.heap_per_live_aggregate_bytes)} B per live aggregate (RSS growth ${int(r.rss_per_live_aggregate_bytes)} B).`,
    )
  }
  if (miss('catchup_events_per_s', (v) => v >= 200_000)) {
    missed.push(
      `- Catch-up: ${int(r.catchup_events)} events of ~${r.catchup_payload_bytes} B of JSON each, read, decoded and folded on one thread at ${int(r.catchup_events_per_s)} events/s, ${int(r.catchup_events_per_cpu_s)} per second of the process's CPU time (its rate when it has a core to itself).`,
    )
  }
  if (miss('live_lag_p99_ms_under_load', (v) => v < 10)) {
    missed.push(
      `- Live lag: p50 ${num(r.live_lag_p50_ms_under_load, 2)} ms, p99 ${num(r.live_lag_p99_ms_under_load, 2)} ms from commit to the same-process subscriber under ${int(r.lag_load_achieved_per_s)} cmd/s: the commit signal and the read of the new rows wait behind the event loop's command work (busy ${num(r.event_loop_busy_pct, 0)} % at ${h} in flight).`,
    )
  }
  return missed.length === 0 ? [] : [...lines, ...missed]
}

/**
 * Writes the charts into `docsDir`, the report into `docsPath` between {@link MARKERS} (the text around them
 * is kept) and, given `jsonPath`, the flat results into that file (replacing it).
 *
 * @example
 * ```ts
 * await writeReport(run, results, { docsPath: 'docs/benchmarks.md', jsonPath: 'bench-results.json' })
 * ```
 */
export async function writeReport(
  run: BenchRun,
  results: BenchResults,
  paths: { readonly docsPath: string; readonly jsonPath?: string },
): Promise<ChartFile[]> {
  const page = readFileSync(paths.docsPath, 'utf8')
  const start = page.indexOf(MARKERS.start)
  const end = page.indexOf(MARKERS.end)
  if (start < 0 || end < start) {
    throw new Error(
      `${paths.docsPath} has no "${MARKERS.start}" … "${MARKERS.end}" pair; add them where the report goes.`,
    )
  }
  const charts = await renderCharts(run, results)
  for (const chart of charts) writeFileSync(path.join(path.dirname(paths.docsPath), chart.file), chart.svg)
  const report = formatReport(run, results, charts)
  writeFileSync(paths.docsPath, `${page.slice(0, start + MARKERS.start.length)}\n${report}${page.slice(end)}`)
  if (paths.jsonPath) writeFileSync(paths.jsonPath, `${JSON.stringify(results, null, 2)}\n`)
  return charts
}
