/**
 * The name codec moved to `../dns/name.ts` (one copy for messages and zones alike); these
 * re-exports keep the zone files that still import from here working under their old names.
 */

export { compareBytes } from '../dns/bytes.js';
export {
  MAX_NAME_LEN as MAX_NAME,
  canonicalKey,
  compareNames,
  countLabels,
  isLowerName,
  lowerName,
  lowerNameInPlace,
  nameEquals as namesEqual,
  nameFromText,
  parseNameInto,
  wireNameLength,
} from '../dns/name.js';
