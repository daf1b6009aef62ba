import { describe, expect, it } from 'vitest'
import { renderCharts } from '../src/bench-charts.ts'
import { formatReport, REQUIRED_KEYS, toResults } from '../src/bench-report.ts'
import { type BenchRun, runBench } from '../src/bench-runner.ts'

describe('pnpm bench --quick', () => {
  it('runs every case and reports every required figure as a finite number, with the charts', async () => {
    // NORMAL: the smoke test checks that every case runs and reports, not figures; a loaded machine's slow
    // syncs would only stretch it.
    const snapshots: BenchRun[] = []
    const run = await runBench({
      quick: true,
      synchronous: 'NORMAL',
      onProgress: (r) => void snapshots.push(r),
    })
    // Every case ran: a failure would only be reported, so the smoke test looks for one.
    expect(run.failures).toEqual([])
    expect(run.complete).toBe(true)
    // The run so far was handed over before every case, growing, and marked incomplete.
    expect(snapshots.length).toBeGreaterThan(20)
    expect(snapshots.every((s) => !s.complete)).toBe(true)
    expect(snapshots[0]!.sweep).toEqual([])
    expect(snapshots[1]!.sweep[0]!.statesource).toBeDefined()
    expect(snapshots.at(-1)!.recovery.many).toBeDefined()
    const results = toResults(run)
    expect(results.failed_cases).toBe(0)
    for (const key of REQUIRED_KEYS) {
      expect(typeof results[key], key).toBe('number')
      expect(Number.isFinite(results[key]), key).toBe(true)
    }
    for (const value of Object.values(results)) expect(['number', 'string']).toContain(typeof value)
    // Every command of the workload was stored, by statesource and by Emmett: the comparison compares the same work.
    for (const c of run.sizes.concurrencies)
      expect(results[`stored_events_${c}`], `stored at ${c}`).toBe(run.sizes.commands)
    expect(results.emmett_durable_stored_events_100).toBe(run.sizes.peerCommands)
    // The storage limit wrote every row, at the rows per transaction statesource committed.
    for (const round of run.sweep)
      for (const raw of round.raw) expect(raw.storedRows).toBe(run.sizes.commands)
    // Cold recovery came from the snapshot and replayed exactly the worst tail.
    expect(results.recovery_100k_tail_snapshot_hits).toBe(1)
    expect(results.recovery_100k_tail_events_replayed).toBe(run.sizes.bigTail)
    expect(results.recovery_10k_snapshot_hits).toBe(run.sizes.recoveryAggregates)
    // The Zipf workload makes concurrent commands on hot carts conflict.
    expect(results.zipf_statesource_conflicts).toBeGreaterThan(0)
    const charts = await renderCharts(run, results)
    expect(charts.map((c) => c.file)).toEqual([
      'bench-throughput.svg',
      'bench-latency.svg',
      'bench-scale.svg',
    ])
    for (const chart of charts) expect(chart.svg).toMatch(/^<svg[^>]*>/)
    expect(formatReport(run, results, charts)).toContain(
      '![Throughput against commands in flight](bench-throughput.svg)',
    )
  })
})
