import { expect, it } from 'vitest'
import { runCatchupBench } from '../../bench/read-side-bench.ts'

it('runs the catch-up benchmark end to end on a small journal', async () => {
  const result = await runCatchupBench({ events: 20_000, eventsPerStream: 500, liveSamples: 20 })
  expect(result.catchup_events_per_s).toBeGreaterThan(0)
  expect(result.live_lag_p99_ms).toBeGreaterThanOrEqual(result.live_lag_p50_ms)
})
