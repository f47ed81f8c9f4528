export { Validator, type ValidationResult, type ValidationState, type ValidatorOptions, type ValidateOptions } from './validator.js';
export type { KeyFetcher, KeyResponse } from './chain.js';
export { KeyCache, type KeyCacheOptions, type KeyEntry } from './key-cache.js';
export { BogusCache, DEFAULT_BOGUS_TTL, type BogusCacheOptions } from './bogus-cache.js';
export { NegativeTrustAnchors, type NegativeTrustAnchor } from './negative-anchors.js';
export { DEFAULT_LIMITS, type ValidationLimits, type BudgetLimit } from './budget.js';
export { EDE, EDE_OPTION_CODE, edeOption, type Ede } from './ede.js';
export { stripDnssec, setAuthenticData } from './answer.js';
export { parseTrustAnchors, parseTrustAnchor, anchorFor, type TrustAnchor } from '../zone/trust-anchor.js';
