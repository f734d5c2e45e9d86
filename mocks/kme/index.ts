// The mock KME pair: ETSI GS QKD 014 V1.1.1 KMEs A and B over mutual TLS, sharing a simulated QKD link and
// a KMS↔KMS link, with switchable field deviations. See docs/mock-kme.md.
export { startMockPair, type MockPair, type MockPairOptions, type KmeEndpoint } from './pair.ts';
export { startMockKme, type SingleMockKme, type MockKmeOptions } from './single.ts';
export type { CommonOptions } from './setup.ts';
export { DEVIATIONS, DEVIATION_NAMES, isDeviation, type DeviationName } from './deviations.ts';
export { parseDeviations, UnknownDeviationError } from './deviation-switch.ts';
export { MockConfigSchema, parseMockConfig, loadMockConfig, ConfigError, type MockConfig, type MockConfigInput } from './config.ts';
export { MESSAGES } from './errors.ts';
export { SAE_HEADER } from './kme.ts';
export type { KmeName } from './registry.ts';
export { stderrLog, silentLog, type LogSink } from './request-log.ts';
