export { appendRequest, newEvent } from './builders.ts'
export { type AggregateSpec, given } from './given.ts'
export { describeJournalContract, type JournalUnderTest } from './journal-contract.ts'
