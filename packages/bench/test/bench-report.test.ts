import { describe, expect, it } from 'vitest'
import { renderCharts } from '../src/bench-charts.ts'
import { formatReport, toResults } from '../src/bench-report.ts'
import { type BenchRun, QUICK_SIZES, runCaseIn } from '../src/bench-runner.ts'
import type { RawAppendRun } from '../src/cases/raw-case.ts'

/** A run that stopped early: the first statesource run failed, nothing after the sweep's first case ran. */
const stopped: BenchRun = {
  quick: false,
  sizes: QUICK_SIZES,
  synchronous: 'FULL',
  startedAt: '2026-01-01T00:00:00.000Z',
  seconds: 12,
  complete: false,
  failures: [
    {
      key: 'statesource@1',
      label: 'round 1/1: statesource, 1 in flight',
      reason: 'Benchmark case "command" timed out after 330 s and was stopped.',
    },
    {
      key: 'recovery:big',
      label: 'recovery, cold: big',
      reason:
        'Benchmark case "recovery-cold" failed (exit 1). Its output ends with:\nError: disk full | really',
    },
  ],
  sweep: [{ concurrency: 1, statesource: undefined, rowsPerTransaction: Number.NaN, raw: [], peers: {} }],
  emmettShared: [],
  statesourceNormal: [],
  inMemory: [],
  workloads: [],
  latency: { maxPerSec: Number.NaN, rates: [] },
  scale: {},
  recovery: {},
}

describe('the report of a run that is incomplete or has failed cases', () => {
  it('shows each failed case with its reason where its figure would be, and lists the failures', () => {
    const report = formatReport(stopped, toResults(stopped), [])
    expect(report).toContain('**Partial results**')
    // The sweep's cell of the failed run, and the cold recovery row, carry the reason.
    expect(report).toContain('failed: Benchmark case "command" timed out after 330 s and was stopped.')
    expect(report).toContain('failed: Benchmark case "recovery-cold" failed (exit 1). Its output ends with:')
    expect(report).toContain('**Failed cases** (2; the run went on without them):')
    expect(report).toContain('- recovery, cold: big: Benchmark case "recovery-cold" failed (exit 1).')
    // A pipe in a reason would break the Markdown table.
    expect(report).not.toContain('disk full | really')
    // Targets whose figures are missing get no verdict.
    expect(report).toContain('not measured')
    expect(report).not.toContain('**not met**')
  })

  it('flattens what was measured, with missing figures as NaN and the failures named', async () => {
    const results = toResults(stopped)
    expect(results.failed_cases).toBe(2)
    expect(String(results.failures)).toContain('round 1/1: statesource, 1 in flight: Benchmark case')
    expect(String(results.complete)).toMatch(/^no/)
    expect(results.cmds_per_s_1).toBeNaN()
    expect(results.recovery_100k_tail_cold_ms).toBeNaN()
    // JSON has no NaN: a missing figure is written as null.
    expect(JSON.parse(JSON.stringify(results)).catchup_events_per_s).toBeNull()
    const charts = await renderCharts(stopped, results)
    for (const chart of charts) expect(chart.svg).toMatch(/^<svg[^>]*>/)
  })
})

describe('a case in a process of its own', () => {
  it('returns the result line the child process printed', async () => {
    const [run] = await runCaseIn<RawAppendRun[]>(
      'raw',
      { synchronous: 'NORMAL', workload: { commands: 200, streams: 10, warmUp: 40 }, batches: [50] },
      { timeoutSeconds: 120 },
    )
    expect(run?.storedRows).toBe(200)
  })

  it('is stopped and rejects when it outlives its time limit', async () => {
    const started = performance.now()
    await expect(
      runCaseIn(
        'command',
        { peer: 'statesource', workload: { commands: 1, streams: 1 } },
        { timeoutSeconds: 0.2 },
      ),
    ).rejects.toThrow('Benchmark case "command" timed out after 0.2 s and was stopped.')
    expect(performance.now() - started).toBeLessThan(30_000)
  })
})
