// TokenReview (authentication.k8s.io/v1) as the Identity service's check of a pod's service-account token.
import type { AuthenticationV1Api } from '@kubernetes/client-node';
import type { TokenReviewer } from '../identity/index.js';
import { describeApiError } from './api-error.js';

export function tokenReviewer(api: AuthenticationV1Api, audience: string): TokenReviewer {
  return {
    audience,
    async review(token) {
      // Audiences set: the API server checks the token was minted for us, not for itself or another service.
      const review = await api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } } }).catch((error: unknown) => {
        throw new Error(describeApiError(error));
      });
      const status = review.status;
      return { authenticated: status?.authenticated === true, username: status?.user?.username ?? '', audiences: status?.audiences ?? [], error: status?.error ?? '' };
    },
  };
}
