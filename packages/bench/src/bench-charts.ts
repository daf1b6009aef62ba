import * as vega from 'vega'
import * as vl from 'vega-lite'
import type { BenchResults, BenchRun } from './bench-runner.ts'
import { median } from './bench-runner.ts'
import { peerNamed, SWEEP_PEERS } from './peers.ts'

/** One chart of the report: an SVG file written next to docs/benchmarks.md. */
export interface ChartFile {
  /** File name, relative to the docs directory. */
  readonly file: string
  readonly title: string
  readonly svg: string
}

const WIDTH = 560
const HEIGHT = 300

async function toSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** Median and range of the finite values (a round whose case failed has none). */
const stats = (values: readonly number[]) => {
  const finite = values.filter((v) => Number.isFinite(v))
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite) }
}

/**
 * The report's charts, drawn with Vega-Lite (rendered to SVG in Node, no browser): throughput against
 * commands in flight (medians with the min..max of the rounds), latency percentiles against load, and
 * throughput against journal size.
 *
 * @example
 * ```ts
 * for (const chart of await renderCharts(run, toResults(run))) writeFileSync(`docs/${chart.file}`, chart.svg)
 * ```
 */
export async function renderCharts(run: BenchRun, results: BenchResults): Promise<ChartFile[]> {
  const sweepRows: { side: string; concurrency: number; median: number; min: number; max: number }[] = []
  for (const c of run.sizes.concurrencies) {
    const rounds = run.sweep.filter((s) => s.concurrency === c)
    sweepRows.push({
      side: peerNamed('statesource').label,
      concurrency: c,
      ...stats(rounds.map((s) => s.statesource?.commandsPerSec ?? Number.NaN)),
    })
    sweepRows.push({
      side: 'storage limit, same rows per transaction (rows/s)',
      concurrency: c,
      ...stats(
        rounds.map(
          (s) =>
            s.raw.find((r) => r.batch === Math.max(1, Math.round(s.rowsPerTransaction)))?.rowsPerSec ??
            Number.NaN,
        ),
      ),
    })
    for (const { peer } of SWEEP_PEERS) {
      const runs = rounds
        .map((s) => s.peers[peer]?.commandsPerSec)
        .filter((v): v is number => v !== undefined)
      if (runs.length > 0) sweepRows.push({ side: peerNamed(peer).label, concurrency: c, ...stats(runs) })
    }
  }
  const throughput = await toSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Throughput against commands in flight (durable: WAL, synchronous=${run.synchronous})`,
      subtitle: `median and min..max of ${run.sizes.rounds} rounds, ${results.generated_at}`,
    },
    width: WIDTH,
    height: HEIGHT,
    // Sides that failed at a concurrency have no point there.
    data: { values: sweepRows.filter((row) => Number.isFinite(row.median)) },
    encoding: {
      x: {
        field: 'concurrency',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'commands in flight',
        axis: { values: [...run.sizes.concurrencies] },
      },
      color: { field: 'side', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2 } },
    },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          y: { field: 'median', type: 'quantitative', scale: { type: 'log' }, title: 'commands/s (log)' },
        },
      },
      {
        mark: { type: 'rule' },
        encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } },
      },
    ],
  })

  const latencyRows = run.latency.rates.flatMap((rate) =>
    (
      [
        ['p50', rate.p50Ms],
        ['p99', rate.p99Ms],
        ['p99.9', rate.p999Ms],
        ['max', rate.maxMs],
      ] as const
    ).map(([percentile, ms]) => ({
      load: Math.round(rate.fraction * 100),
      percentile,
      ms: Math.max(0.01, ms),
    })),
  )
  const latency = await toSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'statesource latency per command, open loop',
      subtitle: `percent of the maximum rate (${Math.round(run.latency.maxPerSec).toLocaleString('en-US')} cmd/s); HdrHistogram`,
    },
    width: WIDTH,
    height: HEIGHT,
    data: { values: latencyRows },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'load',
        type: 'quantitative',
        title: 'load (% of the maximum rate)',
        scale: { zero: false },
      },
      y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log)' },
      color: { field: 'percentile', type: 'nominal', sort: ['p50', 'p99', 'p99.9', 'max'], title: null },
    },
  })

  const scaleRows = [
    ...(run.scale.statesource?.windows ?? []).map((w) => ({
      side: `${peerNamed('statesource').label} (cmd/s)`,
      journalEvents: w.journalEvents,
      perSec: w.commandsPerSec,
    })),
    ...(run.scale.raw?.windows ?? []).map((w) => ({
      side: 'storage limit, same rows per transaction (rows/s)',
      journalEvents: w.journalEvents,
      perSec: w.rowsPerSec,
    })),
  ]
  const scale = await toSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Throughput against journal size',
      subtitle: `${run.sizes.scaleStreams.toLocaleString('en-US')} carts, 1,000 in flight; each point one window of ${run.sizes.scaleWindow.toLocaleString('en-US')} commands`,
    },
    width: WIDTH,
    height: HEIGHT,
    data: { values: scaleRows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'journalEvents', type: 'quantitative', title: 'events in the journal' },
      y: { field: 'perSec', type: 'quantitative', title: 'per second' },
      color: { field: 'side', type: 'nominal', title: null, legend: { orient: 'bottom' } },
    },
  })
  return [
    { file: 'bench-throughput.svg', title: 'Throughput against commands in flight', svg: throughput },
    { file: 'bench-latency.svg', title: 'Latency percentiles against load', svg: latency },
    { file: 'bench-scale.svg', title: 'Throughput against journal size', svg: scale },
  ]
}
