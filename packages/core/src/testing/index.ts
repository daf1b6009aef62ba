export { describeJournalContract, type JournalUnderTest } from './journal-contract.ts'
export { given, type AggregateSpec } from './given.ts'
