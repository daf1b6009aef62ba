// #region contract
import { describeJournalContract } from '@statesource/core/testing'
import { expect, it } from 'vitest'
import { ArrayJournal } from './journal.ts'
import { printedLines } from './print-lines.ts'

// Every test gets a fresh, empty journal. Pass a snapshotStore too, if you wrote one.
describeJournalContract('array journal', () => {
  const journal = new ArrayJournal()
  return { journal, readJournal: journal.readJournal({ pollIntervalMs: 20 }) }
})

// #endregion contract

// #region builders
import { appendRequest, newEvent } from '@statesource/core/testing'

// Your journal's own behaviour, beyond the contract: build appends with the suite's helpers.
it('keeps the tags of an event', async () => {
  const journal = new ArrayJournal()
  const [outcome] = await journal.append([
    appendRequest('account|a', [newEvent('deposited', { amount: 5 }, { tags: ['money'] })]),
  ])
  expect(outcome?.ok && outcome.envelopes[0]?.tags).toEqual(['money'])
})
// #endregion builders

it('journal concept: append, envelope, queries, delete, group commit and a custom journal', async () => {
  const { main } = await import('./journal.ts')
  expect(await printedLines({ main })).toEqual([
    'true true',
    '"account|a" is at version 2, expected 1. Reload the aggregate and retry the command.',
    'account|b seqNr 1, ordering 3',
    'deposited@1 {"amount":1} [money]',
    '[{"correlationId":"import-7"},1700000000000,"node-1"]',
    'account|a#1@1 account|a#2@2 account|b#1@3',
    'live account|b#2@4',
    'replay 2, highest 2',
    'next seqNr 3',
    '3 events in 1 transaction',
    'custom account|z#1@1',
  ])
})
