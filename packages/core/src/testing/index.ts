export { type AggregateSpec, given } from './given.ts'
export { describeJournalContract, type JournalUnderTest } from './journal-contract.ts'
