// Join tokens: mint for one identity, redeem a bounded number of times, uses kept on disk.
export {
  JoinTokens,
  MIN_TOKEN_TTL_MS,
  MAX_TOKEN_TTL_MS,
  MAX_TOKEN_USES,
  type MintRequest,
  type MintedToken,
  type RedeemErrorKind,
  type RedeemError,
  type RedeemedToken,
  type RedeemOptions,
  type JoinTokensOptions,
} from './join-tokens.js';
export { TOKEN_PREFIX } from './format.js';
