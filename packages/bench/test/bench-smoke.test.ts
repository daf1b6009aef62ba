import { describe, expect, it } from 'vitest'
import { REQUIRED_KEYS, formatTable, toResults } from '../src/bench-report.ts'
import { runBench } from '../src/bench-runner.ts'

describe('pnpm bench --quick', () => {
  it('runs every case in its own process and reports every required figure as a finite number', async () => {
    const run = await runBench({ quick: true })
    const results = toResults(run)
    for (const key of REQUIRED_KEYS) {
      expect(typeof results[key], key).toBe('number')
      expect(Number.isFinite(results[key]), key).toBe(true)
    }
    for (const value of Object.values(results)) expect(['number', 'string']).toContain(typeof value)
    // Every command of the workload was stored by both sides: the comparison compares the same work.
    expect(results.statesource_c100_stored_events).toBe(run.sizes.commands)
    expect(results.emmett_seq_stored_events).toBe(run.sizes.commands)
    expect(results.raw_stored_rows).toBe(run.sizes.commands)
    expect(results.recovery_10k_snapshot_hits).toBe(run.sizes.recoveryAggregates)
    expect(formatTable(results)).toMatch(/^\| measurement +\| statesource +\|/)
  })
})
