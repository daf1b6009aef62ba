import { describe, expect, it } from 'vitest'
import { DEFAULT_SHARD_COUNT, lockNamespace, shardOf } from '../src/shard.ts'

describe('shardOf', () => {
  it('is 32-bit FNV-1a over UTF-8 bytes: the published test vectors fix it across processes and versions', () => {
    // FNV-1a 32 of "" is 0x811c9dc5 and of "a" is 0xe40c292c (the reference test vectors).
    expect(shardOf('', 2 ** 31 - 1)).toBe(0x811c9dc5 % (2 ** 31 - 1))
    expect(shardOf('a', 2 ** 31 - 1)).toBe(0xe40c292c % (2 ** 31 - 1))
    expect(shardOf('', DEFAULT_SHARD_COUNT)).toBe(453)
    expect(shardOf('a')).toBe(300)
    expect(shardOf('counter|c-1')).toBe(604)
    expect(shardOf('counter|é✓')).toBe(60)
    expect(shardOf('counter|c-1', 7)).toBe(4)
  })

  it('spreads ids over every shard', () => {
    const counts = new Array<number>(DEFAULT_SHARD_COUNT).fill(0)
    for (let i = 0; i < 100_000; i++) counts[shardOf(`order|${i}`)]!++
    expect(Math.min(...counts)).toBeGreaterThan(40)
    expect(Math.max(...counts)).toBeLessThan(160)
  })

  it('gives each cluster name its own positive 31-bit lock namespace', () => {
    const a = lockNamespace('orders')
    expect(a).toBe(lockNamespace('orders'))
    expect(a).not.toBe(lockNamespace('billing'))
    expect(a).toBeGreaterThanOrEqual(0)
    expect(a).toBeLessThan(2 ** 31)
  })
})
